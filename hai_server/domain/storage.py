"""Storage rows -> the mounts of one user's task or container: pure, standard library only.

The original's ``storage`` table: each row mounts ``host_path`` at ``mount_path`` (both
templates over ``{user.user_name}``, ``{task.id}``...) for its ``owners`` (users, user groups,
roles, ``public``) when all its ``conditions`` hold. Several rows for one mount path: the most
specific wins (user + condition > user > group/role + condition > group/role > public +
condition > public); a winning ``remove`` row drops the mount. :func:`mounts_for` is what the
reconciler puts on task pods and what a Jupyter container builder calls.

Conditions are restricted expressions, never ``eval``: ``and``/``or``/``not``, comparisons
(``==``, ``!=``, ``is``, ``is not``, ``in``, ``not in``), string and number literals, ``None``,
``True``/``False``, attributes of ``user`` and ``task`` (:data:`USER_FIELDS`,
:data:`TASK_FIELDS`) and their ``.startswith(...)`` / ``.endswith(...)``.
"""

from __future__ import annotations

import ast
import hashlib
import posixpath
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

HOST_PATH_TYPES = ("Directory", "File", "DirectoryOrCreate", "FileOrCreate", "Socket", "")
CONFIGMAP, PVC = "configmap", "pvc"
MOUNT_TYPES = (*HOST_PATH_TYPES, CONFIGMAP, PVC)
ACTIONS = ("add", "remove")
PUBLIC = "public"
USER_FIELDS = ("user_name", "name", "role", "groups", "uid")
TASK_FIELDS = ("id", "name", "group", "nodes", "image", "task_type", "workdir")
MAX_CONDITION = 512
_OBJECT = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?(/[-._A-Za-z0-9]{1,253})?$")


class StorageError(ValueError):
    """A row that cannot be used: the message names the field and what is expected."""


@dataclass(frozen=True, slots=True)
class MountUser:
    user_name: str
    role: str = "internal"
    groups: tuple[str, ...] = ()
    uid: int | None = None

    @property
    def name(self) -> str:
        return self.user_name


@dataclass(frozen=True, slots=True)
class MountTask:
    """What conditions and templates may read of a task (or a container: task_type)."""

    id: int = 0
    name: str = ""
    group: str = ""
    nodes: int = 1
    image: str = ""
    task_type: str = "training"
    workdir: str = ""


@dataclass(frozen=True, slots=True)
class StorageRow:
    host_path: str
    mount_path: str
    owners: tuple[str, ...] = (PUBLIC,)
    conditions: tuple[str, ...] = ()
    mount_type: str = "Directory"
    read_only: bool = False
    action: str = "add"
    active: bool = True
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Mount:
    """One resolved mount; ``row_id`` is the row it came from (for explanations)."""

    source: str  # host path, ConfigMap name or claim name
    mount_path: str
    mount_type: str
    read_only: bool
    sub_path: str | None = None  # ConfigMap NAME/KEY: the key
    row_id: int | None = field(default=None, compare=False)

    @property
    def volume_name(self) -> str:
        """A stable DNS-label name for the pod volume (one mount per path)."""
        return "st-" + hashlib.sha1(self.mount_path.encode()).hexdigest()[:12]

    def as_pod_mount(self) -> dict[str, object]:
        """The Kubernetes backend's StorageMount fields (braces escaped: already filled)."""
        kind = "configmap" if self.mount_type == CONFIGMAP else self.mount_type
        out: dict[str, object] = {
            "name": self.volume_name,
            "kind": kind if kind in (CONFIGMAP, PVC) else "hostPath",
            "source": _escape(self.source),
            "mount_path": _escape(self.mount_path),
            "read_only": self.read_only,
        }
        if out["kind"] == "hostPath":
            out["host_path_type"] = self.mount_type
        if self.sub_path:
            out["sub_path"] = _escape(self.sub_path)
        return out


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


