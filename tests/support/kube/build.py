"""Build the real control plane's binaries from the Go module proxy into the versioned cache.

``python -m tests.support.kube.build`` builds what is missing (kube-apiserver,
kube-controller-manager and kube-scheduler from ``k8s.io/kubernetes``, etcd from
``go.etcd.io/etcd/server/v3``, kwok from ``sigs.k8s.io/kwok``) and exits 0 when every binary is
in :func:`~tests.support.kube.versions.bin_dir`; run twice, the second run does nothing. A failed
build leaves ``build-failed`` beside ``bin/`` with the reason (the test tier skips with it).

Kubernetes' own ``go.mod`` points its ``k8s.io/*`` staging modules at ``./staging``, which the
module zip does not carry: the build module replaces each of them with the published
``v0.X.Y`` module of the same release instead.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.support.kube import versions

_STAGING = re.compile(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", re.MULTILINE)


def _go_env(gocache: Path) -> dict[str, str]:
    """The build's environment: module mode, this Go (no toolchain download), no cgo, and a
    Go build cache shared by every version under the cache root (3 GB for Kubernetes)."""
    env = dict(os.environ)
    env.setdefault("GOFLAGS", "-mod=mod")
    env["GOTOOLCHAIN"] = "local"
    env["CGO_ENABLED"] = "0"
    env["GOCACHE"] = str(gocache)
    return env


def _run(cmd: Sequence[str], cwd: Path, env: dict[str, str], log: Path) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(
            ["nice", "-n", "15", *cmd], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({proc.returncode}): " + "\n".join(tail))


def _module(path: str, version: str, cwd: Path, env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{path}@{version}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"go mod download {path}@{version}: {out.stdout}{out.stderr}".strip())
    return json.loads(out.stdout)


def _write_module(work: Path, requires: dict[str, str], replaces: dict[str, str]) -> None:
    work.mkdir(parents=True, exist_ok=True)
    lines = ["module haiplatform.test/kubebuild", "", "go 1.26", "", "require ("]
    lines += [f"\t{path} {ver}" for path, ver in requires.items()]
    lines.append(")")
    if replaces:
        lines += ["", "replace ("]
        lines += [f"\t{path} => {path} {ver}" for path, ver in replaces.items()]
        lines.append(")")
    (work / "go.mod").write_text("\n".join(lines) + "\n")


def _install(tmp_bin: Path, names: Sequence[str]) -> None:
    dest = versions.bin_dir()
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.replace(tmp_bin / name, dest / name)


def build_kubernetes(root: Path, log: Path) -> None:
    work = root / "src" / "kubernetes"
    env = _go_env(versions.cache_root() / "gocache")
    work.mkdir(parents=True, exist_ok=True)
    info = _module("k8s.io/kubernetes", versions.KUBERNETES, work, env)
    staging = _STAGING.findall(Path(info["GoMod"]).read_text())
    minor = versions.KUBERNETES.lstrip("v").split(".", 1)[1]  # "36.3"
    replaces = {path: f"v0.{minor}" for path in staging}
    _write_module(work, {"k8s.io/kubernetes": versions.KUBERNETES}, replaces)
    major, kminor = versions.KUBERNETES.lstrip("v").split(".")[:2]
    flags = {
        "gitVersion": versions.KUBERNETES,
        "gitMajor": major,
        "gitMinor": kminor,
        "gitTreeState": "clean",
        "buildDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    ldflags = ["-s", "-w"]
    for key, val in flags.items():
        ldflags += ["-X", f"k8s.io/component-base/version.{key}={val}"]
        ldflags += ["-X", f"k8s.io/client-go/pkg/version.{key}={val}"]
    names = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    tmp_bin = work / "out"
    tmp_bin.mkdir(exist_ok=True)
    pkgs = [f"k8s.io/kubernetes/cmd/{n}" for n in names]
    _run(["go", "mod", "download", "k8s.io/kubernetes"], work, env, log)
    _run(
        ["go", "build", "-trimpath", "-ldflags", " ".join(ldflags), "-o", str(tmp_bin), *pkgs],
        work,
        env,
        log,
    )
    _install(tmp_bin, names)


def build_etcd_and_kwok(root: Path, log: Path) -> None:
    env = _go_env(versions.cache_root() / "gocache")
    for name, module, pkg in (
        ("etcd", "go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/server/v3"),
        ("kwok", "sigs.k8s.io/kwok", "sigs.k8s.io/kwok/cmd/kwok"),
    ):
        if os.access(versions.bin_dir() / name, os.X_OK):
            continue
        version = versions.ETCD if name == "etcd" else versions.KWOK
        work = root / "src" / name
        _write_module(work, {module: version}, {})
        tmp_bin = work / "out"
        tmp_bin.mkdir(exist_ok=True)
        _run(
            ["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(tmp_bin / name), pkg],
            work,
            env,
            log,
        )
        _install(tmp_bin, [name])


def build(*, force: bool = False) -> list[str]:
    """Build the missing binaries; returns the errors (empty when all are in the cache)."""
    if shutil.which("go") is None:
        return ["no `go` command on PATH (Go 1.26 builds Kubernetes v1.36)"]
    root = versions.version_dir()
    root.mkdir(parents=True, exist_ok=True)
    failed = root / "build-failed"
    if force:
        shutil.rmtree(versions.bin_dir(), ignore_errors=True)
    missing = versions.missing_binaries()
    if not missing:
        failed.unlink(missing_ok=True)
        return []
    jobs = []
    if {"kube-apiserver", "kube-controller-manager", "kube-scheduler"} & set(missing):
        jobs.append((build_kubernetes, root / "build-kubernetes.log"))
    if {"etcd", "kwok"} & set(missing):
        jobs.append((build_etcd_and_kwok, root / "build-etcd-kwok.log"))
    errors: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {pool.submit(fn, root, log): log for fn, log in jobs}
        for fut in concurrent.futures.as_completed(futures):
            try:
                fut.result()
            except Exception as exc:
                errors.append(f"{exc} (log: {futures[fut]})")
    if errors:
        failed.write_text("\n".join(errors) + "\n")
    else:
        failed.unlink(missing_ok=True)
    return errors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when cached")
    parser.add_argument("--check", action="store_true", help="only say whether all are cached")
    args = parser.parse_args(argv)
    if args.check:
        missing = versions.missing_binaries()
        print("missing: " + " ".join(missing) if missing else str(versions.bin_dir()))
        return 1 if missing else 0
    start = time.monotonic()
    errors = build(force=args.force)
    for err in errors:
        print(f"kube build: {err}", file=sys.stderr)
    if errors:
        return 1
    print(f"kube build: all binaries in {versions.bin_dir()} ({time.monotonic() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
