"""``init.sql``: users, tokens, user groups, public quotas and nodes, against OUR schema.

Every statement is ``INSERT ... ON CONFLICT DO NOTHING``: applying the file again (each
``run``/``upgrade`` does) changes nothing, and never overwrites what an admin changed since.
Tokens are stored as SHA-256 hex digests (the server's ``hash_token``). Plain SQL that both
PostgreSQL and SQLite (3.24+) accept; ``hai-server --init-sql FILE`` applies it in one
transaction after migrating.
"""

from __future__ import annotations

import hashlib
import json

from hai_up.config import UpConfig


def sql_text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def token_hash(token: str) -> str:
    """What the server stores for a token (``hai_server.db.session.hash_token``)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _user(name: str, role: str, token: str, uid: int | None = None) -> list[str]:
    n = sql_text(name)
    ids = "NULL, NULL" if uid is None else f"{uid}, {uid}"
    return [
        "INSERT INTO users (name, role, active, created_at, uid, gid)\n"
        f"VALUES ({n}, {sql_text(role)}, TRUE, 0, {ids})\nON CONFLICT (name) DO NOTHING;",
        "INSERT INTO tokens (user_id, token_hash, label, created_at)\n"
        f"SELECT id, {sql_text(token_hash(token))}, 'hai-up', 0 FROM users WHERE name = {n}\n"
        "ON CONFLICT (token_hash) DO NOTHING;",
    ]


WORKSPACE_TEMPLATE = "{user.user_name}"


def storage_rows(cfg: UpConfig) -> list[tuple[str, str, str, bool]]:
    """(host path, mount path, mount type, read-only) of the public storage rows: each user's
    workspace folder (as the original's init.sql), then EXTRA_MOUNTS."""
    ws = f"{cfg.hai_platform_path / 'workspace'}/{WORKSPACE_TEMPLATE}"
    rows = [(ws, ws, "Directory", False)]
    rows += [
        (m.source, m.target, "File" if m.kind == "file" else "Directory", m.read_only)
        for m in cfg.extra_mounts
    ]
    return rows


def _storage(cfg: UpConfig) -> list[str]:
    out = [
        "",
        "-- storage rows (the original's storage table): each user's workspace, EXTRA_MOUNTS;",
        "-- task pods mount them (the local backend: ranks start only inside them)",
    ]
    for host, mount, kind, ro in storage_rows(cfg):
        out.append(
            "INSERT INTO storage (host_path, mount_path, owners, conditions, mount_type, "
            "read_only, action, active)\n"
            f"VALUES ({sql_text(host)}, {sql_text(mount)}, '[\"public\"]', '[]', "
            f"{sql_text(kind)}, {'TRUE' if ro else 'FALSE'}, 'add', TRUE)\n"
            "ON CONFLICT (host_path, mount_path, action) DO NOTHING;"
        )
    return out


BASE_ENVIRONMENT = "hai_base"  # the original's built-in image name


def _images(cfg: UpConfig) -> list[str]:
    config = json.dumps({"environments": dict(cfg.extra_environments)}, sort_keys=True)
    resource = f"train_environment:{BASE_ENVIRONMENT}"
    return [
        "",
        "-- the built-in image every user may run in (TRAIN_IMAGE, EXTRA_ENVIRONMENTS), as the",
        "-- original's train_environment row; quota train_environment:NAME gates each image",
        "INSERT INTO train_environment (env_name, image, python, config)\n"
        f"VALUES ({sql_text(BASE_ENVIRONMENT)}, {sql_text(cfg.train_image)}, 'python3', "
        f"{sql_text(config)})\nON CONFLICT (env_name) DO NOTHING;",
        "INSERT INTO quotas (principal, resource, quota)\n"
        f"VALUES ('public', {sql_text(resource)}, 1)\n"
        "ON CONFLICT (principal, resource) DO NOTHING;",
    ]


def render_init_sql(cfg: UpConfig) -> str:
    out = [
        "-- Rendered by hai-up. Idempotent: every statement is INSERT ... ON CONFLICT DO NOTHING.",
        "-- Applied by `hai-server --init-sql FILE` (migrate, then this file in one transaction).",
        "",
        "-- the admin user (ADMIN_TOKEN; its uid is the server's) and the users of USER_INFO,",
        "-- whose ranks run as their uid",
    ]
    out += _user(cfg.admin_user, "admin", cfg.admin_token)
    for u in cfg.users:
        out += _user(u.name, u.role, u.token, u.uid)
    groups = [(u.name, u.group) for u in cfg.users if u.group]
    if groups:
        out += ["", "-- user groups (USER_INFO name:uid:role:token:group)"]
        out += [
            "INSERT INTO user_groups (user_name, group_name)\n"
            f"VALUES ({sql_text(name)}, {sql_text(group)})\nON CONFLICT DO NOTHING;"
            for name, group in groups
        ]
    if cfg.public_quota:
        out += ["", f"-- public quotas in {cfg.training_group} (PUBLIC_QUOTA)"]
        out += [
            "INSERT INTO quotas (principal, resource, quota)\n"
            f"VALUES ('public', {sql_text(f'node-{cfg.training_group}-{level}')}, {n})\n"
            "ON CONFLICT (principal, resource) DO NOTHING;"
            for level, n in cfg.public_quota
        ]
    out += _storage(cfg)
    out += _images(cfg)
    if cfg.hai_backend == "kubernetes" and cfg.node_groups:
        gpus = cfg.node_gpus or 0
        out += [
            "",
            "-- nodes of TRAINING_NODES / JUPYTER_NODES; unhealthy until the Kubernetes backend",
            "-- sees them (it then keeps group, GPUs and health up to date)",
        ]
        out += [
            'INSERT INTO nodes (name, "group", zone, gpus, healthy, cordoned, message, updated_at)\n'
            f"VALUES ({sql_text(node)}, {sql_text(group)}, '', {gpus}, FALSE, FALSE, "
            "'registered by hai-up, not yet seen by the backend', 0)\n"
            "ON CONFLICT (name) DO NOTHING;"
            for node, group in cfg.node_groups
        ]
    return "\n".join(out) + "\n"
