"""hai-up configuration: the template, sourcing with bash, and every validation message."""

from __future__ import annotations

from pathlib import Path

import pytest
from up_helpers import DEFAULTS, values

from hai_up.config import CONFIG_TEMPLATE, VARIABLES, ConfigError, load_config, parse_config

SEED_NAMES = [
    "SHARED_FS_ROOT",
    "HAI_PLATFORM_PATH",
    "MARS_PREFIX",
    "TRAINING_GROUP",
    "TRAINING_NODES",
    "JUPYTER_GROUP",
    "JUPYTER_NODES",
    "MANAGER_NODES",
    "TASK_NAMESPACE",
    "BASE_IMAGE",
    "TRAIN_IMAGE",
    "INGRESS_HOST",
    "INGRESS_CLASS",
    "USER_INFO",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "HAS_RDMA_HCA_RESOURCE",
    "KUBECONFIG",
]
OURS = [
    "HAI_BACKEND",
    "SERVER_REPLICAS",
    "SERVER_PORT",
    "POSTGRES_PORT",
    "REDIS_PORT",
    "BIND_ADDRESS",
    "EXTERNAL_DATABASE_URL",
    "EXTERNAL_REDIS_URL",
    "ADMIN_TOKEN",
    "COMPOSE_PROJECT",
    "NODE_GPUS",
    "BUILD_IMAGES",
]


def test_template_has_the_seed_names_and_ours_each_documented() -> None:
    assert set(SEED_NAMES + OURS) <= set(VARIABLES)
    lines = CONFIG_TEMPLATE.splitlines()
    for name in VARIABLES:
        (i,) = [n for n, line in enumerate(lines) if line.startswith(f"export {name}=")]
        assert lines[i - 1].startswith("#") or lines[i - 1].startswith("export"), name


def test_defaults_without_file_or_environment() -> None:
    cfg = load_config(None, {"PATH": "/usr/bin", "HOME": "/root"})
    assert cfg.hai_platform_path == Path("/nfs-shared/hai-platform")
    assert (cfg.hai_backend, cfg.server_replicas, cfg.server_port) == ("kubernetes", 1, 80)
    assert cfg.base_image == "hai-platform/platform:latest"
    assert cfg.users[0].name == "testuser" and cfg.compose_project == "hai-platform"
    assert cfg.external_database_url is None and cfg.node_gpus is None


def test_environment_then_defaults_with_references() -> None:
    cfg = load_config(None, {"SHARED_FS_ROOT": "/data", "SERVER_PORT": "9000", "OTHER": "x"})
    assert cfg.hai_platform_path == Path("/data/hai-platform")  # default refers to SHARED_FS_ROOT
    assert cfg.server_port == 9000


def test_printed_template_sourced_as_a_file_gives_the_defaults(tmp_path: Path) -> None:
    f = tmp_path / "config.sh"
    f.write_text(CONFIG_TEMPLATE)
    assert load_config(f, {}) == load_config(None, {})


def test_file_is_sourced_in_a_clean_environment_and_may_reference(tmp_path: Path) -> None:
    f = tmp_path / "config.sh"
    f.write_text(
        'SHARED_FS_ROOT=/mnt/fs\nHAI_PLATFORM_PATH="$SHARED_FS_ROOT/platform"\n'
        "BASE=8000\nSERVER_PORT=$((BASE + 80))\nexport TRAINING_NODES='n1,n2 n3'\n"
    )
    cfg = load_config(f, {"SERVER_PORT": "1234", "REDIS_PORT": "7000"})
    assert cfg.hai_platform_path == Path("/mnt/fs/platform")
    assert cfg.server_port == 8080  # the file's, computed by bash
    assert cfg.redis_port == 6379  # the environment does not leak into a file's config
    assert cfg.training_nodes == ("n1", "n2", "n3")


def test_file_that_bash_refuses(tmp_path: Path) -> None:
    f = tmp_path / "config.sh"
    f.write_text("SERVER_PORT=80\nif then fi\n")
    with pytest.raises(ConfigError) as e:
        load_config(f, {})
    assert (
        e.value.exit_code == 2 and str(f) in e.value.message and "syntax error" in e.value.message
    )


def test_missing_file() -> None:
    with pytest.raises(ConfigError) as e:
        load_config(Path("/nonexistent/config.sh"), {})
    assert e.value.message == (
        "bad configuration: config file /nonexistent/config.sh: not found "
        "(create one with hai-up config)"
    )


