"""``hai-up``: from a config file to a running platform (Kubernetes or docker-compose)."""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer

from hai_up import generated
from hai_up.config import CONFIG_TEMPLATE, UpConfig, load_config
from hai_up.errors import EXIT_FAILED, UpError
from hai_up.files import write_files
from hai_up.installation import check_owner, installation_for, read_marker
from hai_up.render import render_all
from hai_up.render.compose import render_compose
from hai_up.render.k8s import render_manifests, render_node_labels

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Deploy HAI Platform: 'hai-up config > config.sh', edit it, 'hai-up run -c config.sh'.",
)


class Provider(StrEnum):
    k8s = "k8s"
    docker_compose = "docker-compose"


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="config script (from 'hai-up config'); without it: the environment, then defaults",
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="go on when running tasks cannot be suspended with notice first (the server does "
        "not answer, or they do not suspend in time)",
    ),
]
ProviderOpt = Annotated[
    Provider | None,
    typer.Option(
        "--provider", "-p", help="where to deploy: k8s or docker-compose (default: PROVIDER)"
    ),
]
PROVIDERS = {
    Provider.k8s: "hai_up.providers.k8s",
    Provider.docker_compose: "hai_up.providers.compose",
}


def _fail(message: str, code: int) -> None:
    print(f"hai-up: {message}", file=sys.stderr)
    raise typer.Exit(code)


def _say(text: str) -> None:
    print(f"hai-up: {text}", flush=True)


def _config(path: Path | None) -> UpConfig:
    cfg = load_config(path, os.environ)
    for warning in cfg.warnings:
        print(f"hai-up: warning: {warning}", file=sys.stderr)
    return cfg


def _provider(cfg: UpConfig, given: Provider | None) -> Provider:
    """-p, else the config's PROVIDER (the original's variable)."""
    return given if given is not None else Provider(cfg.provider)


def _applying(
    config: Path | None, given: Provider | None
) -> tuple[generated.Pending, Provider] | None:
    """The config for run/upgrade with its secrets (generated ones are kept once the
    provider's preflight passed: ``Pending.commit``), or None after printing the plan when
    DRY_RUN is set (nothing started or written)."""
    cfg = _config(config)
    provider = _provider(cfg, given)
    if cfg.dry_run:
        cfg = generated.resolve(cfg, persist=False, say=_say)
        for line in _summary(cfg, render_all(cfg), provider):
            print(line)
        _say("DRY_RUN is set: nothing was started, changed or written")
        return None
    root = cfg.hai_platform_path
    check_owner(root, read_marker(root), installation_for(cfg, provider.value))
    return generated.prepare(cfg), provider


def provider_module(provider: Provider) -> ModuleType:
    """The provider's module, imported only when used (k8s works without compose)."""
    name = PROVIDERS[provider]
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise UpError(
            f"the {provider.value} provider is not part of this installation ({name} is missing)"
        ) from None


