"""Process-tree tracking of the rank wrapper: the pure parts, table-tested."""

import pytest

from hai_cli.proctree import parent_of, tree_below


@pytest.mark.parametrize(
    ("stat", "ppid"),
    [
        (b"123 (python3) S 45 123 123 0 -1", 45),
        (b"7 (a b) R 1 7 7 0 -1", 1),  # a name with a space
        (b"8 (x) (y)) S 99 8 8 0 -1", 99),  # a name with parens: the last ')' ends it
        (b"9 ()) Z 3 9 9 0 -1", 3),
    ],
)
def test_parent_of_reads_the_field_after_the_name(stat: bytes, ppid: int) -> None:
    assert parent_of(stat) == ppid


@pytest.mark.parametrize(
    ("links", "root", "expected"),
    [
        ({}, 1, []),
        ({2: 1, 3: 1, 4: 2}, 1, [2, 3, 4]),
        ({2: 1, 3: 2, 4: 3, 5: 99}, 2, [3, 4]),  # 5 is someone else's
        ({2: 1, 3: 2, 2_000_000: 3}, 1, [2, 3, 2_000_000]),
        ({2: 3, 3: 2}, 1, []),  # a cycle not under root (pid reuse mid-scan) is ignored
        ({2: 1, 3: 2, 1: 3}, 1, [2, 3]),  # a cycle through root ends at root
    ],
)
def test_tree_below(links: dict[int, int], root: int, expected: list[int]) -> None:
    assert tree_below(root, links) == expected