BAD = [
    ({"SERVER_PORT": "abc"}, "SERVER_PORT='abc': expected an integer port 1-65535"),
    ({"SERVER_PORT": ""}, "SERVER_PORT='': expected an integer port 1-65535"),
    ({"POSTGRES_PORT": "70000"}, "POSTGRES_PORT='70000': expected an integer port 1-65535"),
    ({"SERVER_REPLICAS": "0"}, "SERVER_REPLICAS='0': expected an integer 1-64"),
    ({"HAI_BACKEND": "slurm"}, "HAI_BACKEND='slurm': expected local or kubernetes"),
    ({"HAI_PLATFORM_PATH": "data/hai"}, "HAI_PLATFORM_PATH='data/hai': expected an absolute path"),
    ({"KUBECONFIG": "kube.conf"}, "KUBECONFIG='kube.conf': expected an absolute path"),
    ({"HAS_RDMA_HCA_RESOURCE": "yes"}, "HAS_RDMA_HCA_RESOURCE='yes': expected 0 or 1"),
    ({"BIND_ADDRESS": "localhost"}, "BIND_ADDRESS='localhost': expected an IPv4 address such as 0.0.0.0 or 127.0.0.1"),
    ({"NODE_GPUS": "eight"}, "NODE_GPUS='eight': expected empty or an integer 0-1024"),
    ({"TRAINING_GROUP": ""}, "TRAINING_GROUP='': expected a group name (letters, digits, _ . -, at most 63, starting and ending alnum)"),
    ({"POSTGRES_PASSWORD": "p@ss/word"}, "POSTGRES_PASSWORD='p@ss/word': expected a non-empty letters, digits and . _ ~ - only"),
    ({"ADMIN_TOKEN": "short"}, "ADMIN_TOKEN='short': expected 16-256 characters, letters, digits and . _ ~ + / = -"),
    ({"EXTERNAL_DATABASE_URL": "mysql://x"}, "EXTERNAL_DATABASE_URL='mysql://x': expected empty or a URL like postgresql://user:password@host:5432/hai"),
    ({"USER_INFO": "bob"}, "USER_INFO entry 'bob': expected name:uid:role:token[:group]"),
    ({"USER_INFO": "bob:12:boss:bob-token-0123456789"}, "USER_INFO entry 'bob:12:boss:bob-token-0123456789': expected name:uid:role:token[:group] (role: one of admin, internal, external)"),
    ({"USER_INFO": "Bob:x:internal:short"}, "USER_INFO entry 'Bob:x:internal:short': expected name:uid:role:token[:group] (name: lowercase letters, digits, _ . - (starting with a letter or _); uid: an integer; token: 16-256 characters, letters, digits and . _ ~ + / = -)"),
    ({"USER_INFO": "bob:1:internal:bob-token-0123456789 bob:2:internal:bob-token-9876543210"}, "USER_INFO: user 'bob' is listed twice"),
    ({"USER_INFO": "admin:1:admin:adm-token-0123456789"}, "USER_INFO: the name 'admin' is reserved for ADMIN_TOKEN"),
    ({"PUBLIC_QUOTA": "URGENT=3"}, "PUBLIC_QUOTA entry 'URGENT=3': expected PRIORITY=N with PRIORITY one of LOW, BELOW_NORMAL, NORMAL, ABOVE_NORMAL, HIGH, VERY_HIGH, EXTREME_HIGH and N an integer"),
    ({"JUPYTER_NODES": "gpu-2"}, "node 'gpu-2' is listed in two groups (TRAINING_NODES and JUPYTER_NODES): expected each node in one group"),
    ({"TRAINING_NODES": "a b a"}, "TRAINING_NODES: node 'a' is listed twice"),
    ({"TRAINING_NODES": "Node_1"}, "TRAINING_NODES entry 'Node_1': expected a Kubernetes node name (lowercase letters, digits, - and .)"),
    ({"REDIS_PORT": "18081"}, "REDIS_PORT=18081: expected a port outside the servers' 18080-18081 (SERVER_PORT..SERVER_PORT+SERVER_REPLICAS-1)"),
    ({"TASK_NAMESPACE": "Hai_Tasks"}, "TASK_NAMESPACE='Hai_Tasks': expected a DNS label (lowercase letters, digits, -, at most 63)"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "message"), BAD, ids=[next(iter(o)) for o, _ in BAD])
def test_bad_value_is_named_with_its_expected_format(
    overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(values(**overrides))
    assert e.value.problems == [message]
    assert e.value.exit_code == 2 and "\n" not in e.value.message


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(values(SERVER_PORT="abc", USER_INFO="bob", JUPYTER_NODES="gpu-1"))
    assert len(e.value.problems) == 3
    assert e.value.message.startswith("bad configuration: SERVER_PORT='abc'")


def test_defaults_parse() -> None:
    assert parse_config(values()).users[0].group == "team-a"
    assert set(DEFAULTS) == set(VARIABLES)
