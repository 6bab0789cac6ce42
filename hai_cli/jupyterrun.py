"""Run a Jupyter container's JupyterLab: ``python -m hai_cli.jupyterrun`` (under the rank wrapper).

The platform starts it with, in the environment:

* ``MASTER_PORT``: the free 127.0.0.1 port to listen on (the local backend picks it);
* ``JUPYTER_TOKEN``: the container's token (JupyterLab reads it from there: never in argv);
* ``HAI_JUPYTER_BASE_URL`` (``/{user}/{name}/``), ``HAI_JUPYTER_ROOT`` (notebooks and
  settings, ``{workspace}/{user}/jupyter``), ``HAI_JUPYTER_NAME``, ``HAI_JUPYTER_ENV`` (the
  default kernel's haienv, optional), ``HAIENV_PATH`` (the user's environments).

Before JupyterLab starts, every haienv environment of the user that has ``ipykernel`` becomes
a kernel named ``ENV[python]`` (a kernelspec in the container's own data directory, with the
environment activated as ``source haienv ENV`` would). A missing JupyterLab is one clear line
in the log and exit code 127. Standard library only (and haienv's own light modules).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

KERNEL_PREFIX = "hai-"
EXIT_MISSING = 127


def kernel_id(env_name: str) -> str:
    """The kernelspec directory name of haienv ``env_name`` (JupyterLab: [A-Za-z0-9._-])."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in env_name)
    return f"{KERNEL_PREFIX}{safe}".lower()


def has_ipykernel(paths: list[str]) -> bool:
    return any(os.path.isdir(os.path.join(p, "ipykernel")) for p in paths if p)


def env_kernels(user: str, environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """One kernelspec (``{"id", "spec"}``) per haienv environment of ``user`` with ipykernel."""
    from hai_cli.haienv import activation, roots, store
    from hai_cli.haienv.errors import HaienvError

    out = []
    try:
        envs = store.list_envs(roots.envs_root(environ), [user])
    except (HaienvError, OSError):
        return []
    for e in envs:
        try:
            chain = activation.load_chain(e.prefix)
        except HaienvError:
            continue
        paths = [d for c in chain for d in (c.site_packages, *c.search_dirs)]
        if not has_ipykernel(paths):
            continue
        act = activation.activation(chain)
        applied = activation.apply(act, environ)
        env = {k: applied[k] for k in act.names if k in applied}
        python = os.path.join(e.bin_dir, "python")
        out.append(
            {
                "id": kernel_id(e.name),
                "spec": {
                    "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": f"{e.name}[python]",
                    "language": "python",
                    "env": env,
                    "metadata": {"haienv": e.ref},
                },
            }
        )
    return out


def write_kernels(data_dir: Path, kernels: list[dict[str, Any]]) -> None:
    """Replace the platform's kernelspecs in ``data_dir/kernels`` by ``kernels``."""
    folder = data_dir / "kernels"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{KERNEL_PREFIX}*"):
        shutil.rmtree(old, ignore_errors=True)
    for k in kernels:
        d = folder / k["id"]
        d.mkdir(parents=True, exist_ok=True)
        (d / "kernel.json").write_text(json.dumps(k["spec"], indent=1))


def lab_argv(
    python: str, port: int, base_url: str, root: str, default_kernel: str | None,
    ip: str = "127.0.0.1",
) -> list[str]:  # fmt: skip
    argv = [
        python, "-m", "jupyterlab", "--no-browser",
        f"--ServerApp.ip={ip}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.base_url={base_url}", f"--ServerApp.root_dir={root}",
        # the platform's proxy sends requests with the Host it was reached at
        "--ServerApp.allow_remote_access=True",
        "--LabServerApp.open_browser=False",
        "--ServerApp.terminado_settings={'shell_command': ['/bin/bash']}",
    ]  # fmt: skip
    if os.geteuid() == 0:  # the platform ran it as root on purpose (the owner's uid is 0)
        argv.append("--allow-root")
    if default_kernel:
        argv.append(f"--MultiKernelManager.default_kernel_name={default_kernel}")
    return argv


def main() -> int:
    environ = dict(os.environ)
    missing = [k for k in ("MASTER_PORT", "HAI_JUPYTER_BASE_URL", "HAI_JUPYTER_ROOT")
               if not environ.get(k)]  # fmt: skip
    if missing:
        print(f"[hai] jupyterrun needs {', '.join(missing)} (started by the platform)", flush=True)
        return 2
    if importlib.util.find_spec("jupyterlab") is None:
        print(
            f"[hai] JupyterLab is not installed for {sys.executable}: install it with "
            "pip install 'hai-platform[jupyter]' (or pip install jupyterlab)",
            flush=True,
        )
        return EXIT_MISSING
    root = Path(environ["HAI_JUPYTER_ROOT"])
    name = environ.get("HAI_JUPYTER_NAME") or "default"
    state = root / ".hai" / name  # this container's settings, data and runtime files
    dirs = {"JUPYTER_CONFIG_DIR": state / "config", "JUPYTER_DATA_DIR": state / "data",
            "JUPYTER_RUNTIME_DIR": state / "runtime"}  # fmt: skip
    for d in (root, *dirs.values()):
        d.mkdir(parents=True, exist_ok=True)
    user = environ.get("HAI_USER") or environ.get("USER") or ""
    kernels = env_kernels(user, environ) if user else []
    write_kernels(dirs["JUPYTER_DATA_DIR"], kernels)
    for k in kernels:
        print(f"[hai] kernel {k['spec']['display_name']} ({k['id']})", flush=True)
    default = None
    wanted = environ.get("HAI_JUPYTER_ENV")
    if wanted:
        default = kernel_id(wanted.split("[", 1)[0])
        if default not in {k["id"] for k in kernels}:
            print(f"[hai] haienv {wanted} has no ipykernel: not the default kernel", flush=True)
            default = None
    env = {**environ, **{k: str(v) for k, v in dirs.items()}}
    env["JUPYTER_PREFER_ENV_PATH"] = "0"
    argv = lab_argv(sys.executable, int(environ["MASTER_PORT"]),
                    environ["HAI_JUPYTER_BASE_URL"], str(root), default,
                    environ.get("HAI_JUPYTER_IP") or "127.0.0.1")  # fmt: skip
    print(f"[hai] starting JupyterLab on 127.0.0.1:{environ['MASTER_PORT']}", flush=True)
    os.execve(sys.executable, argv, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
