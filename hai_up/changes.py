"""What a config change does to a running platform, in words (pure).

``run``/``upgrade`` with ``-p k8s`` record :func:`applied` (no token, no password, only a
digest of EXTRA_ENVIRONMENTS and of the settings) in an
annotation of the platform's ConfigMap, read it back from the cluster on the next command,
and print :func:`describe` of the two: ``changed: nodes added: gpu-3 (training)`` ... The
record also says which nodes hai-up labelled under which key, so :func:`dropped_labels`
knows the labels to remove from nodes no longer listed.

``init.sql`` never overwrites a row (an admin may have changed it since): :func:`row_plan`
changes a public quota or a role through the admin API while the row still holds what the
previous config set; a changed uid, group, mount or image environment is said together with
what to do about it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from hai_up.config import UpConfig

ANNOTATION = "hai.platform/applied-config"
KEPT = "init.sql keeps the existing row"


def label_key(cfg: UpConfig) -> str:
    """The node label of the groups: ``{MARS_PREFIX}_mars_group`` (``mars_group`` without)."""
    return f"{cfg.mars_prefix}_mars_group" if cfg.mars_prefix else "mars_group"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def applied(cfg: UpConfig, override_toml: str) -> dict[str, Any]:
    """The part of a config whose change an operator wants to hear about (JSON-able)."""
    return {
        "label": label_key(cfg),
        "nodes": dict(cfg.node_groups),
        "manager_nodes": list(cfg.manager_nodes),
        "users": {
            u.name: {"uid": u.uid, "role": u.role, "group": u.group or ""} for u in cfg.users
        },
        "training_group": cfg.training_group,
        "public_quota": dict(cfg.public_quota),
        "mounts": sorted(
            f"{m.source}:{m.target}:{m.kind}{':ro' if m.read_only else ''}"
            for m in cfg.extra_mounts
        ),
        "environments": _digest(json.dumps(sorted(cfg.extra_environments))),
        "image": cfg.base_image,
        "train_image": cfg.train_image,
        "replicas": cfg.server_replicas,
        "settings": _digest(override_toml),
    }


def encode(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def decode(text: str | None) -> dict[str, Any] | None:
    """A record read back from the cluster; None when absent or not ours."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _names(items: list[str]) -> str:
    return ", ".join(items)


