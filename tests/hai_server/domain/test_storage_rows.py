"""mounts_for (pure): templates, owners and their precedence, conditions, remove rows; the
row checks admins meet (each refusal with its message)."""

from __future__ import annotations

import pytest

from hai_server.domain.storage import (
    MountTask,
    MountUser,
    StorageError,
    StorageRow,
    check_row,
    covering_mount,
    holds,
    mounts_for,
)

ALICE = MountUser("alice", "internal", ("vision",), 1000)
EVE = MountUser("eve", "external", (), 2000)
TASK = MountTask(id=7, name="bert", group="gpu", nodes=2, image="hai_base")
WS = StorageRow("/nfs/ws/{user.user_name}", "/nfs/ws/{user.user_name}", ("public",), id=1)


def paths(user: MountUser, rows: list[StorageRow], task: MountTask | None = TASK) -> dict:
    return {m.mount_path: (m.source, m.read_only) for m in mounts_for(user, rows, task)}


CASES = [
    ("a public row, templated per user", [WS], ALICE,
     {"/nfs/ws/alice": ("/nfs/ws/alice", False)}),
    ("task fields in templates", [StorageRow("/ckpt/{user.user_name}/{task.id}", "/ckpt", id=2)],
     ALICE, {"/ckpt": ("/ckpt/alice/7", False)}),
    ("a group's row reaches its members only",
     [StorageRow("/data/vision", "/data", ("vision",), read_only=True, id=3)], ALICE,
     {"/data": ("/data/vision", True)}),
    ("... and not others", [StorageRow("/data/vision", "/data", ("vision",), id=3)], EVE, {}),
    ("a role is an owner", [StorageRow("/ext", "/ext", ("external",), id=4)], EVE,
     {"/ext": ("/ext", False)}),
    ("a condition that fails drops the row",
     [StorageRow("/big", "/big", ("public",), ("task.nodes >= 4",), id=5)], ALICE, {}),
    ("a condition that holds keeps it",
     [StorageRow("/big", "/big", ("public",), ("task.nodes >= 2 and task.image == 'hai_base'",),
                 id=5)], ALICE, {"/big": ("/big", False)}),
    ("user beats group beats public on one mount path",
     [StorageRow("/d/pub", "/data", ("public",), id=6),
      StorageRow("/d/vision", "/data", ("vision",), id=7),
      StorageRow("/d/alice", "/data", ("alice",), id=8)], ALICE,
     {"/data": ("/d/alice", False)}),
    ("group + condition beats group",
     [StorageRow("/d/cond", "/data", ("vision",), ("user.uid == 1000",), id=9),
      StorageRow("/d/vision", "/data", ("vision",), id=10)], ALICE,
     {"/data": ("/d/cond", False)}),
    ("a remove row for a role drops the public mount",
     [WS, StorageRow("/nfs/ws/{user.user_name}", "/nfs/ws/{user.user_name}", ("external",),
                     action="remove", id=11)], EVE, {}),
    ("... and only for that role", [WS, StorageRow("/nfs/ws/{user.user_name}",
     "/nfs/ws/{user.user_name}", ("external",), action="remove", id=11)], ALICE,
     {"/nfs/ws/alice": ("/nfs/ws/alice", False)}),
    ("inactive rows count for nothing", [StorageRow("/x", "/x", active=False, id=12)], ALICE, {}),
    ("no task (a container): task fields are empty, task_type 'none'",
     [StorageRow("/jup/{user.user_name}", "/jup", ("public",), ("task.task_type != 'training'",),
                 id=13)], ALICE, {"/jup": ("/jup/alice", False)}),
]  # fmt: skip


