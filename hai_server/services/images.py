"""Built-in images (the original's ``train_environment`` table): which one a submission runs
in (hai_server.domain.images decides), ``hai-cli images list``, admin add/remove."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hai_cli import validate as check
from hai_cli.scheduler.model import PolicyConfig, QuotaRow, Snapshot
from hai_cli.scheduler.quota import INTERNAL, QuotaBook
from hai_server.db import models as m
from hai_server.db.reads import Reads
from hai_server.db.session import Sessions
from hai_server.domain.images import Choice, ImageRefused, TrainEnvironment, allowed, choose
from hai_server.services.errors import Conflict, Forbidden, Invalid, NotFound, QuotaRefused

if TYPE_CHECKING:
    from hai_server.services.tasks import Caller

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")


class ImageBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    image: str
    python: str = "python3"
    environments: dict[str, str] = msgspec.field(default_factory=dict)


def _env(r: Any) -> TrainEnvironment:
    config = r.config or {}
    envs = config.get("environments") or {}
    return TrainEnvironment(
        r.env_name, r.image, r.python or "python3", {str(k): str(v) for k, v in envs.items()}
    )


class ImageService:
    def __init__(
        self, sessions: Sessions, reads: Reads, policy: PolicyConfig, backend: str
    ) -> None:
        self._sessions = sessions
        self._reads = reads
        self._policy = policy
        self.backend = backend

    async def environments(self) -> list[TrainEnvironment]:
        async with self._reads.engine.connect() as c:
            q = select(m.TrainEnvironment.__table__).order_by(m.TrainEnvironment.env_name)
            return [_env(r) for r in await c.execute(q)]

    def _quota(self, caller: Caller, rows: list[QuotaRow], groups: tuple[str, ...]) -> Any:
        roles = {} if caller.role == INTERNAL else {caller.name: caller.role}
        book = QuotaBook(
            Snapshot(quotas=tuple(rows), user_groups={caller.name: groups}, roles=roles),
            self._policy,
            time.time(),
        )
        return lambda resource: book.limit(caller.name, resource)[0]

    async def choose(
        self,
        caller: Caller,
        requested: str | None,
        rows: list[QuotaRow],
        groups: tuple[str, ...],
        image_rows: list[Any] | None = None,
    ) -> Choice:
        """The image of a submission; 403 (no quota) or 422 (unknown, backend cannot)."""
        envs = await self.environments() if image_rows is None else [_env(r) for r in image_rows]
        try:
            return choose(requested, envs, self._quota(caller, rows, groups), self.backend)
        except ImageRefused as exc:
            raise (QuotaRefused if exc.status == 403 else Invalid)(exc.message) from None

    async def list(self, caller: Caller, every: bool = False) -> list[dict[str, Any]]:
        """The built-in images the caller may use (``every``: all, admins only), default
        first, each with its quota."""
        if every and not caller.admin:
            raise Forbidden("--all needs the admin role")
        rows, groups = await self._reads.quota_rows(caller.name, caller.role)
        quota = self._quota(caller, rows, groups)
        envs = await self.environments()
        mine = allowed(envs, quota)
        default = mine[0][0].name if mine else None
        listed = [(e, q) for e, q in mine]
        if every:
            names = {e.name for e, _ in mine}
            listed += [(e, quota(f"train_environment:{e.name}")) for e in envs
                       if e.name not in names]  # fmt: skip
        return [
            {"name": e.name, "image": e.image, "python": e.python,
             "environments": dict(e.environments), "quota": q,
             "allowed": q is None or q > 0, "default": e.name == default}
            for e, q in listed
        ]  # fmt: skip

    # -- admin ---------------------------------------------------------------------------------
    async def add(self, caller: Caller, body: ImageBody) -> dict[str, Any]:
        if not caller.admin:
            raise Forbidden("this needs the admin role")
        if not _NAME.fullmatch(body.name):
            raise Invalid(
                f"bad environment name {body.name!r}: letters, digits, _ . - (at most 64)"
            )
        try:
            check.image(body.image)
            check.env(body.environments)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        if not body.python or len(body.python) > 256 or not body.python.isprintable():
            raise Invalid("python: the interpreter's path or name, 1-256 printable characters")
        try:
            async with self._sessions.begin() as s:
                s.add(
                    m.TrainEnvironment(
                        env_name=body.name, image=body.image, python=body.python,
                        config={"environments": dict(body.environments)},
                    )
                )  # fmt: skip
        except IntegrityError:
            raise Conflict(f"train environment {body.name!r} exists already") from None
        return {"name": body.name, "image": body.image, "python": body.python,
                "environments": dict(body.environments)}  # fmt: skip

    async def remove(self, caller: Caller, name: str) -> dict[str, Any]:
        if not caller.admin:
            raise Forbidden("this needs the admin role")
        async with self._sessions.begin() as s:
            row = None if "\x00" in name else await s.get(m.TrainEnvironment, name)
            if row is None:
                raise NotFound(f"no train environment {name!r}")
            await s.delete(row)
        return {"name": name}
