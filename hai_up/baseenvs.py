"""The platform's base environments (haienv): which specs, where, and how they are built.

Paths are the same on the host, in the server containers and in the pods, so an environment
made in one is valid in the others (a venv only works at the path where it was made):

- the envs root ``HAI_PLATFORM_PATH/envs`` (the server's ``[server] envs_root``), mounted at
  that path; the platform's root is ``envs/platform`` (owned by ``BASE_ENVS_UID``);
- the selected specs are copied to ``HAI_PLATFORM_PATH/environments/NAME.toml`` (docker-compose)
  or a ConfigMap (Kubernetes), seen by the build at ``/etc/hai/environments``.

The build is ``haienv build`` inside the platform's image (its Python is the one the ranks
use), as ``BASE_ENVS_UID``, with a clean environment: versioned and idempotent (see
hai_cli/haienv/builds.py). Everything here is pure except :func:`resolve_specs` (reads the
spec files), :func:`write_spec_files` and :func:`built_state` (reads the platform's root).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from hai_cli.haienv.errors import HaienvError
from hai_cli.haienv.names import PLATFORM_OWNER
from hai_cli.haienv.spec import parse_spec
from hai_up.config import UpConfig
from hai_up.errors import ConfigError, UpError
from hai_up.render.base_envs import spec_files
from hai_up.render.override import envs_root as render_envs_root


def default_specs_dir() -> Path:
    """``environments/`` of the source tree hai-up runs from."""
    return Path(__file__).resolve().parents[1] / "environments"


def specs_dir(cfg: UpConfig) -> Path:
    return cfg.base_envs_dir or default_specs_dir()


def envs_root(cfg: UpConfig) -> Path:
    """The server's envs root: ``{envs_root}/{owner}/{name}``."""
    return Path(render_envs_root(cfg))


def platform_root(cfg: UpConfig) -> Path:
    return envs_root(cfg) / PLATFORM_OWNER


def specs_host_dir(cfg: UpConfig) -> Path:
    """Where docker-compose's build reads the selected specs (mounted read-only)."""
    return cfg.hai_platform_path / "environments"


def select(requested: tuple[str, ...] | None, available: list[str], where: str) -> list[str]:
    """The spec names to build: ``requested`` (None: all), each of which must exist (pure)."""
    if requested is None:
        return sorted(available)
    missing = [name for name in requested if name not in available]
    if missing:
        have = ", ".join(sorted(available)) or "none"
        raise ValueError(f"BASE_ENVS: no spec {missing[0]!r} in {where} (specs there: {have})")
    return list(requested)


def available_specs(directory: Path) -> list[str]:
    """The names of the ``*.toml`` specs in ``directory`` (empty when it does not exist)."""
    try:
        return sorted(p.stem for p in directory.glob("*.toml") if p.is_file())
    except OSError:
        return []


def resolve_specs(cfg: UpConfig) -> tuple[UpConfig, tuple[str, ...]]:
    """``cfg`` with the selected specs read and checked, and warnings; ConfigError (one line
    per problem) for an unknown name or a spec that does not parse."""
    if cfg.base_envs == ():
        return cfg, ()
    directory = specs_dir(cfg)
    if cfg.base_envs is None and not directory.is_dir():
        why = f"{directory} does not exist (set BASE_ENVS_DIR, or BASE_ENVS=none)"
        return cfg, (f"no base environments are built: {why}",)
    try:
        names = select(cfg.base_envs, available_specs(directory), str(directory))
    except ValueError as exc:
        raise ConfigError([str(exc)]) from None
    specs, seen, problems = [], {}, []
    for name in names:
        path = directory / f"{name}.toml"
        try:
            text = path.read_text(encoding="utf-8")
            spec = parse_spec(text, str(path), default_name=name)
        except OSError as exc:
            problems.append(f"BASE_ENVS: cannot read {path}: {exc.strerror or exc}")
            continue
        except HaienvError as exc:
            problems.append(f"BASE_ENVS: {exc}")
            continue
        if spec.name in seen:
            problems.append(
                f"BASE_ENVS: {name}.toml and {seen[spec.name]}.toml both make environment "
                f"{spec.name!r}"
            )
        seen[spec.name] = name
        specs.append((name, text))
    if problems:
        raise ConfigError(problems)
    return dataclasses.replace(cfg, base_env_specs=tuple(specs)), ()