def _guard(fn: Any) -> Any:
    """Every command: UpError -> one line and its exit code; anything else -> one line, exit 1."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UpError as exc:
            _fail(exc.message, exc.exit_code)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # the CLI promises no traceback
            _fail(f"unexpected error: {type(exc).__name__}: {exc}", EXIT_FAILED)

    return run


@app.command("config")
def config_cmd() -> None:
    """Print a documented config script with the defaults."""
    sys.stdout.write(CONFIG_TEMPLATE)


def _summary(cfg: UpConfig, files: dict[str, str], provider: Provider) -> list[str]:
    out = [f"files for {cfg.hai_platform_path}:"]
    out += [f"  {name} ({len(text)} bytes)" for name, text in sorted(files.items())]
    if provider is Provider.k8s:
        out.append("Kubernetes objects, in apply order:")
        for obj in render_manifests(cfg):
            ns = obj["metadata"].get("namespace")
            where = f" (namespace {ns})" if ns else ""
            out.append(f"  {obj['kind']} {obj['metadata']['name']}{where}")
        labels = render_node_labels(cfg)
        out.append("node labels:" if labels else "node labels: none (no TRAINING/JUPYTER_NODES)")
        out += [f"  {p['node']}: {json.dumps(p['labels'])}" for p in labels]
    else:
        out.append(f"docker-compose project {cfg.compose_project}, services (host network):")
        for name, svc in render_compose(cfg)["services"].items():
            out.append(f"  {name}: {svc['image']} {' '.join(svc['command'])}")
    names = ", ".join(name for name, _ in cfg.base_env_specs) or "none (BASE_ENVS)"
    how = "Job hai-base-envs" if provider is Provider.k8s else "haienv build in server-0"
    out.append(f"base environments into {cfg.hai_platform_path}/envs/platform ({how}): {names}")
    return out


@app.command()
@_guard
def dryrun(
    config: ConfigOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write the rendered files here")
    ] = None,
    provider: ProviderOpt = None,
) -> None:
    """Render everything and print what would be applied; change nothing (-o: write files)."""
    cfg = _config(config)
    provider = _provider(cfg, provider)
    cfg = generated.resolve(cfg, persist=False, say=_say)
    files = render_all(cfg)
    for line in _summary(cfg, files, provider):
        print(line)
    if output is not None:
        for path in write_files(output, files):
            print(f"wrote {path}")


def _run(config: Path | None, given: Provider | None) -> None:
    applying = _applying(config, given)
    if applying is None:
        return
    pending, provider = applying
    provider_module(provider).run(
        pending.cfg, render_all(pending.cfg), on_preflight=lambda: pending.commit(_say)
    )
    print(f"hai-up: the platform is up ({provider.value}); hai-up status -c ... to watch it")


@app.command()
@_guard
def run(config: ConfigOpt = None, provider: ProviderOpt = None) -> None:
    """Deploy (or converge) the platform; re-running is idempotent."""
    _run(config, provider)


@app.command()
@_guard
def up(config: ConfigOpt = None, provider: ProviderOpt = None) -> None:
    """Alias of run."""
    _run(config, provider)


@app.command()
@_guard
def status(config: ConfigOpt = None, provider: ProviderOpt = None) -> None:
    """Print the platform's state as JSON."""
    cfg = _config(config)
    state = provider_module(_provider(cfg, provider)).status(cfg)
    from hai_up.baseenvs import built_state

    state["base_envs"] = built_state(cfg)  # read from the shared storage, both providers
    print(json.dumps(state, indent=2, sort_keys=True))


@app.command()
@_guard
def down(
    config: ConfigOpt = None,
    provider: ProviderOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    force: ForceOpt = False,
) -> None:
    """Suspend running tasks with notice, then remove what run applied; data is kept."""
    cfg = _config(config)
    chosen = _provider(cfg, provider)
    if cfg.dry_run:
        _say(f"DRY_RUN is set: down would remove the {chosen.value} deployment; nothing done")
        return
    cfg = generated.resolve(cfg, persist=False, say=_say)  # the admin token, to drain

    def confirm(question: str) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise UpError(f"down would {question.rstrip('?')}: confirm with -y", 1)
        return typer.confirm(f"hai-up: {question}", default=False)

    print(f"hai-up: {provider_module(chosen).down(cfg, confirm, force=force)}")


@app.command()
@_guard
def upgrade(
    config: ConfigOpt = None, provider: ProviderOpt = None, force: ForceOpt = False
) -> None:
    """Suspend running tasks with notice, roll the servers to the configured image and
    config (migrations run at start), resume the tasks; no data lost."""
    applying = _applying(config, provider)
    if applying is None:
        return
    pending, chosen = applying
    provider_module(chosen).upgrade(
        pending.cfg,
        render_all(pending.cfg),
        force=force,
        on_preflight=lambda: pending.commit(_say),
    )
    print("hai-up: upgraded")


def main() -> None:
    app(prog_name="hai-up")
