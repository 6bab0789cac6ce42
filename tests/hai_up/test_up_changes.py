"""What a config change does, in words; which node labels to drop; the k8s task survey."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hai_up import changes
from hai_up.drain import Api
from hai_up.errors import UpError
from hai_up.providers.k8s_tasks import Tasks, check, live_task_ids, resume, rolled_out, suspend
from hai_up.render.k8s import render_manifests
from hai_up.render.override import render_override
from tests.support.up import ALICE_TOKEN, config

BOB = "bob:1001:external:bob-token-0123456789"
ALICE = f"alice:1000:internal:{ALICE_TOKEN}:team-a"


def record(**overrides: str) -> dict[str, Any]:
    cfg = config(**overrides)
    return changes.applied(cfg, render_override(cfg, for_kubernetes=True))


# (overrides of the new config, the lines said against the default config)
CASES: list[tuple[dict[str, str], list[str]]] = [
    ({}, []),
    (
        {"TRAINING_NODES": "gpu-1 gpu-2 gpu-3"},
        ["nodes added: gpu-3 (training)"],
    ),
    (
        {"TRAINING_NODES": "gpu-1"},
        ["nodes removed: gpu-2 (their group label is removed)"],
    ),
    (
        {"TRAINING_NODES": "gpu-1 gpu-2 cpu-1", "JUPYTER_NODES": ""},
        ["nodes moved: cpu-1 (jupyter_cpu -> training)"],
    ),
    (
        {"MARS_PREFIX": "other"},
        [
            "node label: hai-platform-one_mars_group -> other_mars_group (the old one is removed)",
            "server settings (override.toml) changed",
        ],
    ),
    ({"MANAGER_NODES": ""}, ["MANAGER_NODES: (any node)"]),
    (
        {"USER_INFO": f"{ALICE} {BOB} carol:1002:internal:carol-token-0123456789"},
        ["users added: carol"],
    ),
    (
        {"USER_INFO": ALICE},
        [
            "users no longer in USER_INFO: bob (still in the database: hai-cli admin user "
            "disable NAME)"
        ],
    ),
    (
        {"USER_INFO": f"alice:1000:admin:{ALICE_TOKEN}:team-a {BOB}"},
        [
            "users changed: alice (uid/role/group: init.sql keeps the existing row; "
            "hai-cli admin user role|groups)"
        ],
    ),
    ({"USER_INFO": f"alice:1000:internal:new-token-0123456789:team-a {BOB}"}, []),
    (
        {"PUBLIC_QUOTA": "NORMAL=100 HIGH=10 LOW=5"},
        ["public quota added: LOW=5"],
    ),
    (
        {"PUBLIC_QUOTA": "NORMAL=50"},
        [
            "public quota changed: HIGH, NORMAL (init.sql keeps the existing row: hai-cli admin "
            "quota set public ...)"
        ],
    ),
    ({"BASE_IMAGE": "hai/p:v2"}, ["BASE_IMAGE: hai-platform/platform:latest -> hai/p:v2"]),
    (
        {"TRAIN_IMAGE": "hai/t:v2"},
        [
            "TRAIN_IMAGE: hai-platform/train:latest -> hai/t:v2",
            "server settings (override.toml) changed",
        ],
    ),
    ({"SERVER_REPLICAS": "3"}, ["SERVER_REPLICAS: 2 -> 3"]),
    (
        {"EXTRA_ENVIRONMENTS": "A:1"},
        ["EXTRA_ENVIRONMENTS changed (init.sql keeps the existing row of image hai_base)"],
    ),
]


@pytest.mark.parametrize(("overrides", "said"), CASES)
def test_describe(overrides: dict[str, str], said: list[str]) -> None:
    assert changes.describe(record(), record(**overrides)) == said


def test_mounts_added_and_removed(tmp_path: Path) -> None:
    one = f"{tmp_path}:/data:directory:ro"
    old, new = record(EXTRA_MOUNTS=one), record(EXTRA_MOUNTS=f"{tmp_path}:/other:directory")
    assert changes.describe(old, new) == [
        f"mounts added: {tmp_path}:/other:directory",
        f"mounts no longer in EXTRA_MOUNTS: {one} (the storage row stays: hai-cli admin "
        "storage remove)",
    ]


def test_first_deployment_and_foreign_records_say_nothing() -> None:
    assert changes.describe(None, record()) == []
    assert changes.decode(None) is None and changes.decode("") is None
    assert changes.decode("not json") is None and changes.decode("[1]") is None
    assert changes.decode(changes.encode(record())) == record()


def test_the_record_holds_no_secret() -> None:
    cfg = config()
    (cm,) = [o for o in render_manifests(cfg) if o["kind"] == "ConfigMap"]
    text = cm["metadata"]["annotations"][changes.ANNOTATION]
    for secret in (cfg.admin_token, ALICE_TOKEN, cfg.postgres_password, cfg.redis_password):
        assert secret not in text
    assert json.loads(text)["users"]["alice"] == {
        "uid": 1000,
        "role": "internal",
        "group": "team-a",
    }


@pytest.mark.parametrize(
    ("overrides", "dropped"),
    [
        ({}, {}),
        ({"TRAINING_NODES": "gpu-1"}, {"gpu-2": {"hai-platform-one_mars_group": "training"}}),
        (
            {"MARS_PREFIX": "x"},  # a new key: every old label goes
            {
                n: {"hai-platform-one_mars_group": g}
                for n, g in (("gpu-1", "training"), ("gpu-2", "training"), ("cpu-1", "jupyter_cpu"))
            },
        ),
        ({"TRAINING_NODES": "gpu-1 gpu-2 cpu-1", "JUPYTER_NODES": ""}, {}),  # relabelled
    ],
)
def test_dropped_labels(overrides: dict[str, str], dropped: dict[str, dict[str, str]]) -> None:
    assert changes.dropped_labels(record(), record(**overrides)) == dropped
    assert changes.dropped_labels(None, record(**overrides)) == {}


def pod(task: str, phase: str = "Running", deleting: bool = False, inst: str = "db-1") -> dict:
    labels = {"hai.platform/task-id": task, "hai.platform/installation": inst}
    meta: dict[str, Any] = {"labels": {**labels, "app.kubernetes.io/managed-by": "hai-platform"}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"phase": phase}}


def test_live_task_ids() -> None:
    pods = [
        pod("1"),
        pod("1"),  # a second rank of task 1
        pod("2", "Pending"),
        pod("3", "Succeeded"),
        pod("4", "Failed"),
        pod("5", deleting=True),
        pod("1", inst="db-2"),  # another installation's task 1
        {"metadata": {"labels": {"app": "jupyter"}}, "status": {"phase": "Running"}},
    ]
    assert live_task_ids(pods) == ["db-1/1", "db-1/2", "db-2/1"]
    assert live_task_ids([]) == []


def test_count_in_words() -> None:
    assert Tasks(2, 1, None).count() == "1"  # the server's word wins
    assert Tasks(2, None, None).count() == "the 2"
    assert Tasks(0, None, None).count() == "0"


def test_task_pods_the_server_cannot_be_asked_about_refuse_unless_forced(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    said: list[str] = []
    nothing = Tasks(0, None, None, "SERVER_URL is empty")
    assert check(cfg, nothing, said.append, force=False) == nothing and said == []
    asked = Tasks(2, 0, Api("http://127.0.0.1:9", "t"))  # the server answered: none active
    assert check(cfg, asked, said.append, force=False) == asked
    assert suspend(cfg, asked, said.append, force=False) == 0 and said == []
    blind = Tasks(2, None, None, "SERVER_URL is empty")
    with pytest.raises(UpError) as err:
        check(cfg, blind, said.append, force=False)
    assert err.value.exit_code == 2
    assert err.value.message == (
        "2 task(s) have pods in namespace hai-tasks but SERVER_URL is empty, so hai-up cannot "
        "suspend them with notice first; set SERVER_URL to the platform's API address (e.g. "
        "http://INGRESS_HOST), or --force to go on without notice; nothing was changed"
    )
    deaf = Tasks(1, None, Api("http://127.0.0.1:9", "t"), "the platform's API at X is down")
    with pytest.raises(UpError) as err:
        check(cfg, deaf, said.append, force=False)
    assert err.value.exit_code == 4
    assert err.value.message.startswith(
        "1 task(s) have pods in namespace hai-tasks but the platform's API at X is down, so"
    )
    forced = check(cfg, blind, said.append, force=True)
    assert (forced.with_pods, forced.active) == (0, None)
    assert suspend(cfg, forced, said.append, force=True) == 0
    assert said == [
        "warning: 2 task(s) have pods in namespace hai-tasks but SERVER_URL is empty, so hai-up "
        "cannot suspend them with notice first; going on without notice (--force)"
    ]


class FakeCluster:
    """Answers ``read`` of the server Deployment with a given status."""

    def __init__(self, status: dict[str, int], replicas: int = 2, generation: int = 3) -> None:
        self.obj = {
            "metadata": {"generation": generation},
            "spec": {"replicas": replicas},
            "status": status,
        }

    def read(self, obj: dict[str, Any]) -> dict[str, Any]:
        assert (obj["kind"], obj["metadata"]["name"]) == ("Deployment", "hai-server")
        return self.obj


DONE = {"observedGeneration": 3, "updatedReplicas": 2, "availableReplicas": 2, "replicas": 2}


@pytest.mark.parametrize(
    ("status", "rolled"),
    [
        (DONE, True),
        ({**DONE, "observedGeneration": 2}, False),  # the controller has not seen the change
        ({**DONE, "updatedReplicas": 1}, False),
        ({**DONE, "availableReplicas": 1}, False),
        ({**DONE, "replicas": 3}, False),  # an old pod still runs
        ({}, False),
    ],
)
def test_rolled(status: dict[str, int], rolled: bool, tmp_path: Path) -> None:
    assert rolled_out(FakeCluster(status), config(tmp_path)) is rolled  # type: ignore[arg-type]


def test_resume_needs_a_record_a_server_url_and_servers_that_come_back(tmp_path: Path) -> None:
    said: list[str] = []
    cfg = config(tmp_path, SERVER_URL="http://127.0.0.1:9")
    resume(cfg, FakeCluster({}), said.append, timeout_s=0)  # type: ignore[arg-type]
    assert said == []  # nothing was drained: nothing to wait for
    cfg.hai_platform_path.mkdir(parents=True)
    (cfg.hai_platform_path / "drained.json").write_text('{"nodes": ["gpu-1"]}')
    with pytest.raises(UpError) as err:
        resume(cfg, FakeCluster({}), said.append, timeout_s=0)  # type: ignore[arg-type]
    assert err.value.exit_code == 1
    assert err.value.message == (
        "the servers did not finish rolling out within 0 s (kubectl -n hai-platform rollout "
        "status deployment/hai-server); node(s) gpu-1 stay cordoned until the next hai-up run"
    )
    with pytest.raises(UpError) as err:
        resume(cfg, FakeCluster(DONE), said.append, timeout_s=0)  # type: ignore[arg-type]
    assert err.value.message.startswith("the servers did not answer at http://127.0.0.1:9")
    resume(config(tmp_path), FakeCluster(DONE), said.append)  # type: ignore[arg-type]
    assert said == [
        "warning: node(s) gpu-1 stay cordoned (a drain of hai-up): SERVER_URL is empty; set it "
        "and re-run, or hai-cli admin node uncordon NODE"
    ]


R = "node-training-"


@pytest.mark.parametrize(
    ("new", "current", "plan"),
    [
        ("NORMAL=100 HIGH=10", {R + "NORMAL": 100, R + "HIGH": 10}, []),
        (
            "NORMAL=50 HIGH=10",
            {R + "NORMAL": 100, R + "HIGH": 10},
            [("set", R + "NORMAL", 50, "public quota NORMAL: 100 -> 50")],
        ),
        (
            "NORMAL=50 HIGH=10",
            {R + "NORMAL": 7, R + "HIGH": 10},  # an admin set 7: kept
            [
                (
                    "keep",
                    R + "NORMAL",
                    7,
                    "public quota NORMAL: kept (7: an admin changed it; the config says 50)",
                )
            ],
        ),
        (
            "NORMAL=100",
            {R + "NORMAL": 100, R + "HIGH": 10},
            [("delete", R + "HIGH", 10, "public quota HIGH: 10 -> closed")],
        ),
        (
            "NORMAL=100",
            {R + "NORMAL": 100},  # an admin deleted it already
            [
                (
                    "keep",
                    R + "HIGH",
                    10,
                    "public quota HIGH: kept (no row: an admin changed it; the config says closed)",
                )
            ],
        ),
        ("NORMAL=100 HIGH=10 LOW=3", {R + "NORMAL": 100, R + "HIGH": 10}, []),  # init.sql's
    ],
)
def test_quota_plan(new: str, current: dict[str, int], plan: list[tuple]) -> None:
    got = changes.row_plan(record(), record(PUBLIC_QUOTA=new), current, {})
    assert [(c.action, c.key, c.value, c.line) for c in got] == plan
    assert {c.kind for c in got} <= {"quota"}


def test_quota_plan_leaves_another_group_and_the_first_deployment_alone() -> None:
    moved = record(TRAINING_GROUP="a100", PUBLIC_QUOTA="NORMAL=1")
    assert changes.row_plan(record(), moved, {}, {}) == []
    assert changes.row_plan(None, record(), {}, {}) == []
    old, new = record(), record(PUBLIC_QUOTA="NORMAL=1")
    assert changes.describe(old, new, by_api=True) == []  # said by the plan instead
    assert any("public quota changed" in x for x in changes.describe(old, moved, by_api=True))


ADMIN_ALICE = f"alice:1000:admin:{ALICE_TOKEN}:team-a {BOB}"


@pytest.mark.parametrize(
    ("users", "roles", "plan", "said"),
    [
        (
            ADMIN_ALICE,
            {"alice": "internal"},
            [("set", "alice", "admin", "user alice: role internal -> admin")],
            [],
        ),
        (
            ADMIN_ALICE,
            {"alice": "external"},  # an admin changed it: kept
            [
                (
                    "keep",
                    "alice",
                    "external",
                    "user alice: role kept (external: an admin changed it; the config says admin)",
                )
            ],
            [],
        ),
        (
            f"alice:1001:admin:{ALICE_TOKEN}:team-b {BOB}",  # uid and group: init.sql's row
            {"alice": "internal"},
            [("set", "alice", "admin", "user alice: role internal -> admin")],
            [
                "users changed: alice (uid/group: init.sql keeps the existing row; hai-cli admin "
                "user role|groups)"
            ],
        ),
    ],
)
def test_role_plan(users: str, roles: dict[str, str], plan: list[tuple], said: list[str]) -> None:
    old, new = record(), record(USER_INFO=users)
    got = changes.row_plan(old, new, {}, roles)
    assert [(c.action, c.key, c.value, c.line) for c in got] == plan
    assert {c.kind for c in got} == {"role"}
    assert changes.describe(old, new, by_api=True) == said
