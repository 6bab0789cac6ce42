"""An environment's metadata: ``PREFIX/haienv.json``, written last when it is created.

A directory without it is not an environment (a create in progress, or one that died: the
next create of that name clears it). Pure conversion, plus the two small file operations.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from hai_cli.haienv.errors import HaienvError

META_FILE = "haienv.json"
CREATING_FILE = ".haienv-creating"  # holds the creating process's pid until it is done
FORMAT = 1


@dataclass(frozen=True, slots=True)
class Base:
    """The environment an extended one stands on."""

    owner: str
    name: str
    prefix: str


@dataclass(frozen=True, slots=True)
class EnvMeta:
    name: str
    owner: str
    prefix: str  # the environment's directory (a venv)
    python: str  # X.Y.Z of its interpreter
    site_packages: str  # its own site-packages directory
    extends: Base | None = None
    search_dirs: tuple[str, ...] = ()  # extra entries for PYTHONPATH
    environment: dict[str, str] = field(default_factory=dict)  # extra variables
    created_at: float = 0.0
    spec: str | None = None  # the spec file it was made from, if any
    spec_digest: str | None = None  # what ``haienv build`` made it from (builds.spec_digest)

    @property
    def ref(self) -> str:
        return f"{self.name}[{self.owner}]"

    @property
    def bin_dir(self) -> str:
        return os.path.join(self.prefix, "bin")

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = FORMAT
        data["search_dirs"] = list(self.search_dirs)
        return json.dumps(data, indent=1, sort_keys=True) + "\n"

    def replace(self, **changes: Any) -> EnvMeta:
        data = {k: getattr(self, k) for k in self.__slots__}  # type: ignore[attr-defined]
        data.update(changes)
        return EnvMeta(**data)


def from_json(text: str, where: str = "") -> EnvMeta:
    """Parse a metadata file's text; :class:`HaienvError` names ``where`` when it is bad."""
    try:
        data = json.loads(text)
        base = data.get("extends")
        return EnvMeta(
            name=str(data["name"]),
            owner=str(data["owner"]),
            prefix=str(data["prefix"]),
            python=str(data["python"]),
            site_packages=str(data["site_packages"]),
            extends=Base(str(base["owner"]), str(base["name"]), str(base["prefix"]))
            if base
            else None,
            search_dirs=tuple(str(d) for d in data.get("search_dirs") or ()),
            environment={str(k): str(v) for k, v in (data.get("environment") or {}).items()},
            created_at=float(data.get("created_at") or 0.0),
            spec=data.get("spec"),
            spec_digest=data.get("spec_digest"),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise HaienvError(f"unreadable environment metadata {where}: {exc}") from None


def read(prefix: str) -> EnvMeta | None:
    """The metadata of the environment at ``prefix``; None when there is none."""
    path = os.path.join(prefix, META_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            return from_json(fh.read(), path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def write(meta: EnvMeta) -> None:
    """Write ``meta`` atomically (a reader sees the old file or the new one)."""
    path = os.path.join(meta.prefix, META_FILE)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(meta.to_json())
    os.replace(tmp, path)
