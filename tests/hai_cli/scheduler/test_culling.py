"""The culling decision on a virtual clock: busy kernels and busy GPUs keep a container;
idle kernels, terminals and GPUs stop it with its reason; external users' lifetime."""

from __future__ import annotations

import pytest

from hai_cli.scheduler.culling import Activity, CullPolicy, Kernel, judge

T0 = 1_000_000.0
HOUR = 3600.0
POLICY = CullPolicy(idle_s=HOUR, gpu_threshold_pct=5, external_lifetime_s=8 * HOUR)


def seen(**kw: object) -> Activity:
    return Activity(started_at=T0, **kw)  # type: ignore[arg-type]


IDLE_KERNEL = (Kernel("idle", T0 + 60),)
CASES = [
    ("fresh container, nothing yet", seen(), T0 + 10, None),
    ("no activity for the limit", seen(), T0 + HOUR, "idle"),
    ("idle kernel, last ran 2 h ago", seen(kernels=IDLE_KERNEL), T0 + 2 * HOUR + 60, "idle"),
    ("idle kernel, ran 10 min ago", seen(kernels=(Kernel("idle", T0 + 2 * HOUR),)),
     T0 + 2 * HOUR + 600, None),
    ("busy kernel never culled", seen(kernels=(Kernel("busy", T0),)), T0 + 100 * HOUR, None),
    ("starting kernel kept", seen(kernels=(Kernel("starting", T0),)), T0 + 100 * HOUR, None),
    ("idle kernel + busy GPU never culled",
     seen(kernels=IDLE_KERNEL, gpus=1, gpu_util_pct=80.0), T0 + 100 * HOUR, None),
    ("idle kernel + GPU just at the threshold kept",
     seen(kernels=IDLE_KERNEL, gpus=2, gpu_util_pct=5.0), T0 + 100 * HOUR, None),
    ("idle kernel + idle GPU", seen(kernels=IDLE_KERNEL, gpus=1, gpu_util_pct=1.0),
     T0 + 100 * HOUR, "idle"),
    ("GPU unreadable: kept", seen(kernels=IDLE_KERNEL, gpus=1, gpu_util_pct=None),
     T0 + 100 * HOUR, None),
    ("terminal active 5 min ago", seen(kernels=IDLE_KERNEL, terminals=(T0 + 100 * HOUR - 300,)),
     T0 + 100 * HOUR, None),
    ("JupyterLab not answering: kept", seen(reachable=False), T0 + 100 * HOUR, None),
    ("external: lifetime over", seen(external=True, kernels=(Kernel("busy", T0),)),
     T0 + 8 * HOUR, "lifetime"),
    ("internal: no lifetime", seen(kernels=(Kernel("busy", T0),)), T0 + 80 * HOUR, None),
]  # fmt: skip


@pytest.mark.parametrize(("what", "activity", "now", "reason"), CASES, ids=[c[0] for c in CASES])
def test_judge(what: str, activity: Activity, now: float, reason: str | None) -> None:
    verdict = judge(activity, POLICY, now)
    assert (verdict.reason if verdict else None) == reason, what


def test_reasons_say_why() -> None:
    idle = judge(seen(kernels=IDLE_KERNEL, gpus=1, gpu_util_pct=0.0), POLICY, T0 + 3 * HOUR)
    assert idle is not None
    assert idle.message == (
        "idle: no kernel or terminal active for 2h59m, its GPUs under 5% (limit 1h00m); "
        "notebooks kept"
    )
    life = judge(seen(external=True), POLICY, T0 + 9 * HOUR)
    assert life is not None and life.message == (
        "lifetime over: external users' containers end after 8h00m"
    )


def test_off_by_default() -> None:
    assert judge(seen(external=True), CullPolicy(), T0 + 1000 * HOUR) is None