# -- checking rows (admin input) ------------------------------------------------------------
def check_row(row: StorageRow) -> StorageRow:
    """``row`` with its mount type normalised, or StorageError naming what is wrong."""
    kind = row.mount_type
    if kind.lower() in (CONFIGMAP, PVC):
        kind = kind.lower()
    if kind not in MOUNT_TYPES:
        raise StorageError(
            f"bad mount type {row.mount_type!r}: use one of "
            f"{', '.join(repr(k) for k in MOUNT_TYPES)} (or ConfigMap)"
        )
    if row.action not in ACTIONS:
        raise StorageError(f"bad action {row.action!r}: use add or remove")
    if not row.owners:
        raise StorageError("owners: at least one user, group, role or public")
    for owner in row.owners:
        if not owner or len(owner) > 64 or not owner.isprintable() or " " in owner:
            raise StorageError(f"bad owner {owner!r}: a user, group or role name, or public")
    sample = (MountUser("someone", groups=("g",), uid=1000), MountTask(1, "t", "default"))
    for what, text in (("host_path", row.host_path), ("mount_path", row.mount_path)):
        if not text or len(text) > 1024 or not text.isprintable():
            raise StorageError(f"{what}: 1-1024 printable characters")
        filled = fill(text, *sample)
        if kind not in (CONFIGMAP, PVC) or what == "mount_path":
            if not posixpath.isabs(filled):
                raise StorageError(f"{what} {text!r}: expected an absolute path")
            if ".." in filled.split("/"):
                raise StorageError(f"{what} {text!r}: '..' is not allowed")
    if kind in (CONFIGMAP, PVC) and not _OBJECT.fullmatch(fill(row.host_path, *sample)):
        raise StorageError(
            f"host_path {row.host_path!r}: a {kind} row names the object, NAME or NAME/KEY "
            "(NAME: lowercase letters, digits, - and .)"
        )
    if posixpath.normpath(fill(row.mount_path, *sample)) == "/":
        raise StorageError("mount_path: not the root directory")
    for cond in row.conditions:
        compile_condition(cond)
    return StorageRow(
        row.host_path, row.mount_path, tuple(row.owners), tuple(row.conditions), kind,
        row.read_only, row.action, row.active, row.id,
    )  # fmt: skip


