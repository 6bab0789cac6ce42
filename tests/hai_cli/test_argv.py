from hai_cli.argv import reorder
from hai_cli.commands.submit import VALUE_OPTIONS


def r(*argv: str) -> list[str]:
    return reorder(list(argv), VALUE_OPTIONS)


def test_platform_options_after_double_dash_move_before_the_file() -> None:
    assert r("python", "train.py", "--lr", "0.1", "--", "-n", "2", "-p", "HIGH") == [
        "python",
        "-n",
        "2",
        "-p",
        "HIGH",
        "--",
        "train.py",
        "--lr",
        "0.1",
    ]


def test_options_before_file_keep_working() -> None:
    assert r("python", "-n", "2", "--json", "t.py", "-x", "--", "-f") == [
        "python",
        "-n",
        "2",
        "--json",
        "-f",
        "--",
        "t.py",
        "-x",
    ]


def test_no_double_dash_means_all_args_belong_to_the_script() -> None:
    assert r("bash", "run.sh", "-n", "5") == ["bash", "--", "run.sh", "-n", "5"]


def test_second_double_dash_goes_to_the_script() -> None:
    assert r("python", "t.py", "--", "-n", "1", "--", "x") == [
        "python",
        "-n",
        "1",
        "--",
        "x",
        "--",
        "t.py",
    ]


def test_other_commands_and_help_are_untouched() -> None:
    assert r("list", "--json") == ["list", "--json"]
    assert r("python", "--help") == ["python", "--help"]
    assert r("python", "-n=2", "t.py") == ["python", "-n=2", "--", "t.py"]


def test_a_value_option_without_its_value_is_named() -> None:
    import pytest

    from hai_cli.argv import MissingValue

    for argv in (
        ("python", "t.py", "--", "-p"),
        ("python", "t.py", "--", "-n", "2", "--name"),
        ("python", "-p", "--", "t.py"),
        ("python", "-g"),
    ):
        with pytest.raises(MissingValue) as info:
            r(*argv)
        assert str(info.value) == f"option {argv[-1] if argv[-1] != 't.py' else '-p'} needs a value"
