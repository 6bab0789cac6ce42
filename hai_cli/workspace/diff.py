"""What moves between two manifests (pure). A manifest: {path: (sha256, size, executable)}."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Entry = tuple[str, int, bool]
Manifest = Mapping[str, Entry]


@dataclass(frozen=True, slots=True)
class Diff:
    only_local: tuple[str, ...]
    only_remote: tuple[str, ...]
    changed: tuple[str, ...]  # on both sides, different content
    same: int

    @property
    def clean(self) -> bool:
        return not (self.only_local or self.only_remote or self.changed)


def diff(local: Manifest, remote: Manifest) -> Diff:
    both = local.keys() & remote.keys()
    changed = sorted(p for p in both if local[p][:2] != remote[p][:2])
    return Diff(
        only_local=tuple(sorted(local.keys() - remote.keys())),
        only_remote=tuple(sorted(remote.keys() - local.keys())),
        changed=tuple(changed),
        same=len(both) - len(changed),
    )