# -- templates --------------------------------------------------------------------------------
class _Formatter(string.Formatter):
    """Only ``{user.X}`` / ``{task.X}`` with X a listed field: no indexing, no format specs,
    no other attribute (``{user.__class__}`` is refused)."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        first, _, rest = field_name.partition(".")
        allowed = {"user": USER_FIELDS, "task": TASK_FIELDS}.get(first)
        if allowed is None or not rest or "[" in field_name or "." in rest:
            raise StorageError(
                f"bad template field {{{field_name}}}: use {{user.user_name}}, {{task.id}}..."
            )
        if rest not in allowed:
            raise StorageError(
                f"unknown field {first}.{rest}: use {first}." + f", {first}.".join(allowed)
            )
        value = getattr(kwargs[first], rest)
        return (",".join(value) if isinstance(value, tuple) else value), first

    def format_field(self, value: Any, format_spec: str) -> Any:
        if format_spec:
            raise StorageError("template fields take no format spec")
        return super().format_field(value, "")


def fill(text: str, user: MountUser, task: MountTask | None) -> str:
    """``text`` with ``{user.X}`` / ``{task.X}`` filled in; StorageError for a bad field."""
    values = {"user": user, "task": task or MountTask(task_type="none")}
    try:
        return _Formatter().vformat(text, (), values)
    except StorageError:
        raise
    except (ValueError, IndexError, KeyError) as exc:
        raise StorageError(f"bad template {text!r}: {exc}") from None


# -- conditions -------------------------------------------------------------------------------
_CMP = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Is: lambda a, b: a is b if b is None or a is None else a == b,
    ast.IsNot: lambda a, b: a is not b if b is None or a is None else a != b,
    ast.In: lambda a, b: a in b if isinstance(b, str | tuple) else False,
    ast.NotIn: lambda a, b: a not in b if isinstance(b, str | tuple) else True,
    ast.Lt: lambda a, b: _numbers(a, b) and a < b,
    ast.LtE: lambda a, b: _numbers(a, b) and a <= b,
    ast.Gt: lambda a, b: _numbers(a, b) and a > b,
    ast.GtE: lambda a, b: _numbers(a, b) and a >= b,
}


def _numbers(*values: object) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def compile_condition(text: str) -> ast.Expression:
    """Parse and check a condition; StorageError names what is not allowed."""
    if len(text) > MAX_CONDITION:
        raise StorageError(f"condition longer than {MAX_CONDITION} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise StorageError(f"condition {text!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        _allowed(node, text)
    return tree


def _allowed(node: ast.AST, text: str) -> None:
    plain = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.Compare,
             ast.Load, ast.Tuple, *_CMP)  # fmt: skip
    ok = isinstance(node, plain)
    if isinstance(node, ast.Constant):
        ok = node.value is None or isinstance(node.value, str | int | bool)
    elif isinstance(node, ast.Name):
        ok = node.id in ("user", "task")
    elif isinstance(node, ast.Attribute):
        base = node.value
        ok = (
            isinstance(base, ast.Name)
            and node.attr in (USER_FIELDS if base.id == "user" else TASK_FIELDS)
        ) or node.attr in ("startswith", "endswith")
    elif isinstance(node, ast.Call):
        f = node.func
        ok = (
            isinstance(f, ast.Attribute)
            and f.attr in ("startswith", "endswith")
            and len(node.args) == 1
            and not node.keywords
        )
    if not ok:
        raise StorageError(
            f"condition {text!r}: {type(node).__name__} is not allowed (use and/or/not, "
            "comparisons, literals, user.*/task.* and .startswith()/.endswith())"
        )


def holds(text: str, user: MountUser, task: MountTask | None) -> bool:
    """Evaluate a condition (checked by :func:`compile_condition`)."""
    values = {"user": user, "task": task or MountTask(task_type="none")}
    return bool(_eval(compile_condition(text).body, values))


def _eval(node: ast.AST, values: dict[str, Any]) -> Any:
    if isinstance(node, ast.BoolOp):
        results = (_eval(v, values) for v in node.values)
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.UnaryOp):
        return not _eval(node.operand, values)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, values)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, values)
            if not _CMP[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Tuple):
        return tuple(_eval(e, values) for e in node.elts)
    if isinstance(node, ast.Attribute):
        if not isinstance(node.value, ast.Name):
            raise StorageError(f".{node.attr} only as a call, e.g. user.user_name.startswith('a')")
        return getattr(values[node.value.id], node.attr)
    if isinstance(node, ast.Call):
        target = _eval(node.func.value, values)  # type: ignore[attr-defined]
        arg = _eval(node.args[0], values)
        if not isinstance(target, str) or not isinstance(arg, str | tuple):
            return False
        return bool(getattr(target, node.func.attr)(arg))  # type: ignore[attr-defined]
    raise StorageError(f"cannot evaluate {type(node).__name__}")  # checked before: unreachable


# -- resolution -------------------------------------------------------------------------------
def _rank(row: StorageRow, user: MountUser) -> int | None:
    """How specific ``row`` is for ``user`` (higher wins), None when it is not theirs."""
    owners = set(row.owners)
    if user.user_name in owners:
        base = 4
    elif owners & {user.role, *user.groups}:
        base = 2
    elif PUBLIC in owners:
        base = 0
    else:
        return None
    return base + (1 if row.conditions else 0)


def mounts_for(
    user: MountUser, rows: Iterable[StorageRow], task: MountTask | None = None
) -> list[Mount]:
    """The mounts of ``user``'s task (or container, ``task.task_type``), by mount path.

    A row whose template or condition fails is skipped (admins are told when they add it:
    :func:`check_row`); rows are taken in id order for ties, the later one winning."""
    best: dict[str, tuple[int, int, StorageRow, Mount | None]] = {}
    for order, row in enumerate(rows):
        if not row.active:
            continue
        rank = _rank(row, user)
        if rank is None:
            continue
        try:
            if not all(holds(c, user, task) for c in row.conditions):
                continue
            mount_path = posixpath.normpath(fill(row.mount_path, user, task))
            source = fill(row.host_path, user, task)
        except StorageError:
            continue
        mount = None
        if row.action == "add":
            sub_path = None
            if row.mount_type == CONFIGMAP and "/" in source:
                source, sub_path = source.split("/", 1)
            mount = Mount(source, mount_path, row.mount_type, row.read_only, sub_path, row.id)
        old = best.get(mount_path)
        if old is None or (rank, order) >= old[:2]:
            best[mount_path] = (rank, order, row, mount)
    return [m for _, _, _, m in (best[p] for p in sorted(best)) if m is not None]


def covering_mount(workdir: str, mounts: Iterable[Mount]) -> Mount | None:
    """The mount whose path holds ``workdir`` (the deepest), or None."""
    path = posixpath.normpath(workdir)
    found = None
    for m in mounts:
        if m.mount_type in (CONFIGMAP, "File", "FileOrCreate", "Socket"):
            continue
        inside = path == m.mount_path or path.startswith(m.mount_path.rstrip("/") + "/")
        if inside and (found is None or len(m.mount_path) > len(found.mount_path)):
            found = m
    return found


__all__ = [
    "MOUNT_TYPES",
    "Mount",
    "MountTask",
    "MountUser",
    "StorageError",
    "StorageRow",
    "check_row",
    "compile_condition",
    "covering_mount",
    "fill",
    "holds",
    "mounts_for",
]
