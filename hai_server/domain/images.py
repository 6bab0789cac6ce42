"""Which image a submission runs in (pure): the original's ``train_environment`` rules.

A built-in environment (name, image, python, environment variables) is allowed to a user
with quota ``train_environment:{name}`` > 0; ``-i NAME`` picks one, no ``-i`` the allowed one
with the highest quota (then by name); ``-i`` with a registry reference (a ``/`` or ``:``)
names a custom image. The local backend runs processes, not images: any ``-i`` is refused
there with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

RESOURCE_PREFIX = "train_environment:"


class ImageRefused(Exception):
    """``status`` 403 (no quota) or 422 (no such environment, backend cannot)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class TrainEnvironment:
    name: str
    image: str
    python: str = "python3"
    environments: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Choice:
    """What the task runs in: ``image`` None means the backend's default."""

    image: str | None
    environment: str | None = None
    python: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)


def resource(name: str) -> str:
    return RESOURCE_PREFIX + name


def allowed(
    envs: Iterable[TrainEnvironment], quota: Callable[[str], int | None]
) -> list[tuple[TrainEnvironment, int | None]]:
    """The environments the user may use with their quota (None: no limit), default first."""
    out = []
    for e in envs:
        q = quota(resource(e.name))
        if q is None or q > 0:
            out.append((e, q))
    return sorted(out, key=lambda p: (-(p[1] if p[1] is not None else 2**62), p[0].name))


def choose(
    requested: str | None,
    envs: Iterable[TrainEnvironment],
    quota: Callable[[str], int | None],
    backend: str,
) -> Choice:
    """The image of a submission (``requested``: its ``-i``), or ImageRefused."""
    envs = list(envs)
    if requested is not None and backend == "local":
        raise ImageRefused(
            422,
            f"-i {requested}: this platform's local backend runs ranks as processes on the "
            "server's machine and cannot run an image; drop -i (the task runs in the "
            "server's environment, or in a haienv with --env NAME)",
        )
    ok = allowed(envs, quota)
    if requested is None:
        if not ok or backend == "local":
            # the local backend: the default environment's variables still apply
            if ok:
                e = ok[0][0]
                return Choice(None, e.name, None, dict(e.environments))
            return Choice(None)
        e = ok[0][0]
        return Choice(e.image, e.name, e.python, dict(e.environments))
    by_name = {e.name: e for e in envs}
    e = by_name.get(requested)
    if e is None:
        if "/" in requested or ":" in requested:
            return Choice(requested)  # a registry reference: a custom image
        known = ", ".join(sorted(by_name)) or "none"
        raise ImageRefused(
            422,
            f"no train environment {requested!r} (known: {known}; hai-cli images list); a "
            "custom image is a registry reference such as registry/name:tag",
        )
    if all(a.name != requested for a, _ in ok):
        mine = ", ".join(a.name for a, _ in ok) or "none"
        raise ImageRefused(
            403,
            f"train environment {requested!r} needs quota {resource(requested)} (you have "
            f"none; yours: {mine}); an admin grants it with hai-cli admin quota set USER|GROUP"
            f"|public {resource(requested)} 1",
        )
    return Choice(e.image, e.name, e.python, dict(e.environments))


__all__ = ["Choice", "ImageRefused", "TrainEnvironment", "allowed", "choose", "resource"]
