"""Workspace sync figures: ``hai-cli workspace push`` of 2,000 files / 200 MB to a fresh
workspace, then of the same tree with one file changed (target: the second push < 1 s), then
with nothing changed; and a full ``pull`` into an empty directory.

Every figure is the real command as a user runs it (a new ``hai-cli`` process each time,
against a real embedded server on a temporary HAI_HOME, over 127.0.0.1).

    python benchmarks/bench_workspace.py [--files 2000] [--mb 200]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def hai_cli() -> list[str]:
    exe = shutil.which("hai-cli", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "hai_cli.main"]


def run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, dict[str, object]]:
    t0 = time.perf_counter()
    out = subprocess.run([*hai_cli(), *args], env=env, cwd=cwd, capture_output=True, text=True)
    ms = (time.perf_counter() - t0) * 1000
    if out.returncode != 0:
        raise SystemExit(f"hai-cli {' '.join(args)} failed: {out.stderr}")
    return ms, json.loads(out.stdout) if out.stdout.strip().startswith("{") else {}


def make_tree(root: Path, files: int, total_mb: int) -> int:
    size = total_mb * 1024 * 1024 // files
    for i in range(files):
        folder = root / f"d{i // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:04d}.bin").write_bytes(os.urandom(size))
    return size * files


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--mb", type=int, default=200)
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "hai"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAI_")}
        env["HAI_HOME"] = str(home)
        proj = Path(tmp) / "proj"
        proj.mkdir()
        total = make_tree(proj, opts.files, opts.mb)
        subprocess.run([*hai_cli(), "server", "start"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            run(["workspace", "init", "bench", "--json"], env, proj)
            first_ms, first = run(["workspace", "push", "--json"], env, proj)
            mid = opts.files // 2
            rel = f"d{mid // 100:02d}/f{mid:04d}.bin"
            changed = proj / rel
            changed.write_bytes(os.urandom(changed.stat().st_size))
            second_ms, second = run(["workspace", "push", "--json"], env, proj)
            idle_ms, idle = run(["workspace", "push", "--json"], env, proj)
            other = Path(tmp) / "other"
            other.mkdir()
            run(["workspace", "init", "bench", "--json"], env, other)
            pull_ms, pulled = run(["workspace", "pull", "--json"], env, other)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            python_ms = (time.perf_counter() - t0) * 1000
        finally:
            subprocess.run([*hai_cli(), "server", "stop"], env=env, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    assert len(first["moved"]) == opts.files and second["moved"] == [rel]  # type: ignore[arg-type]
    assert idle["moved"] == [] and len(pulled["moved"]) == opts.files  # type: ignore[arg-type]
    mb = total / 1024 / 1024
    result = {
        "files": opts.files,
        "bytes": total,
        "first_push_ms": round(first_ms),
        "first_push_mb_s": round(mb / (first_ms / 1000), 1),
        "one_changed_push_ms": round(second_ms),
        "one_changed_bytes": second["bytes"],
        "no_change_push_ms": round(idle_ms),
        "full_pull_ms": round(pull_ms),
        "python_start_ms": round(python_ms),
        "targets": {"one_changed_push_ms": 1000},
    }
    print(f"workspace push, {opts.files} files / {mb:.0f} MB, fresh: {first_ms / 1000:.2f} s "
          f"({result['first_push_mb_s']} MB/s)")  # fmt: skip
    print(f"workspace push, one file changed ({second['bytes']} bytes): {second_ms:.0f} ms "
          f"(target < 1000)")  # fmt: skip
    print(f"workspace push, nothing changed: {idle_ms:.0f} ms")
    print(f"workspace pull into an empty directory: {pull_ms / 1000:.2f} s")
    print(json.dumps({"benchmark": "workspace", **result}))


if __name__ == "__main__":
    main()
