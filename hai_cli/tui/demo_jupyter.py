"""Demo Jupyter containers for ``hai-cli tui --demo`` and the TUI's pilot tests: the
``/api/v1/jupyter`` calls of ``hai_cli.client.Client``, answered in memory."""

from __future__ import annotations

from typing import Any

from hai_cli.client import ApiError


def demo_boxes(user: str, now: float) -> list[dict[str, Any]]:
    def box(i: int, name: str, state: str, **kw: Any) -> dict[str, Any]:
        return {"id": 900 + i, "name": name, "user": user, "state": state, "group": "jupyter",
                "cpus": 2.0, "memory_gib": 8.0, "gpus": 0, "exclusive": False, "env": None,
                "path": f"/{user}/{name}/", "serving": state == "running", "reason": None,
                "position": None, "stop_reason": None, "submitted_at": now - 600 * (i + 1),
                "started_at": now - 500, "ended_at": None, "node": "local-jupyter", **kw}  # fmt: skip

    return [
        box(0, "lab", "running"),
        box(1, "big", "queued", reason="no_capacity", position=1, memory_gib=64.0),
        box(
            2,
            "old",
            "stopped",
            stop_reason="idle: no kernel or terminal active for 2h00m "
            "(limit 1h00m); notebooks kept",
        ),
        box(3, "spot", "running", exclusive=True, group="a100", node="a100-3"),
    ]


class DemoJupyter:
    """Mixed into the demo client: ``boxes`` and ``jupyter_calls`` (what was asked)."""

    boxes: list[dict[str, Any]]
    jupyter_calls: list[tuple[str, ...]]
    user: str

    def _check(self) -> None: ...

    def jupyter_list(self, all_users: bool = False) -> dict[str, Any]:
        self._check()
        return {"containers": [dict(b) for b in self.boxes]}

    def jupyter_create(self, body: dict[str, Any]) -> dict[str, Any]:
        self._check()
        self.jupyter_calls.append(("create", body["name"]))
        if any(b["name"] == body["name"] for b in self.boxes):
            raise ApiError(409, "conflict", f"you already have a container {body['name']}")
        new = dict(self.boxes[0], id=990 + len(self.boxes), name=body["name"], state="queued",
                   serving=False, reason="new", path=f"/{self.user}/{body['name']}/",
                   cpus=body.get("cpus", 1.0), memory_gib=body.get("memory_gib", 2.0))  # fmt: skip
        self.boxes.insert(0, new)
        return new

    def jupyter(self, name: str, action: str = "", method: str = "GET",
                user: str | None = None) -> Any:  # fmt: skip
        self._check()
        box = next((b for b in self.boxes if b["name"] == name), None)
        if box is None:
            raise ApiError(404, "not_found", f"no container {name!r}")
        self.jupyter_calls.append((method, action or "-", name))
        if action == "logs":
            return "".join(f"[2027-01-15 08:00:{i:02d}] JupyterLab line {i}\n" for i in range(30))
        if action == "stop":
            box.update(state="stopped", serving=False, stop_reason="stopped by you")
        elif action == "start":
            box.update(state="queued", reason="new", stop_reason=None)
        elif method == "DELETE":
            self.boxes.remove(box)
            return {"name": name, "deleted": True}
        return dict(box)
