"""The shared input rules (hai_cli.validate), table by table: each bad value is refused with a
message naming the field and the problem; each good one comes back unchanged."""

from __future__ import annotations

import pytest

from hai_cli import validate as check

BAD_ARGV = [
    (["echo", "a\x00b"], "argv[1] contains a NUL byte"),
    ([], "non-empty list"),
    ("echo hi", "non-empty list"),
    (["echo", 3], "argv[1] must be a string"),
    ([""], "argv[0] (the program) must not be empty"),
    (["echo", "x" * 1_000_000], "argv[1] is 1000000 bytes long; at most 131071"),
    (["x"] * (check.MAX_ARGV + 1), f"at most {check.MAX_ARGV}"),
    (["echo"] + ["y" * 100_000] * 6, "bytes in all; at most 524288"),
    (["echo", "\udcff"], "argv[1] is not valid Unicode text"),
]


@pytest.mark.parametrize(("value", "message"), BAD_ARGV)
def test_bad_argv(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        check.argv(value)
    assert message in str(info.value)


def test_good_argv_keeps_what_a_shell_may_pass() -> None:
    # newlines, tabs and escapes are legitimate in arguments (bash -c scripts, printf formats)
    argv = ["bash", "-c", "printf '\\e[1m%s\\n' \"$1\"\nexit 0", "\tx", "\x1b[31mred", "é中"]
    assert check.argv(argv) == argv
    assert check.argv(["x" * check.MAX_ARG_BYTES]) == ["x" * check.MAX_ARG_BYTES]


BAD_NAMES = [
    ("a\x1b]0;pwned\x07", "U+001B"),
    ("a\u009bb", "U+009B"),
    ("evil\u202etxt.exe", "U+202E"),
    ("zero\u200bwidth", "U+200B"),
    ("line\u2028sep", "U+2028"),
    ("tab\there", "U+0009"),
    ("new\nline", "U+000A"),
    ("", "must not be empty"),
    ("   ", "must not be empty"),
    ("x" * 256, "256 characters long; at most 255"),
    ("\ud800", "U+D800"),
    (7, "must be a string"),
]


@pytest.mark.parametrize(("value", "message"), BAD_NAMES)
def test_bad_display_names(value: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        check.display_name("name", value)  # type: ignore[arg-type]
    assert str(info.value).startswith("name ") and message in str(info.value)


@pytest.mark.parametrize("value", ["train.py", "résumé run 3", "训练-任务", "a b", "x" * 255])
def test_good_display_names(value: str) -> None:
    assert check.display_name("name", value) == value


BAD_ENV = [
    ({"1A": "x"}, "bad environment variable name '1A'"),
    ({"A-B": "x"}, "bad environment variable name 'A-B'"),
    ({"": "x"}, "bad environment variable name ''"),
    ({"A": "x\x00y"}, "environment variable A contains a NUL byte"),
    ({"A": 3}, "environment variable A must be a string"),
    ({"A": "v" * 40_000}, "40000 bytes long; at most 32768"),
    ({f"K{i}": "v" for i in range(check.MAX_ENV + 1)}, f"at most {check.MAX_ENV}"),
    ({f"K{i}": "v" * 30_000 for i in range(10)}, "bytes in all; at most 262144"),
    (["A=1"], "env must be an object"),
]


@pytest.mark.parametrize(("value", "message"), BAD_ENV)
def test_bad_env(value: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        check.env(value)
    assert message in str(info.value)


def test_good_env() -> None:
    env = {"A": "1", "_B2": "multi\nline \x1b ok", "LANG": "C.UTF-8"}
    assert check.env(env) == env


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("relative/dir", "absolute path"),
        ("/tmp/a\x00b", "U+0000"),
        ("/tmp/a\x1bb", "U+001B"),
        ("/" + "d" * 5000, "5001 bytes long; at most 4095"),
        (None, "absolute path"),
    ],
)
def test_bad_workdir(value: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        check.workdir(value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("value", "low", "high", "message"),
    [
        (0, 1, 10, "between 1 and 10, got 0"),
        (2**63, 1, 10, "got 9223372036854775808"),
        (True, 0, 1, "whole number"),
        (1.5, 0, 10, "whole number"),
        ("3", 0, 10, "whole number"),
    ],
)
def test_bad_whole_numbers(value: object, low: int, high: int, message: str) -> None:
    with pytest.raises(ValueError) as info:
        check.whole("nodes", value, low, high)
    assert str(info.value).startswith("nodes must") and message in str(info.value)


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf"), 1e308, "5", True])
def test_bad_seconds(value: object) -> None:
    with pytest.raises(ValueError, match="suspend_after must be"):
        check.seconds("suspend_after", value, check.MAX_SUSPEND_AFTER_S)


def test_good_numbers() -> None:
    assert check.whole("nodes", 3, 1, 10) == 3
    assert check.seconds("suspend_after", 0, 10) == 0.0
    assert check.seconds("suspend_after", 2.5, 10) == 2.5


@pytest.mark.parametrize("value", ["", "a b", "img\x00", "-rf", "x" * 600, "a\nb"])
def test_bad_images(value: str) -> None:
    with pytest.raises(ValueError, match="bad image"):
        check.image(value)


@pytest.mark.parametrize(
    "value", ["python:3.11", "ghcr.io/org/img:tag", "reg:5000/a/b@sha256:" + "0" * 64]
)
def test_good_images(value: str) -> None:
    assert check.image(value) == value


def test_kind() -> None:
    assert [check.kind(k) for k in check.KINDS] == list(check.KINDS)
    with pytest.raises(ValueError, match="kind must be one of python, bash, exec"):
        check.kind("ruby")


def test_program_path_refuses_what_json_cannot_carry() -> None:
    assert check.program_path("/tmp/ok é.py") == "/tmp/ok é.py"
    bad = b"/tmp/caf\xe9.py".decode("utf-8", "surrogateescape")  # what os.fsdecode gives
    with pytest.raises(ValueError, match=r"b'/tmp/caf\\xe9.py' is not valid UTF-8"):
        check.program_path(bad)
