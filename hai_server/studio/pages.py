"""Studio's pages: thin handlers that call the services (as the API does) and hand their
results through the view models (views.py, charts.py) to the templates.

Every page needs a login (``viewer``, session.py); what a page shows is what the services
let that caller see: an ordinary user's own tasks, everyone's for an admin; another user's
task is 404. State changes are form POSTs (CSRF-checked) after a confirmation page.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.response import Redirect, ServerSentEvent, Template
from litestar.response.sse import ServerSentEventMessage

from hai_server.services.admin import AdminService
from hai_server.services.auth import AuthService
from hai_server.services.errors import Invalid, ServiceError, Unauthorized
from hai_server.services.logs import LogService
from hai_server.services.nodes import NodeService
from hai_server.services.overview import OverviewService
from hai_server.services.tasks import Caller, TaskService
from hai_server.services.why import WhyService
from hai_server.studio import views
from hai_server.studio.charts import DAY_S, home_charts
from hai_server.studio.session import provide_viewer, start_session

PAGE = 50
MAX_OFFSET = 2**31 - 1  # beyond any row count or attempt number (and what SQL can bind)
LIVE = ("queued", "starting", "running", "suspending", "suspended")


def _page(
    name: str, request: Request[Any, Any, Any], viewer: Caller | None, **ctx: Any
) -> Template:
    return Template(template_name=name, context={"viewer": viewer, "path": request.url.path, **ctx})


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no //host): an open redirect otherwise."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


class LoginController(Controller):
    path = "/"

    @get("/login")
    async def login_page(self, request: Request[Any, Any, Any], next: str = "/") -> Template:
        return _page("login.html", request, None, next=_safe_next(next), error=None)

    @post("/login")
    async def login(self, request: Request[Any, Any, Any], auth: AuthService) -> Any:
        form = await _form(request)
        token = form.get("token", "").strip()
        target = _safe_next(form.get("next"))
        try:
            if not token or "\x00" in token or len(token) > 512:
                raise Unauthorized("give a platform token")
            caller = await auth.caller(f"Bearer {token}")
        except Unauthorized as exc:
            return Template(
                template_name="login.html",
                context={"viewer": None, "next": target, "error": exc.message, "path": "/login"},
                status_code=401,
            )
        await start_session(request, token, caller)
        return Redirect(target, status_code=303)

    @post("/logout")
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        request.clear_session()
        return Redirect("/login", status_code=303)


class StudioController(Controller):
    path = "/"
    dependencies = {"viewer": Provide(provide_viewer)}

    # -- home -------------------------------------------------------------------------------
    @get("/")
    async def home(
        self,
        request: Request[Any, Any, Any],
        viewer: Caller,
        tasks: TaskService,
        overview: OverviewService,
    ) -> Template:
        now = time.time()
        # independent reads, each on its own connection: overlapped
        mine, cluster, quotas, history = await _together(
            tasks.list(viewer, states=list(LIVE), limit=PAGE),
            overview.cluster(),
            overview.quota_use(viewer),
            overview.history(viewer, now - DAY_S, now, usage_since=now - 7 * DAY_S),
        )
        queue_groups, queue = views.queue_rows(cluster)
        return _page(
            "home.html",
            request,
            viewer,
            tasks=[views.task_row(t, now) for t in mine["tasks"]],
            tasks_total=mine["total"],
            quotas=views.quota_bars(quotas),
            groups=views.group_rows(cluster),
            queue_groups=queue_groups,
            queue=queue,
            charts=home_charts(history, now - DAY_S, now),
        )

    # -- tasks ------------------------------------------------------------------------------
    @get("/tasks")
    async def task_list(
        self,
        request: Request[Any, Any, Any],
        viewer: Caller,
        tasks: TaskService,
        state_q: str = Parameter(query="state", default=""),
        group: str = "",
        q: str = "",
        all: bool = False,
        offset: int = 0,
    ) -> Template:
        now = time.time()
        if not 0 <= offset <= MAX_OFFSET:
            raise Invalid(f"offset must be between 0 and {MAX_OFFSET}")
        all_users = all and viewer.admin
        states = [s for s in state_q.split(",") if s]
        page = await tasks.list(
            viewer,
            states=states or None,
            all_users=all_users,
            limit=PAGE,
            offset=offset,
            group=group or None,
            search=q.strip() or None,
        )
        filters = {"state": state_q, "group": group, "q": q, "all": "1" if all_users else ""}
        query = urlencode({k: v for k, v in filters.items() if v})
        return _page(
            "tasks.html",
            request,
            viewer,
            rows=[views.task_row(t, now) for t in page["tasks"]],
            pages=views.pagination(page["total"], PAGE, offset),
            filters=filters,
            query=query,
            states=views.STATE_FILTERS,
            show_user=all_users,
        )

    @get("/tasks/{task_id:int}")
    async def task_detail(
        self,
        request: Request[Any, Any, Any],
        viewer: Caller,
        tasks: TaskService,
        why: WhyService,
        task_id: int,
        done: str = "",
    ) -> Template:
        now = time.time()
        task = await tasks.get(viewer, task_id)
        explanation = await why.why(viewer, task_id)
        return _page(
            "task.html",
            request,
            viewer,
            task=task,
            row=views.task_row(task, now),
            why=views.plain_why(explanation),
            actions=views.actions(task),
            all_actions=views.ACTIONS,
            attempts=views.attempt_rows(task, now),
            events=list(reversed(task["events"]))[:200],
            resubmit=views.resubmit_command(task),
            done=done if done in views.ACTIONS else "",
        )

    @get("/tasks/{task_id:int}/live")
    async def task_live(self, viewer: Caller, tasks: TaskService, task_id: int) -> dict[str, Any]:
        """What the open task page refreshes: state, waiting note, the actions offered."""
        task = await tasks.get(viewer, task_id)
        return {
            "state": task["state"],
            "waiting": views.waiting_note(task),
            "actions": [a["action"] for a in views.actions(task)],
            "attempts": [a["number"] for a in task["attempts"]],
        }

    @get("/tasks/{task_id:int}/logs/stream")
    async def log_stream(
        self,
        viewer: Caller,
        logs: LogService,
        task_id: int,
        rank: int = 0,
        attempt: int | None = None,
    ) -> ServerSentEvent:
        """The rank's log as Server-Sent Events: ``data`` {"text": ...}, then ``end``."""
        if attempt is not None and not 0 <= attempt <= MAX_OFFSET:
            raise Invalid(f"attempt must be between 0 and {MAX_OFFSET}")
        stream = await logs.follow(viewer, task_id, rank, attempt, 0)
        return ServerSentEvent(_sse(stream))

    @get("/tasks/{task_id:int}/confirm/{action:str}")
    async def confirm_task(
        self,
        request: Request[Any, Any, Any],
        viewer: Caller,
        tasks: TaskService,
        task_id: int,
        action: str,
    ) -> Template:
        if action not in views.ACTIONS:
            raise NotFoundException(f"no action {action}")
        task = await tasks.get(viewer, task_id)
        label, about = views.ACTIONS[action]
        return _page(
            "confirm.html",
            request,
            viewer,
            title=f"{label} task {task_id}?",
            subject=f"{task['name']} ({task['state']})",
            about=about,
            action=f"/tasks/{task_id}/{action}",
            button=f"Yes, {label.lower()} task {task_id}",
            cancel=f"/tasks/{task_id}",
        )

    @post("/tasks/{task_id:int}/{action:str}")
    async def act(self, viewer: Caller, tasks: TaskService, task_id: int, action: str) -> Redirect:
        if action == "stop":
            await tasks.stop(viewer, task_id)
        elif action == "suspend":
            await tasks.suspend(viewer, task_id)
        elif action == "resume":
            await tasks.resume(viewer, task_id)
        else:
            raise NotFoundException(f"no action {action}")
        return Redirect(f"/tasks/{task_id}?done={action}", status_code=303)

    # -- nodes ------------------------------------------------------------------------------
    @get("/nodes")
    async def node_list(
        self, request: Request[Any, Any, Any], viewer: Caller, node_service: NodeService
    ) -> Template:
        listed = (await node_service.list_nodes(viewer))["nodes"]
        return _page("nodes.html", request, viewer, nodes=listed)

    @get("/nodes/{name:str}/confirm/{action:str}")
    async def confirm_node(
        self, request: Request[Any, Any, Any], viewer: Caller, name: str, action: str
    ) -> Template:
        if action not in ("cordon", "uncordon") or not viewer.admin:
            raise NotFoundException("no such page")
        about = (
            "Nothing new starts on it; what runs there is suspended with notice and requeued."
            if action == "cordon"
            else "Tasks may be scheduled on it again."
        )
        return _page(
            "confirm.html",
            request,
            viewer,
            title=f"{action.capitalize()} node {name}?",
            subject=name,
            about=about,
            action=f"/nodes/{quote(name)}/{action}",
            button=f"Yes, {action} {name}",
            cancel="/nodes",
        )

    @post("/nodes/{name:str}/{action:str}")
    async def node_act(
        self, viewer: Caller, node_service: NodeService, name: str, action: str
    ) -> Redirect:
        if action not in ("cordon", "uncordon"):
            raise NotFoundException(f"no action {action}")
        await node_service.cordon(viewer, name, action == "cordon")
        return Redirect("/nodes", status_code=303)

    # -- admin ------------------------------------------------------------------------------
    @get("/admin")
    async def admin_page(
        self, request: Request[Any, Any, Any], viewer: Caller, admin: AdminService
    ) -> Template:
        return await _admin(request, viewer, admin)

    @post("/admin/users")
    async def add_user(
        self, request: Request[Any, Any, Any], viewer: Caller, admin: AdminService
    ) -> Template:
        form = await _form(request)
        groups = [g.strip() for g in form.get("groups", "").split(",") if g.strip()]
        made = await admin.add_user(
            viewer, form.get("name", "").strip(), form.get("role", "internal"), groups
        )
        return await _admin(
            request, viewer, admin, secret={"user": made["name"], "token": made["token"]}
        )

    @post("/admin/users/{name:str}/{action:str}")
    async def user_act(
        self, request: Request[Any, Any, Any], viewer: Caller, admin: AdminService, name: str,
        action: str,
    ) -> Redirect:  # fmt: skip
        if action in ("enable", "disable"):
            await admin.set_active(viewer, name, action == "enable")
        elif action == "role":
            await admin.set_role(viewer, name, (await _form(request)).get("role", ""))
        elif action == "groups":
            raw = (await _form(request)).get("groups", "")
            await admin.set_groups(viewer, name, [g.strip() for g in raw.split(",") if g.strip()])
        else:
            raise NotFoundException(f"no action {action}")
        return Redirect("/admin#users", status_code=303)

    @post("/admin/tokens")
    async def issue_token(
        self, request: Request[Any, Any, Any], viewer: Caller, admin: AdminService
    ) -> Template:
        form = await _form(request)
        made = await admin.new_token(viewer, form.get("user", "").strip(), form.get("label", ""))
        return await _admin(
            request, viewer, admin, secret={"user": made["user"], "token": made["token"]}
        )

    @post("/admin/tokens/{token_id:int}/revoke")
    async def revoke_token(self, viewer: Caller, admin: AdminService, token_id: int) -> Redirect:
        await admin.revoke_token(viewer, token_id=token_id)
        return Redirect("/admin#tokens", status_code=303)

    @post("/admin/quotas")
    async def set_quota(
        self, request: Request[Any, Any, Any], viewer: Caller, admin: AdminService
    ) -> Redirect:
        form = await _form(request)
        quota = _whole(form.get("quota", ""), "quota")
        days = form.get("expires_days", "").strip()
        expires = time.time() + _whole(days, "expiry in days") * DAY_S if days else None
        await admin.set_quota(
            viewer, form.get("principal", "").strip(), form.get("resource", "").strip(), quota,
            expires,
        )  # fmt: skip
        return Redirect("/admin#quotas", status_code=303)

    @post("/admin/quotas/delete")
    async def delete_quota(
        self, request: Request[Any, Any, Any], viewer: Caller, admin: AdminService
    ) -> Redirect:
        form = await _form(request)
        await admin.delete_quota(viewer, form.get("principal", ""), form.get("resource", ""))
        return Redirect("/admin#quotas", status_code=303)