def parse_results(stdout: str) -> list[dict[str, Any]]:
    """The JSON lines ``haienv build --json`` printed (other lines are ignored)."""
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and "status" in item and "name" in item:
                out.append(item)
    return out


def describe(result: dict[str, Any]) -> str:
    """One line of a build result, as hai-up prints it (pure)."""
    ref = f"{result['name']}[{result.get('owner') or PLATFORM_OWNER}]"
    status = result["status"]
    if status == "failed":
        return f"{ref}: build failed: {result.get('error')}"
    if status == "skipped":
        return f"{ref}: unchanged (digest {result.get('digest')}), not rebuilt"
    seconds = float(result.get("seconds") or 0.0)
    was = f" (replaces {result['previous']})" if result.get("previous") else ""
    return f"{ref}: {status} in {seconds:.1f} s at {result.get('prefix')}{was}"


def outcome(cfg: UpConfig, stdout: str, stderr: str, exit_code: int) -> list[str]:
    """The lines to print; UpError (exit 1, one line) when anything failed. The platform is
    up by then: the message says so, and that what built before stays in use."""
    results = parse_results(stdout)
    lines = [describe(r) for r in results]
    failed = [line for r, line in zip(results, lines, strict=True) if r["status"] == "failed"]
    expected = len(cfg.base_env_specs)
    if exit_code != 0 and not failed:
        detail = " ".join((stderr or stdout).split()) or f"exit code {exit_code}"
        failed = [f"haienv build failed: {detail}"]
    elif len(results) < expected and not failed:
        failed = [f"haienv build reported {len(results)} of {expected} environments"]
    if failed:
        raise UpError(
            "the platform is up, but base environments did not build: "
            + "; ".join(failed)
            + " (what built before stays in use; fix the spec or BASE_ENVS, then run again)",
            1,
        )
    return lines


def write_spec_files(cfg: UpConfig) -> None:
    """Put the selected specs in ``HAI_PLATFORM_PATH/environments`` (0644: the build's uid
    reads them), removing the ones no longer selected."""
    directory = specs_host_dir(cfg)
    files = spec_files(cfg)
    try:
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        for old in directory.glob("*.toml"):
            if old.name not in files:
                old.unlink()
        for name, text in files.items():
            tmp = directory / f".{name}.tmp"
            tmp.write_text(text, encoding="utf-8")
            tmp.chmod(0o644)
            tmp.replace(directory / name)
    except OSError as exc:
        raise UpError(f"cannot write the base environment specs to {directory}: {exc}") from None


def built_state(cfg: UpConfig) -> dict[str, dict[str, Any]]:
    """For ``hai-up status``: each selected base environment as built in the platform's root
    (its current version, the digest it was built from, its Python, the versions kept)."""
    from hai_cli.haienv import meta as m

    root = platform_root(cfg)
    out: dict[str, dict[str, Any]] = {}
    for spec_name, text in cfg.base_env_specs:
        try:
            name = parse_spec(text, spec_name, default_name=spec_name).name
        except HaienvError:
            continue
        try:
            current = m.read(str(root / name))
        except HaienvError:
            current = None
        versions = sorted(p.name for p in (root / ".builds").glob(f"{name}-*") if p.is_dir())
        out[name] = {
            "built": current is not None,
            "path": current.prefix if current else None,
            "digest": current.spec_digest if current else None,
            "python": current.python if current else None,
            "versions_kept": versions,
        }
    return out
