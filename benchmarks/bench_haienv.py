"""haienv figures: ``haienv create`` of an extended environment with a warm uv cache (target
< 3 s), ``haienv list -a`` with 200 environments across 20 users (target < 150 ms), and the
cost activation adds to a rank's start (target < 10 ms).

Every figure is the real command as a user runs it (a new process each time), on a
temporary HAI_HOME; offline (a wheel made here, installed with --no-index --find-links).

    python benchmarks/bench_haienv.py [--creates 5] [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hai_cli.haienv import meta  # noqa: E402
from tests.support.wheels import make_wheel  # noqa: E402


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - t0) * 1000


def haienv(*args: str) -> list[str]:
    return [sys.executable, "-m", "haienv", *args]


def fake_envs(root: Path, users: int, per_user: int) -> None:
    """Environments as ``list`` sees them (their metadata), 20 users x 10."""
    for u in range(users):
        for i in range(per_user):
            prefix = root / f"user{u:02d}" / f"env{i:02d}"
            prefix.mkdir(parents=True)
            base = meta.Base("platform", "base", str(root / "platform/base")) if i % 2 else None
            meta.write(meta.EnvMeta(f"env{i:02d}", f"user{u:02d}", str(prefix), "3.11.2",
                                    str(prefix / "lib/python3.11/site-packages"), extends=base))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--creates", type=int, default=5)
    ap.add_argument("--runs", type=int, default=20)
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "hai"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HAI_", "HF_ENV"))}
        env.pop("VIRTUAL_ENV", None)
        env.update({"HAI_HOME": str(home), "USER": "bench"})
        wheels = Path(tmp) / "wheels"
        make_wheel(wheels, "hai_benchpkg")
        spec = Path(tmp) / "base.toml"
        spec.write_text(f'name = "base"\npackages = ["hai_benchpkg"]\nfind_links = ["{wheels}"]\n'
                        "no_index = true\n")  # fmt: skip
        platform_env = {**env, "HAIENV_PATH": str(home / "envs/platform")}
        subprocess.run(haienv("create", "--from", str(spec)), env=platform_env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        # warm: the first create fills uv's cache for this interpreter
        timed(haienv("create", "warmup"), env)
        creates = [timed(haienv("create", f"e{i}"), env) for i in range(opts.creates)]
        own = home / "envs/bench/e0"
        check = subprocess.run([str(own / "bin/python"), "-c", "import hai_benchpkg"], check=False)
        assert check.returncode == 0, "the extended environment does not see its base"

        fake_envs(home / "envs", 20, 10)
        total = sum(1 for _ in (home / "envs").glob("*/*/haienv.json"))
        lists, lists_json, bare = [], [], []
        for _ in range(opts.runs):  # interleaved with a bare interpreter start (machine load)
            bare.append(timed([sys.executable, "-c", "pass"], env))
            lists.append(timed(haienv("list", "-a"), env))
            lists_json.append(timed(haienv("list", "-a", "--json"), env))

        # rank start: the rank wrapper running `true`, without and with an environment
        rank_dir = Path(tmp) / "rank"
        wrapper = [sys.executable, "-m", "hai_cli.rankrun", "--log", str(rank_dir / "log"),
                   "--status-dir", str(rank_dir), "--", "true"]  # fmt: skip
        with_env = {**env, "HF_ENV_NAME": "e0", "HF_ENV_OWNER": "bench", "VIRTUAL_ENV": str(own)}
        plain, activated = [], []
        for _ in range(opts.runs):  # interleaved, so machine load hits both alike
            plain.append(timed(wrapper, env))
            activated.append(timed(wrapper, with_env))
        code = (
            "import os, time\n"
            "t0 = time.perf_counter()\n"
            "from hai_cli.haienv.activation import rank_environ\n"
            "t1 = time.perf_counter()\n"
            "for _ in range(200): rank_environ(os.environ)\n"
            "t2 = time.perf_counter()\n"
            "print((t1 - t0) * 1000, (t2 - t1) / 200 * 1000)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], env=with_env, capture_output=True,
                             text=True, check=True).stdout.split()  # fmt: skip
        import_ms, call_ms = float(out[0]), float(out[1])

    med = statistics.median
    result = {
        "create_extended_warm_ms": {"p50": round(med(creates)), "min": round(min(creates)),
                                    "max": round(max(creates)), "n": len(creates)},
        "list_all_ms": {"p50": round(med(lists), 1), "max": round(max(lists), 1),
                        "environments": total, "users": 21},
        "list_all_json_ms": round(med(lists_json), 1),
        "python_start_ms": round(med(bare), 1),
        "rank_start_ms": {"plain_p50": round(med(plain), 1), "activated_p50": round(med(activated), 1),
                          "added_p50": round(med([a - p for a, p in zip(activated, plain, strict=True)]), 2)},
        "rank_activation_in_process_ms": {"import": round(import_ms, 2), "call": round(call_ms, 3)},
        "targets": {"create_ms": 3000, "list_ms": 150, "rank_activation_ms": 10},
    }  # fmt: skip
    c, li, r = result["create_extended_warm_ms"], result["list_all_ms"], result["rank_start_ms"]
    print(
        f"haienv create (extends platform/base, warm cache)  p50 {c['p50']} ms  "
        f"min {c['min']}  max {c['max']}  (n={c['n']}, target < 3000)"
    )
    print(
        f"haienv list -a, {total} environments of 21 users  p50 {li['p50']} ms  "
        f"max {li['max']} ms  (--json p50 {result['list_all_json_ms']} ms; target < 150)"
    )
    print(
        f"rank start (rank wrapper + true)  plain p50 {r['plain_p50']} ms  with haienv "
        f"p50 {r['activated_p50']} ms  added {r['added_p50']} ms  (target < 10)"
    )
    print(f"rank activation in process: import {import_ms:.2f} ms, rank_environ() {call_ms:.3f} ms")
    print(json.dumps({"benchmark": "haienv", **result}))


if __name__ == "__main__":
    main()
