"""A training loop that survives preemption: checkpoint on notice, resume where it left off.

Pure Python (no torch needed). Run it anywhere:

    hai-cli python examples/train.py --steps 30            # here (= python examples/train.py)
    hai-cli python examples/train.py --steps 30 -- -f      # on the platform, following its log
    hai-cli python examples/train.py ++ --suspend_seconds 2    # rehearse a suspend here
    hai-cli python examples/train.py --steps 300 -- --suspend-after 2 -f   # ... on the platform

Each step "trains" for --step-time seconds. When the platform asks it to suspend, it saves
its step to a checkpoint file, records it as its whole-life state, and calls go_suspend();
the platform requeues it and, when it runs again, it continues from the saved step.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from hai_cli import runtime


def checkpoint_path(directory: str) -> str:
    task = os.environ.get("HAI_TASK_ID", "local")
    return os.path.join(directory, f"train-{task}.json")


def load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return {"step": 0, "loss": 10.0}


def save(path: str, state: dict) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(state, fh)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--step-time", type=float, default=0.1)
    parser.add_argument("--ckpt-dir", default="checkpoints")
    parser.add_argument("--save-every", type=int, default=0, help="also checkpoint every N steps")
    args = parser.parse_args()

    rank = int(os.environ.get("RANK", "0"))
    path = checkpoint_path(args.ckpt_dir)
    state = load(path)
    print(
        f"start: step={state['step']} restart_count={runtime.restart_count()} "
        f"whole_life_state={runtime.get_whole_life_state()} rank={rank}",
        flush=True,
    )
    while state["step"] < args.steps:
        time.sleep(args.step_time)  # the "training"
        state["step"] += 1
        state["loss"] = round(state["loss"] * 0.95, 6)
        print(f"step {state['step']} loss {state['loss']}", flush=True)
        if args.save_every and state["step"] % args.save_every == 0:
            if rank == 0:
                save(path, state)
            runtime.report_checkpoint()
        if runtime.receive_suspend_command():
            if rank == 0:  # every rank has the same state: one of them writes it
                save(path, state)
            runtime.set_whole_life_state(state["step"])
            print(f"suspend notice: saved step {state['step']}; going to suspend", flush=True)
            runtime.go_suspend()
    if rank == 0:
        save(path, state)
    print(f"done: final_step={state['step']} loss={state['loss']}", flush=True)


if __name__ == "__main__":
    main()