async def _together(*reads: Awaitable[Any]) -> list[Any]:
    """Await ``reads`` concurrently; the first failure cancels the others (no read is left
    running after the page has failed) and is raised as it is."""
    tasks = [asyncio.ensure_future(r) for r in reads]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _whole(text: str, what: str) -> int:
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise Invalid(f"{what} must be a whole number, got {text[:40]!r}")
    return int(text)


async def _admin(
    request: Request[Any, Any, Any],
    viewer: Caller,
    admin: AdminService,
    secret: dict[str, str] | None = None,
) -> Template:
    users = await admin.list_users(viewer)  # 403 for a non-admin
    return _page(
        "admin.html",
        request,
        viewer,
        users=users,
        tokens=await admin.list_tokens(viewer),
        quotas=await admin.list_quotas(viewer),
        secret=secret,
        roles=("admin", "internal", "external"),
        priorities=views.PRIORITIES_HIGH_FIRST,
    )


async def _sse(stream: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEventMessage]:
    """Log bytes as events of UTF-8 text (a character split across chunks is kept whole)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    try:
        async for chunk in stream:
            text = decoder.decode(chunk)
            if text:
                yield ServerSentEventMessage(data=json.dumps({"text": text}))
        rest = decoder.decode(b"", final=True)
        if rest:
            yield ServerSentEventMessage(data=json.dumps({"text": rest}))
        yield ServerSentEventMessage(event="end", data="{}")
    except ServiceError as exc:
        yield ServerSentEventMessage(event="end", data=json.dumps({"error": exc.message}))
