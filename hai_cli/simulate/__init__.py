"""Trace replay on a virtual clock through the real scheduling policy (``plan()``).

``hai-cli simulate`` is the front door; ``run_policy()`` is the library entry point.
"""

from hai_cli.simulate.cluster import Cluster, load_cluster, uniform_cluster
from hai_cli.simulate.engine import POLICIES, SimResult, run_policy
from hai_cli.simulate.errors import InputError
from hai_cli.simulate.generate import generate_trace
from hai_cli.simulate.metrics import summarize
from hai_cli.simulate.trace import Job, load_trace, parse_trace

__all__ = [
    "POLICIES",
    "Cluster",
    "InputError",
    "Job",
    "SimResult",
    "generate_trace",
    "load_cluster",
    "load_trace",
    "parse_trace",
    "run_policy",
    "summarize",
    "uniform_cluster",
]