def _keyed(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(added, removed, changed) keys of two mappings, sorted."""
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(k for k in set(old) & set(new) if old[k] != new[k])
    return added, removed, changed


def _nodes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    o, n = old.get("nodes") or {}, new.get("nodes") or {}
    added, removed, moved = _keyed(o, n)
    out = []
    if added:
        out.append(f"nodes added: {_names([f'{x} ({n[x]})' for x in added])}")
    if removed:
        out.append(f"nodes removed: {_names(removed)} (their group label is removed)")
    if moved:
        out.append(f"nodes moved: {_names([f'{x} ({o[x]} -> {n[x]})' for x in moved])}")
    if old.get("label") and old.get("label") != new.get("label"):
        out.append(f"node label: {old['label']} -> {new['label']} (the old one is removed)")
    if (old.get("manager_nodes") or []) != (new.get("manager_nodes") or []):
        out.append(f"MANAGER_NODES: {_names(new.get('manager_nodes') or []) or '(any node)'}")
    return out


def _users(old: dict[str, Any], new: dict[str, Any], by_api: bool) -> list[str]:
    o, n = old.get("users") or {}, new.get("users") or {}
    added, removed, changed = _keyed(o, n)
    out = []
    if added:
        out.append(f"users added: {_names(added)}")
    if removed:
        out.append(
            f"users no longer in USER_INFO: {_names(removed)} (still in the database: "
            "hai-cli admin user disable NAME)"
        )
    if by_api:  # a changed role is role_plan's
        changed = [u for u in changed if {**o[u], "role": ""} != {**n[u], "role": ""}]
    if changed:
        what = "uid/group" if by_api else "uid/role/group"
        out.append(
            f"users changed: {_names(changed)} ({what}: {KEPT}; hai-cli admin user role|groups)"
        )
    return out


def _rows(old: dict[str, Any], new: dict[str, Any], by_api: bool) -> list[str]:
    out = []
    added, removed, changed = _keyed(old.get("public_quota") or {}, new.get("public_quota") or {})
    quota = new.get("public_quota") or {}
    if added:
        out.append(f"public quota added: {_names([f'{x}={quota[x]}' for x in added])}")
    if (removed or changed) and not (by_api and _same_group(old, new)):
        out.append(
            f"public quota changed: {_names(removed + changed)} ({KEPT}: "
            "hai-cli admin quota set public ...)"
        )
    o_m, n_m = set(old.get("mounts") or []), set(new.get("mounts") or [])
    if n_m - o_m:
        out.append(f"mounts added: {_names(sorted(n_m - o_m))}")
    if o_m - n_m:
        out.append(
            f"mounts no longer in EXTRA_MOUNTS: {_names(sorted(o_m - n_m))} (the storage row "
            "stays: hai-cli admin storage remove)"
        )
    if old.get("environments") != new.get("environments"):
        out.append(f"EXTRA_ENVIRONMENTS changed ({KEPT} of image hai_base)")
    return out


def describe(old: dict[str, Any] | None, new: dict[str, Any], *, by_api: bool = False) -> list[str]:
    """One line per change from ``old`` (None: the first deployment) to ``new``; ``by_api``:
    changed public quotas and roles are applied (and said) by :func:`row_plan` instead."""
    if old is None:
        return []
    out = _nodes(old, new) + _users(old, new, by_api) + _rows(old, new, by_api)
    for key, what in (("image", "BASE_IMAGE"), ("train_image", "TRAIN_IMAGE")):
        if old.get(key) != new.get(key):
            out.append(f"{what}: {old.get(key)} -> {new.get(key)}")
    if old.get("replicas") != new.get("replicas"):
        out.append(f"SERVER_REPLICAS: {old.get('replicas')} -> {new.get('replicas')}")
    if old.get("settings") != new.get("settings"):
        out.append("server settings (override.toml) changed")
    return out


def dropped_labels(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, dict[str, str]]:
    """node -> {label: value hai-up set} to remove: nodes no longer listed, or every node's old
    key when the key changed. A label is only removed while it still has hai-up's value."""
    if old is None:
        return {}
    out: dict[str, dict[str, str]] = {}
    old_key = old.get("label") or ""
    for node, group in (old.get("nodes") or {}).items():
        if not old_key or (old_key == new["label"] and node in new["nodes"]):
            continue
        out[node] = {old_key: str(group)}
    return out


def _same_group(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return bool(old.get("training_group")) and old.get("training_group") == new["training_group"]


def quota_resource(group: str, level: str) -> str:
    """The quota row of a PUBLIC_QUOTA level (as init.sql writes it)."""
    return f"node-{group}-{level}"


@dataclass(frozen=True)
class RowChange:
    """One row to converge through the admin API: ``set`` it to ``value``, ``delete`` it, or
    ``keep`` it (an admin changed it since); ``kind`` is ``quota`` (``key``: the public quota's
    resource) or ``role`` (``key``: the user); ``line`` says it."""

    kind: str
    action: str
    key: str
    value: int | str
    line: str


def row_plan(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    quotas: dict[str, int],
    roles: dict[str, str],
) -> list[RowChange]:
    """What init.sql cannot change (it never overwrites a row), to do through the admin API:
    a public quota level or a user's role whose value changed in the config (``quotas``:
    resource -> value, ``roles``: user -> role, both as the database holds them now). A row
    is only changed while it still holds what the previous config set; one an admin changed
    since is kept and said. New rows are init.sql's (inserted at the servers' start)."""
    if old is None:
        return []
    return _quota_plan(old, new, quotas) + _role_plan(old, new, roles)


def _role_plan(old: dict[str, Any], new: dict[str, Any], roles: dict[str, str]) -> list[RowChange]:
    o, n = old.get("users") or {}, new.get("users") or {}
    out = []
    for user in sorted(set(o) & set(n)):
        was, want = o[user].get("role"), n[user].get("role")
        if was == want:
            continue
        have = roles.get(user)
        if have != was:
            line = f"user {user}: role kept ({have}: an admin changed it; the config says {want})"
            out.append(RowChange("role", "keep", user, str(have), line))
        else:
            out.append(
                RowChange("role", "set", user, str(want), f"user {user}: role {was} -> {want}")
            )
    return out


def _quota_plan(
    old: dict[str, Any], new: dict[str, Any], current: dict[str, int]
) -> list[RowChange]:
    if not _same_group(old, new):
        return []
    group = new["training_group"]
    was_all, want_all = old.get("public_quota") or {}, new.get("public_quota") or {}
    out = []
    for level in sorted(was_all):
        was, want = was_all[level], want_all.get(level)
        if was == want:
            continue
        resource = quota_resource(group, level)
        have = current.get(resource)
        if have != was:
            now = "no row" if have is None else have
            says = "closed" if want is None else want
            line = (
                f"public quota {level}: kept ({now}: an admin changed it; the config says {says})"
            )
            out.append(RowChange("quota", "keep", resource, was if have is None else have, line))
        elif want is None:
            line = f"public quota {level}: {was} -> closed"
            out.append(RowChange("quota", "delete", resource, was, line))
        else:
            line = f"public quota {level}: {was} -> {want}"
            out.append(RowChange("quota", "set", resource, want, line))
    return out
