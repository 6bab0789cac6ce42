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


def test_no_separator_runs_here_with_every_arg_for_the_script() -> None:
    assert r("bash", "run.sh", "-n", "5") == ["bash", "--local", "--", "run.sh", "-n", "5"]


SEPARATOR_TABLE = [
    # (command line, what Click sees)
    (("python", "t.py"), ["python", "--local", "--", "t.py"]),
    (("python", "t.py", "--lr", "1"), ["python", "--local", "--", "t.py", "--lr", "1"]),
    (("exec", "./a", "x", "+", "-"), ["exec", "--local", "--", "./a", "x", "+", "-"]),
    (("python", "t.py", "--"), ["python", "--", "t.py"]),
    (("python", "t.py", "a", "--", "-n", "2"), ["python", "-n", "2", "--", "t.py", "a"]),
    (("python", "t.py", "++"), ["python", "--simulate", "--", "t.py"]),
    (
        ("python", "t.py", "--lr", "1", "++", "--suspend_seconds", "30", "--life_state", "5"),
        ["python", "--simulate", "--suspend_seconds", "30", "--life_state", "5", "--", "t.py",
         "--lr", "1"],
    ),
    (
        ("python", "t.py", "++", "-ss", "2.5", "-ls=7", "--suspend-seconds=1"),
        ["python", "--simulate", "--suspend_seconds", "2.5", "--life_state", "7",
         "--suspend_seconds", "1", "--", "t.py"],
    ),
    # the first separator decides; what follows `++` is never the platform's
    (("python", "t.py", "++", "--life_state", "--"), ["python", "--simulate", "--life_state", "--",
                                                      "--", "t.py"]),
    # options before FILE are the platform's: they mean a submission
    (("python", "-n", "2", "t.py", "x"), ["python", "-n", "2", "--", "t.py", "x"]),
]  # fmt: skip


def test_separators_table() -> None:
    for argv, expected in SEPARATOR_TABLE:
        assert r(*argv) == expected, argv


def test_what_plus_plus_cannot_take_is_named() -> None:
    import re

    import pytest

    from hai_cli.argv import BadSeparator, MissingValue

    for argv, message in (
        (("python", "t.py", "++", "-n", "2"), "unknown option after ++: '-n'"),
        (("python", "t.py", "++", "--", "-n"), "unknown option after ++: '--'"),
        (("python", "t.py", "++", "30"), "unknown option after ++: '30'"),
        (("python", "-p", "HIGH", "t.py", "++"), "platform options (-p) submit a task"),
    ):
        with pytest.raises(BadSeparator, match=re.escape(message)):
            r(*argv)
    with pytest.raises(MissingValue, match="option -ss needs a value"):
        r("python", "t.py", "++", "-ss")


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
