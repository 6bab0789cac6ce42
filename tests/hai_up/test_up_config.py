"""hai-up configuration: the template, sourcing with bash, and every validation message."""

from __future__ import annotations

from pathlib import Path

import pytest

from hai_up.config import CONFIG_TEMPLATE, VARIABLES, ConfigError, load_config, parse_config
from tests.support.up import BAD, DEFAULTS, values

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


MINIMAL = {"SHARED_FS_ROOT": "/data", "USER_INFO": "alice:1000:alice-token-0123456789"}


def test_defaults_without_file_or_environment_are_refused() -> None:
    """No silent default: without SHARED_FS_ROOT and USER_INFO nothing is deployed."""
    with pytest.raises(ConfigError) as e:
        load_config(None, {"PATH": "/usr/bin", "HOME": "/root"})
    assert [p.split("=")[0] for p in e.value.problems] == ["SHARED_FS_ROOT", "USER_INFO"]


def test_the_two_required_values_are_enough() -> None:
    cfg = load_config(None, {**MINIMAL, "PATH": "/usr/bin"})
    assert cfg.hai_platform_path == Path("/data/hai-platform")  # default refers to SHARED_FS_ROOT
    assert (cfg.hai_backend, cfg.server_replicas, cfg.server_port) == ("kubernetes", 1, 80)
    assert cfg.base_image == "hai-platform/platform:latest"
    assert cfg.compose_project == "hai-platform" and cfg.platform_namespace == "hai-platform"
    assert cfg.external_database_url is None and cfg.node_gpus is None
    # the original's user:uid:token entry: role internal
    assert [(u.name, u.uid, u.role) for u in cfg.users] == [("alice", 1000, "internal")]
    # secrets left empty are generated at run (hai_up.secrets), never a public default
    assert (cfg.admin_token, cfg.postgres_password, cfg.redis_password) == ("", "", "")
    assert (cfg.build_images, cfg.dry_run, cfg.provider, cfg.service_type) == (
        True,
        False,
        "k8s",
        "ClusterIP",
    )


def test_environment_then_defaults_with_references() -> None:
    cfg = load_config(None, {**MINIMAL, "SERVER_PORT": "9000", "OTHER": "x"})
    assert cfg.hai_platform_path == Path("/data/hai-platform")
    assert cfg.server_port == 9000


def test_printed_template_sourced_as_a_file_gives_the_defaults(tmp_path: Path) -> None:
    f = tmp_path / "config.sh"
    f.write_text("".join(f"{k}={v}\n" for k, v in MINIMAL.items()) + CONFIG_TEMPLATE)
    assert load_config(f, {}) == load_config(None, MINIMAL)


def test_file_is_sourced_in_a_clean_environment_and_may_reference(tmp_path: Path) -> None:
    f = tmp_path / "config.sh"
    f.write_text(
        'SHARED_FS_ROOT=/mnt/fs\nHAI_PLATFORM_PATH="$SHARED_FS_ROOT/platform"\n'
        "BASE=8000\nSERVER_PORT=$((BASE + 80))\nexport TRAINING_NODES='n1,n2 n3'\n"
        "USER_INFO=alice:1000:internal:alice-token-0123456789\n"
    )
    cfg = load_config(f, {"SERVER_PORT": "1234", "REDIS_PORT": "7000"})
    assert cfg.hai_platform_path == Path("/mnt/fs/platform")
    assert cfg.server_port == 8080  # the file's, computed by bash
    assert cfg.redis_port == 6379  # the environment does not leak into a file's config
    assert cfg.training_nodes == ("n1", "n2", "n3")
    assert cfg.warnings == ("BASE is not a hai-up variable and is ignored",)


@pytest.mark.parametrize(
    ("line", "warning"),
    [
        ("SERVER_PROT=8080", "SERVER_PROT is not a hai-up variable and is ignored (did you mean SERVER_PORT?)"),
        ("USERINFO=x", "USERINFO is not a hai-up variable and is ignored (did you mean USER_INFO?)"),
        ("TRAINNING_NODES=a", "TRAINNING_NODES is not a hai-up variable and is ignored (did you mean TRAINING_NODES?)"),
        ("ZZZ_TOTALLY_ELSE=1", "ZZZ_TOTALLY_ELSE is not a hai-up variable and is ignored"),
    ],
)  # fmt: skip
def test_unknown_variables_are_named_with_the_nearest(
    tmp_path: Path, line: str, warning: str
) -> None:
    f = tmp_path / "config.sh"
    f.write_text("".join(f"{k}={v}\n" for k, v in MINIMAL.items()) + line + "\n")
    assert load_config(f, {}).warnings == (warning,)


@pytest.mark.parametrize(
    ("raw", "value"), [("0", False), ("1", True), ("true", True), ("FALSE", False), ("True", True)]
)
def test_booleans(raw: str, value: bool) -> None:
    cfg = parse_config(values(BUILD_IMAGES=raw, HAS_RDMA_HCA_RESOURCE=raw, DRY_RUN=raw))
    assert (cfg.build_images, cfg.has_rdma_hca_resource, cfg.dry_run) == (value,) * 3


def test_root_user_becomes_an_admin_and_original_entries_are_internal() -> None:
    cfg = parse_config(
        values(
            USER_INFO="alice:1000:alice-token-0123456789,bob:1001:external:bob-token-0123456789",
            ROOT_USER="bob",
        )
    )
    assert [(u.name, u.uid, u.role) for u in cfg.users] == [
        ("alice", 1000, "internal"),
        ("bob", 1001, "admin"),
    ]


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


def test_extra_environments_are_honoured() -> None:
    """The original's EXTRA_ENVIRONMENTS (KEY:VALUE entries): the variables of the built-in
    image hai_base in init.sql (tests/hai_up/test_up_init_sql.py applies them)."""
    cfg = parse_config(values(EXTRA_ENVIRONMENTS="HF_HOME:/nfs/hf,URL:http://h:80/x"))
    assert cfg.extra_environments == (("HF_HOME", "/nfs/hf"), ("URL", "http://h:80/x"))
    with pytest.raises(ConfigError) as e:
        parse_config(values(EXTRA_ENVIRONMENTS="A:1 A:2 9X:1"))
    assert "EXTRA_ENVIRONMENTS: A is set twice" in e.value.message
    assert "EXTRA_ENVIRONMENTS entry '9X:1': expected KEY:VALUE" in e.value.message
