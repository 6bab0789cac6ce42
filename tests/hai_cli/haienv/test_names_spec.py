"""Pure parts of haienv: names, references, specs (errors name the line and the key)."""

from __future__ import annotations

import pytest

from hai_cli.haienv.errors import BadInput
from hai_cli.haienv.names import check_name, parse_ref, ref
from hai_cli.haienv.spec import SpecError, key_line, parse_spec


@pytest.mark.parametrize("name", ["a", "py311", "torch-2.1_cu12", "x+y", "A" * 64, "1env"])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("a/b", "bad environment name"),
        ("..", "bad environment name"),
        ("a..b", "bad environment name"),
        ("my env", "bad environment name"),
        ("a" * 65, "65 characters"),
        ("-x", "bad environment name"),
        (".hidden", "bad environment name"),
        ("a\x00b", "bad environment name"),
        ("a\nb", "bad environment name"),
        ("x=1", "bad environment name"),
        ("naïve", "bad environment name"),
    ],
)
def test_bad_names(name: str, why: str) -> None:
    with pytest.raises(BadInput, match=why):
        check_name(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("torch", ("torch", None)),
        ("torch[bob]", ("torch", "bob")),
        ("base[platform]", ("base", "platform")),
        ("t[_svc]", ("t", "_svc")),
    ],
)
def test_parse_ref(text: str, expected: tuple[str, str | None]) -> None:
    assert parse_ref(text) == expected
    assert ref(*expected) == text


@pytest.mark.parametrize("text", ["t[]", "t[a/b]", "[bob]", "t[bob", "t[[bob]]", "t[b..b]"])
def test_bad_refs(text: str) -> None:
    with pytest.raises(BadInput):
        parse_ref(text)


GOOD = """
name = "base"
python = "3.11"
packages = ["hai_basepkg"]
search_dirs = ["/opt/lib"]
no_index = true

[environment]
OMP_NUM_THREADS = "4"
"""


def test_spec_parses() -> None:
    spec = parse_spec(GOOD, "base.toml")
    assert (spec.name, spec.python, spec.packages, spec.no_index) == (
        "base", "3.11", ("hai_basepkg",), True,
    )  # fmt: skip
    assert spec.search_dirs == ("/opt/lib",)
    assert spec.environment == {"OMP_NUM_THREADS": "4"}
    assert parse_spec("", "x.toml", default_name="x").name == "x"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "a"\npackages = "numpy"\n', r"^s.toml:2: key 'packages' must be a list"),
        ('name = "a"\n\npython = 3.11\n', r"^s.toml:3: key 'python' must be a version"),
        ('name = "a b"\n', r"^s.toml:1: key 'name' is bad"),
        ('nmae = "a"\n', r"^s.toml:1: key 'nmae' is not a spec key"),
        ('name = "a"\nno_index = "yes"\n', r"^s.toml:2: key 'no_index' must be true or false"),
        ('name = "a"\n[environment]\n1X = "v"\n', r"^s.toml:2: key 'environment' has a bad"),
        ('name = "a"\nsearch_dirs = ["rel"]\n', r"^s.toml:2: key 'search_dirs' must list absolute"),
        ('name = "a"\npackages = [\n', r"^s.toml:2: not valid TOML"),
        ('name = "a"\nx = = 1\npython = "3"\n', r"^s.toml:2: not valid TOML: .*line 2"),
        ("python = '3.11'\n", r"^s.toml: key 'name' is missing"),
    ],
)
def test_spec_errors_name_line_and_key(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(text, "s.toml")


def test_key_line() -> None:
    assert key_line('a = 1\n  "b" = 2\n[c]\n', "b") == 2
    assert key_line('a = 1\n  "b" = 2\n[c]\n', "c") == 3
    assert key_line("a = 1\n", "zz") is None


def test_repo_specs_parse() -> None:
    from pathlib import Path

    specs = sorted((Path(__file__).resolve().parents[3] / "environments").glob("*.toml"))
    assert specs, "environments/ holds the base specs"
    for path in specs:
        assert parse_spec(path.read_text(), str(path), path.stem).name == path.stem
