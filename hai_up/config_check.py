"""Validation of hai-up's variables (pure): :func:`parse_config` turns the strings into an
:class:`~hai_up.config_model.UpConfig` or raises one :class:`ConfigError` listing every problem,
each naming its variable and the expected format."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from hai_up.config_model import (
    ADMIN_USER,
    FLAGS,
    PLACEHOLDER,
    PLATFORM_ENVS_OWNER,
    PRIORITIES,
    PROVIDERS,
    REFUSED,
    ROLES,
    SERVICE_TYPES,
    ExtraMount,
    UpConfig,
    UserInfo,
)
from hai_up.errors import ConfigError

_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,63}$")  # the server's user names
_GROUP = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")  # also a label value
_NODE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")  # Kubernetes node name
_LABEL_KEY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_SAFE = re.compile(r"^[A-Za-z0-9._~-]*$")  # goes into a URL unescaped
_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]{16,256}$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")
_COMPOSE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_SPEC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")  # a haienv name
_IPV4 = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")


class _Check:
    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values
        self.problems: list[str] = []

    def raw(self, name: str) -> str:
        return self.values.get(name, "").strip()

    def bad(self, name: str, expected: str) -> None:
        self.problems.append(f"{name}={self.raw(name)!r}: expected {expected}")

    def match(self, name: str, pattern: re.Pattern[str], expected: str, default: str = "") -> str:
        value = self.raw(name)
        if not pattern.fullmatch(value):
            self.bad(name, expected)
            return default
        return value

    def integer(self, name: str, low: int, high: int, expected: str) -> int:
        value = self.raw(name)
        if re.fullmatch(r"\d{1,9}", value) and low <= int(value) <= high:
            return int(value)
        self.bad(name, expected)
        return low

    def port(self, name: str) -> int:
        return self.integer(name, 1, 65535, "an integer port 1-65535")

    def flag(self, name: str) -> bool:
        value = self.raw(name).lower()
        if value not in FLAGS:
            self.bad(name, "0, 1, true or false")
        return FLAGS.get(value, False)

    def path(self, name: str, *, optional: bool = False) -> Path | None:
        value = self.raw(name)
        if optional and not value:
            return None
        if not PurePosixPath(value).is_absolute():
            self.bad(name, "an absolute path")
            return Path("/")
        return Path(value)

    def words(self, name: str) -> tuple[str, ...]:
        return tuple(w for w in re.split(r"[\s,]+", self.raw(name)) if w)

    def url(self, name: str, schemes: tuple[str, ...], example: str) -> str | None:
        value = self.raw(name)
        if not value:
            return None
        if not re.fullmatch(rf"^({'|'.join(re.escape(s) for s in schemes)})://\S+$", value):
            self.bad(name, f"empty or a URL like {example}")
            return None
        return value


def _address(c: _Check) -> str:
    value = c.raw("BIND_ADDRESS")
    m = _IPV4.fullmatch(value)
    if not m or any(int(part) > 255 for part in m.groups()):
        c.bad("BIND_ADDRESS", "an IPv4 address such as 0.0.0.0 or 127.0.0.1")
        return "127.0.0.1"
    return value


def _nodes(c: _Check, name: str) -> tuple[str, ...]:
    nodes = c.words(name)
    for node in nodes:
        if not _NODE.fullmatch(node):
            c.problems.append(
                f"{name} entry {node!r}: expected a Kubernetes node name "
                "(lowercase letters, digits, - and .)"
            )
    for node in sorted({n for n in nodes if nodes.count(n) > 1}):
        c.problems.append(f"{name}: node {node!r} is listed twice")
    return nodes


def _users(c: _Check) -> tuple[UserInfo, ...]:
    users: list[UserInfo] = []
    fmt = "expected name:uid:role:token[:group]"
    if not c.words("USER_INFO"):
        c.problems.append(
            "USER_INFO='': expected at least one user name:uid:role:token[:group] (or the "
            "original's name:uid:token); hai-up deploys no default user"
        )
    for entry in c.words("USER_INFO"):
        parts = entry.split(":")
        if len(parts) == 3:  # the original hai-up's user:uid:token, role internal
            parts = [parts[0], parts[1], "internal", parts[2]]
        if len(parts) not in (4, 5):
            c.problems.append(f"USER_INFO entry {entry!r}: {fmt}")
            continue
        name, uid, role, token = parts[:4]
        group = parts[4] if len(parts) == 5 else None
        why = []
        if not _USER.fullmatch(name):
            why.append("name: lowercase letters, digits, _ . - (starting with a letter or _)")
        if not re.fullmatch(r"\d{1,9}", uid):
            why.append("uid: an integer")
        if role not in ROLES:
            why.append(f"role: one of {', '.join(ROLES)}")
        if token and not _TOKEN.fullmatch(token):  # empty: generated by run, printed once
            why.append("token: 16-256 characters, letters, digits and . _ ~ + / = -")
        elif PLACEHOLDER in token:
            why.append(f"token: {PLACEHOLDER!r} marks a public placeholder, choose your own")
        if group is not None and not _GROUP.fullmatch(group):
            why.append("group: letters, digits, _ . - (at most 63)")
        if why:
            c.problems.append(f"USER_INFO entry {entry!r}: {fmt} ({'; '.join(why)})")
            continue
        users.append(UserInfo(name, int(uid), role, token, group))
    names = [u.name for u in users]
    for name in sorted({n for n in names if names.count(n) > 1}):
        c.problems.append(f"USER_INFO: user {name!r} is listed twice")
    if ADMIN_USER in names:
        c.problems.append(f"USER_INFO: the name {ADMIN_USER!r} is reserved for ADMIN_TOKEN")
    tokens = [u.token for u in users if u.token] + [t for t in [c.raw("ADMIN_TOKEN")] if t]
    if len(set(tokens)) != len(tokens):
        c.problems.append("USER_INFO: two users (or a user and ADMIN_TOKEN) share a token")
    root = c.raw("ROOT_USER")
    if root:
        if root not in names:
            c.problems.append(f"ROOT_USER={root!r}: expected the name of a USER_INFO user")
        users = [dataclasses.replace(u, role="admin") if u.name == root else u for u in users]
    return tuple(users)


def _secret(c: _Check, name: str, pattern: re.Pattern[str], expected: str) -> str:
    """A token or password: empty (generated at run) or valid, never the old placeholder."""
    value = c.raw(name)
    if not value:
        return ""
    if PLACEHOLDER in value:
        c.problems.append(
            f"{name}: {PLACEHOLDER!r} marks the old template's public placeholder: choose your "
            "own, or leave it empty and run generates one"
        )
        return ""
    return c.match(name, pattern, f"empty (generated) or {expected}")


def _refused(c: _Check) -> None:
    for name, why in REFUSED.items():
        if c.raw(name):
            c.problems.append(f"{name} (the original hai-up's) is not supported: {why}")


def _mounts(c: _Check) -> tuple[ExtraMount, ...]:
    out = []
    fmt = "expected source:target:file|directory[:ro] with absolute paths"
    for entry in c.words("EXTRA_MOUNTS"):
        parts = entry.split(":")
        ok = len(parts) in (3, 4) and (len(parts) == 3 or parts[3] == "ro")
        if ok:
            source, target, kind = parts[:3]
            ok = (
                kind in ("file", "directory")
                and PurePosixPath(source).is_absolute()
                and PurePosixPath(target).is_absolute()
                and PurePosixPath(target) != PurePosixPath("/")
            )
        if not ok:
            c.problems.append(f"EXTRA_MOUNTS entry {entry!r}: {fmt}")
            continue
        out.append(ExtraMount(source, target, kind, len(parts) == 4))
    targets = [m.target for m in out]
    for target in sorted({t for t in targets if targets.count(t) > 1}):
        c.problems.append(f"EXTRA_MOUNTS: target {target!r} is mounted twice")
    return tuple(out)


def _environments(c: _Check) -> tuple[tuple[str, str], ...]:
    out: dict[str, str] = {}
    for entry in c.words("EXTRA_ENVIRONMENTS"):
        key, sep, value = entry.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,254}", key):
            c.problems.append(
                f"EXTRA_ENVIRONMENTS entry {entry!r}: expected KEY:VALUE with KEY a variable "
                "name (letters, digits, _; not starting with a digit)"
            )
            continue
        if key in out:
            c.problems.append(f"EXTRA_ENVIRONMENTS: {key} is set twice")
        out[key] = value
    return tuple(out.items())


def _base_envs(c: _Check) -> tuple[str, ...] | None:
    words = c.words("BASE_ENVS")
    if words == ("all",):
        return None
    if words == ("none",):
        return ()
    expected = "all, none, or spec names (BASE_ENVS_DIR/NAME.toml)"
    if not words or "all" in words or "none" in words:
        c.bad("BASE_ENVS", f"{expected}; all and none stand alone")
        return ()
    for name in words:
        if not _SPEC_NAME.fullmatch(name) or ".." in name:
            c.problems.append(f"BASE_ENVS entry {name!r}: expected {expected}")
    for name in sorted({n for n in words if words.count(n) > 1}):
        c.problems.append(f"BASE_ENVS: {name!r} is listed twice")
    return words


def _quota(c: _Check) -> tuple[tuple[str, int], ...]:
    out: dict[str, int] = {}
    for entry in c.words("PUBLIC_QUOTA"):
        level, sep, n = entry.partition("=")
        if not sep or level not in PRIORITIES or not re.fullmatch(r"\d{1,7}", n):
            c.problems.append(
                f"PUBLIC_QUOTA entry {entry!r}: expected PRIORITY=N with PRIORITY one of "
                f"{', '.join(PRIORITIES)} and N an integer"
            )
            continue
        out[level] = int(n)
    return tuple((level, out[level]) for level in PRIORITIES if level in out)


def _cross(c: _Check, cfg: UpConfig) -> None:
    for node in sorted(set(cfg.training_nodes) & set(cfg.jupyter_nodes)):
        c.problems.append(
            f"node {node!r} is listed in two groups (TRAINING_NODES and JUPYTER_NODES): "
            "expected each node in one group"
        )
    if cfg.training_group == cfg.jupyter_group:
        c.problems.append(
            f"JUPYTER_GROUP={cfg.jupyter_group!r}: expected a group other than TRAINING_GROUP"
        )
    last = cfg.server_port + cfg.server_replicas - 1
    if last > 65535:
        c.problems.append(
            f"SERVER_PORT={cfg.server_port}: expected SERVER_PORT+SERVER_REPLICAS-1 <= 65535"
        )
    builtin = []
    if cfg.external_database_url is None:
        builtin.append(("POSTGRES_PORT", cfg.postgres_port))
    if cfg.external_redis_url is None:
        builtin.append(("REDIS_PORT", cfg.redis_port))
    for name, port in builtin:
        if cfg.server_port <= port <= last:
            c.problems.append(
                f"{name}={port}: expected a port outside the servers' "
                f"{cfg.server_port}-{last} (SERVER_PORT..SERVER_PORT+SERVER_REPLICAS-1)"
            )
    if any(u.name == PLATFORM_ENVS_OWNER for u in cfg.users):
        c.problems.append(
            f"USER_INFO: the name {PLATFORM_ENVS_OWNER!r} is reserved (the owner of the "
            "platform's base environments)"
        )
    for user in cfg.users:
        if user.uid == cfg.base_envs_uid:
            c.problems.append(
                f"BASE_ENVS_UID={cfg.base_envs_uid}: expected a uid of its own, not "
                f"{user.name}'s (USER_INFO): it owns the platform's environments"
            )
    if len(builtin) == 2 and cfg.postgres_port == cfg.redis_port:
        c.problems.append(f"REDIS_PORT={cfg.redis_port}: expected a port other than POSTGRES_PORT")


def parse_config(values: Mapping[str, str]) -> UpConfig:
    """Validate the variables (as strings) into an :class:`UpConfig`; pure."""
    c = _Check(values)
    if not c.raw("SHARED_FS_ROOT"):
        c.problems.append(
            "SHARED_FS_ROOT='': expected the absolute path of the shared file system (no "
            "default: hai-up never puts the platform and its database on the root file system)"
        )
    _refused(c)
    backend = c.raw("HAI_BACKEND")
    if backend not in ("local", "kubernetes"):
        c.bad("HAI_BACKEND", "local or kubernetes")
        backend = "local"
    gpus_raw = c.raw("NODE_GPUS")
    group_fmt = "a group name (letters, digits, _ . -, at most 63, starting and ending alnum)"
    name_fmt = "a DNS label (lowercase letters, digits, -, at most 63)"
    secret_fmt = "letters, digits and . _ ~ - only"
    cfg = UpConfig(
        shared_fs_root=(c.path("SHARED_FS_ROOT") if c.raw("SHARED_FS_ROOT") else None) or Path("/"),
        hai_platform_path=c.path("HAI_PLATFORM_PATH") or Path("/"),
        hai_backend=backend,  # type: ignore[arg-type]
        mars_prefix=c.match(
            "MARS_PREFIX",
            re.compile(r"^$|^[A-Za-z0-9]([A-Za-z0-9_.-]{0,39}[A-Za-z0-9])?$"),
            "empty or letters, digits, _ . - (at most 41: the label key is PREFIX_mars_group)",
        ),
        training_group=c.match("TRAINING_GROUP", _GROUP, group_fmt, "training"),
        training_nodes=_nodes(c, "TRAINING_NODES"),
        jupyter_group=c.match("JUPYTER_GROUP", _GROUP, group_fmt, "jupyter"),
        jupyter_nodes=_nodes(c, "JUPYTER_NODES"),
        manager_nodes=_nodes(c, "MANAGER_NODES"),
        node_gpus=(
            None
            if gpus_raw == ""
            else c.integer("NODE_GPUS", 0, 1024, "empty or an integer 0-1024")
        ),
        task_namespace=c.match("TASK_NAMESPACE", _DNS_LABEL, name_fmt, "hai-platform"),
        has_rdma_hca_resource=c.flag("HAS_RDMA_HCA_RESOURCE"),
        kubeconfig=c.path("KUBECONFIG", optional=True),
        base_image=c.match("BASE_IMAGE", _IMAGE, "an image reference such as repo/name:tag"),
        train_image=c.match("TRAIN_IMAGE", _IMAGE, "an image reference such as repo/name:tag"),
        build_images=c.flag("BUILD_IMAGES"),
        server_replicas=c.integer("SERVER_REPLICAS", 1, 64, "an integer 1-64"),
        server_port=c.port("SERVER_PORT"),
        bind_address=_address(c),
        ingress_host=c.match(
            "INGRESS_HOST", re.compile(rf"^$|{_HOST.pattern}"), "empty or a DNS host name"
        ),
        ingress_class=c.match(
            "INGRESS_CLASS", re.compile(rf"^$|{_NODE.pattern}"), "empty or a name"
        ),
        admin_token=_secret(
            c, "ADMIN_TOKEN", _TOKEN, "16-256 characters, letters, digits and . _ ~ + / = -"
        ),
        compose_project=c.match(
            "COMPOSE_PROJECT", _COMPOSE, "lowercase letters, digits, _ and - (a compose project)"
        ),
        users=_users(c),
        public_quota=_quota(c),
        postgres_user=c.match("POSTGRES_USER", _USER, "a user name (lowercase letters, digits, _)"),
        postgres_password=_secret(
            c, "POSTGRES_PASSWORD", re.compile(r"^[A-Za-z0-9._~-]+$"), secret_fmt
        ),
        postgres_port=c.port("POSTGRES_PORT"),
        redis_password=_secret(c, "REDIS_PASSWORD", _SAFE, secret_fmt),
        redis_port=c.port("REDIS_PORT"),
        external_database_url=c.url(
            "EXTERNAL_DATABASE_URL",
            ("postgresql", "postgresql+psycopg"),
            "postgresql://user:password@host:5432/hai",
        ),
        external_redis_url=c.url(
            "EXTERNAL_REDIS_URL", ("redis", "rediss"), "redis://:password@host:6379/0"
        ),
        platform_namespace=c.match("PLATFORM_NAMESPACE", _DNS_LABEL, name_fmt, "hai-platform"),
        service_type=c.match(
            "SERVICE_TYPE",
            re.compile(rf"^({'|'.join(SERVICE_TYPES)})$"),
            " or ".join(SERVICE_TYPES),
            "ClusterIP",
        ),
        server_url=c.url("SERVER_URL", ("http", "https"), "http://hai.example.com"),
        dry_run=c.flag("DRY_RUN"),
        extra_mounts=_mounts(c),
        extra_environments=_environments(c),
        provider=c.match(
            "PROVIDER", re.compile(rf"^({'|'.join(PROVIDERS)})$"), " or ".join(PROVIDERS), "k8s"
        ),
        base_envs=_base_envs(c),
        base_envs_dir=c.path("BASE_ENVS_DIR", optional=True),
        base_envs_uid=c.integer(
            "BASE_ENVS_UID", 1, 999_999_999, "an integer uid 1-999999999 (not root)"
        ),
    )
    _cross(c, cfg)
    if c.problems:
        raise ConfigError(c.problems)
    return cfg
