"""The outside probe, made part of the suite: schemathesis against the real app on a real
socket (both databases), from the OpenAPI document it serves.

Every operation gets generated requests, valid ones (positive) and invalid ones (negative), as
the admin, with a fixed seed and a bounded number of cases; operations on a task or a user are
also driven on ones that exist (their ids and names pinned), so state changes happen, not only
404s. Each response must not be a 5xx, must have a documented status and content type, and
match the documented schema. A good share of generated submissions must be accepted (the
document's constraints are what the server enforces). The backend is the fake one: generated
commands never run. A stateful run follows the document's OpenAPI links (a submission's id into
the operations on that task) so sequences act on what earlier steps created.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis import checks as st_checks

from tests.support.live import live_server
from tests.support.pg_server import ADMIN_TOKEN

POSITIVE_CASES = 15
NEGATIVE_CASES = 6
PINNED_CASES = 6
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
]
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _fuzz(
    op: Any, url: str, mode: GenerationMode, cases: int, found: list, seen: Any, **pin: Any
) -> None:
    @settings(
        max_examples=cases,
        deadline=None,
        derandomize=True,  # a fixed seed: the same cases on every run
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=op.as_strategy(generation_mode=mode, **pin))
    def run(case: Any) -> None:
        if isinstance(case.query, dict) and str(case.query.get("follow")).lower() in ("true", "1"):
            # a live task's log is followed for as long as it runs (by design): read it instead
            # (follow's endings are tests of their own: test_hardening_regressions.py)
            case.query["follow"] = "false"
        response = case.call(base_url=url, headers=AUTH, timeout=15)
        seen[(op.method.upper(), op.path, response.status_code, mode.value)] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except BaseException as exc:  # a FailureGroup: keep all, report at the end
            found.append(f"{op.method.upper()} {op.path} -> {response.status_code}: {exc}"[:600])

    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, op.path  # nothing to get wrong (no input)


def test_schemathesis_finds_no_server_error_and_no_nonconformance(
    db_url: str, tmp_path: Path
) -> None:
    with live_server(tmp_path / "home", db_url) as url:
        # something to act on: a queued task (the fake backend starts it) and a user
        task = requests.post(
            f"{url}/api/v1/tasks",
            json={"argv": ["true"], "workdir": "/tmp", "kind": "exec"},
            headers=AUTH,
            timeout=10,
        ).json()
        requests.post(
            f"{url}/api/v1/admin/users", json={"name": "bob", "uid": 4242}, headers=AUTH, timeout=10
        ).raise_for_status()
        schema = schemathesis.openapi.from_url(f"{url}/schema/openapi.json")
        found: list[str] = []
        seen: collections.Counter = collections.Counter()
        started = time.monotonic()
        operations = [result.ok() for result in schema.get_all_operations()]
        for op in operations:
            _fuzz(op, url, GenerationMode.POSITIVE, POSITIVE_CASES, found, seen)
            _fuzz(op, url, GenerationMode.NEGATIVE, NEGATIVE_CASES, found, seen)
            names = {p.name for p in op.path_parameters}
            if names == {"task_id"}:
                pin = {"task_id": task["id"]}
            elif names == {"name"} and "/users/" in op.path:
                pin = {"name": "bob"}
            else:
                continue
            _fuzz(op, url, GenerationMode.POSITIVE, PINNED_CASES, found, seen, path_parameters=pin)
        elapsed = time.monotonic() - started
    total = sum(seen.values())
    submits = {
        code: n
        for (m, p, code, mode), n in seen.items()
        if (m, p, mode) == ("POST", "/api/v1/tasks", "positive")
    }
    print(
        f"\n{total} requests over {len(operations)} operations in {elapsed:.1f} s; "
        f"submissions by status: {dict(sorted(submits.items()))}"
    )
    assert not found, "\n".join(found[:20])
    assert len(operations) >= 30 and total >= len(operations) * POSITIVE_CASES // 2
    assert not [k for k in seen if k[2] >= 500]
    # a good share of generated (valid-by-the-document) submissions is accepted: the rest name
    # a group or a haienv environment that does not exist, or a priority that is no level
    assert submits.get(201, 0) >= 0.2 * sum(submits.values()), submits


STATEFUL_SCENARIOS = 25
STATEFUL_STEPS = 6


def test_stateful_links_find_no_server_error(db_url: str, tmp_path: Path) -> None:
    """Stateful: schemathesis follows the document's OpenAPI links (a submission's id into
    status, stop, suspend, hold, logs ...; a new user's name into its role, tokens ...), so
    sequences act on what earlier steps created. Fixed seed, bounded scenarios."""
    seen: collections.Counter = collections.Counter()
    found: list[str] = []
    with live_server(tmp_path / "home", db_url) as url:
        # the task lifecycle: submissions and everything their links feed. Only the document's
        # own links (no inference from list responses) and only creations that answer the same
        # on a replay: Hypothesis replays scenarios against a server whose state persists, so
        # a link that depends on that state (a user name already taken: 409) makes it flaky
        schema = schemathesis.openapi.from_url(f"{url}/schema/openapi.json").include(
            path_regex="^/api/v1/tasks"
        )
        schema.config.phases.stateful.inference.algorithms = []
        base = schema.as_state_machine()

        class Machine(base):  # type: ignore[misc, valid-type]
            def before_call(self, case: Any) -> None:
                if isinstance(case.query, dict) and str(case.query.get("follow")).lower() in (
                    "true",
                    "1",
                ):
                    case.query["follow"] = "false"  # as above: a live log is followed forever

            def get_call_kwargs(self, case: Any) -> dict[str, Any]:
                return {"base_url": url, "headers": AUTH, "timeout": 15}

            def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
                path = case.operation.path
                seen[(case.method.upper(), path, response.status_code)] += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except BaseException as exc:
                    found.append(
                        f"{case.method.upper()} {path} -> {response.status_code}: {exc}"[:600]
                    )

        Machine.run(
            settings=settings(
                max_examples=STATEFUL_SCENARIOS,
                stateful_step_count=STATEFUL_STEPS,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
        )
    total = sum(seen.values())
    # the links carried real ids: operations on a created task answered 2xx, not only 404
    on_tasks = sum(
        n for (m, p, code), n in seen.items() if p.startswith("/api/v1/tasks/{") and code < 300
    )
    print(f"\nstateful: {total} requests, {on_tasks} 2xx on created tasks")
    assert not found, "\n".join(found[:20])
    assert not [k for k in seen if k[2] >= 500]
    assert total >= STATEFUL_SCENARIOS and on_tasks >= 5, sorted(seen.items())