@pytest.mark.parametrize(("rows", "user", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_mounts_for(rows: list[StorageRow], user: MountUser, expected: dict) -> None:
    task = None if any("task_type" in c for r in rows for c in r.conditions) else TASK
    assert paths(user, rows, task) == expected


def test_configmap_rows_mount_a_key() -> None:
    row = check_row(StorageRow("hai-scripts/suspend_helper.py", "/marsv2/suspend_helper.py",
                               mount_type="ConfigMap", id=1))  # fmt: skip
    (m,) = mounts_for(ALICE, [row], TASK)
    assert m.as_pod_mount() == {
        "name": m.volume_name, "kind": "configmap", "source": "hai-scripts",
        "mount_path": "/marsv2/suspend_helper.py", "read_only": False,
        "sub_path": "suspend_helper.py",
    }  # fmt: skip


def test_braces_in_filled_paths_survive_the_pod_templates() -> None:
    (m,) = mounts_for(ALICE, [StorageRow("/odd/{{x}}", "/odd", id=1)], TASK)
    assert m.source == "/odd/{x}" and m.as_pod_mount()["source"] == "/odd/{{x}}"


def test_the_workdir_check_finds_the_deepest_directory_mount() -> None:
    mounts = mounts_for(ALICE, [WS, StorageRow("/nfs/ws/alice/p", "/nfs/ws/alice/p", id=2),
                                StorageRow("/f", "/nfs/file", mount_type="File", id=3)], TASK)  # fmt: skip
    assert covering_mount("/nfs/ws/alice/p/q", mounts).mount_path == "/nfs/ws/alice/p"  # type: ignore[union-attr]
    assert covering_mount("/nfs/ws/alice", mounts) is not None
    assert covering_mount("/nfs/ws/alicex", mounts) is None
    assert covering_mount("/nfs/file", mounts) is None  # a file is no working directory
    assert covering_mount("/nfs/ws/alice/../bob", mounts) is None


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("user.user_name.startswith('al')", True),
        ("user.role == 'external' or 'vision' in user.groups", True),
        ("not task.image is None", True),
        ("task.name.endswith(('rt', 'xx'))", True),
        ("user.uid > 999 and user.uid <= 1000", True),
        ("user.role != 'internal'", False),
    ],
)
def test_conditions(condition: str, expected: bool) -> None:
    assert holds(condition, ALICE, TASK) is expected


@pytest.mark.parametrize(
    ("row", "words"),
    [
        (StorageRow("/a", "/a", mount_type="Weird"), "bad mount type 'Weird'"),
        (StorageRow("/a", "/a", action="drop"), "bad action 'drop'"),
        (StorageRow("/a", "/a", owners=()), "owners: at least one"),
        (StorageRow("/a", "/a", owners=("a b",)), "bad owner 'a b'"),
        (StorageRow("rel/path", "/a"), "host_path 'rel/path': expected an absolute path"),
        (StorageRow("/a", "/x/../etc"), "'..' is not allowed"),
        (StorageRow("/a", "/"), "not the root directory"),
        (StorageRow("/a\x00", "/a"), "host_path: 1-1024 printable characters"),
        (StorageRow("/{user.password}", "/a"), "unknown field user.password"),
        (StorageRow("/{user.__class__}", "/a"), "unknown field user.__class__"),
        (StorageRow("/{os}", "/a"), "bad template field {os}"),
        (StorageRow("/{user.uid:>10}", "/a"), "no format spec"),
        (StorageRow("/a", "/a", conditions=("__import__('os').system('x')",)), "not allowed"),
        (StorageRow("/a", "/a", conditions=("user.__class__",)), "Attribute is not allowed"),
        (StorageRow("/a", "/a", conditions=("lambda: 1",)), "Lambda is not allowed"),
        (StorageRow("/a", "/a", conditions=("user.user_name ==",)), "invalid syntax"),
        (StorageRow("/a", "/a", conditions=("1" * 600,)), "longer than 512"),
    ],
)
def test_bad_rows_are_refused_with_what_is_wrong(row: StorageRow, words: str) -> None:
    with pytest.raises(StorageError, match=None) as err:
        check_row(row)
    assert words in str(err.value), str(err.value)
