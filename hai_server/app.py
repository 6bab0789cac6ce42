"""``create_app(settings)``: the Litestar application with its reconciler and backend."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.plugins.prometheus import PrometheusConfig

from hai_server.api.admin import AdminController
from hai_server.api.allow import allow_map, fix_allow
from hai_server.api.deps import DEPENDENCIES, Services
from hai_server.api.environments import EnvironmentController
from hai_server.api.errors import HANDLERS
from hai_server.api.jupyter import JupyterController
from hai_server.api.jupyter_proxy import JupyterProxy
from hai_server.api.openapi import document_errors
from hai_server.api.storage import StorageController
from hai_server.api.system import healthz, metrics, my_quota, nodes, whoami
from hai_server.api.tasks import TaskController
from hai_server.api.workspaces import UploadController, WorkspaceController
from hai_server.backends.base import Backend, BackendError
from hai_server.cluster.attach import attach
from hai_server.cluster.logbus import bus_factory
from hai_server.db.callers import CallerCache
from hai_server.db.reads import Reads, make_read_engine
from hai_server.db.session import create_schema, ensure_admin, make_engine, make_sessions
from hai_server.home import prepare_home
from hai_server.metrics import Metrics
from hai_server.reconciler.culler import Culler
from hai_server.reconciler.loop import Reconciler
from hai_server.services.admin import AdminService
from hai_server.services.admission import Admission
from hai_server.services.auth import AuthService
from hai_server.services.environments import EnvironmentService
from hai_server.services.images import ImageService
from hai_server.services.jupyter import JupyterConfig, JupyterService
from hai_server.services.logfan import LogFan
from hai_server.services.logs import LogService, PodLog
from hai_server.services.nodes import NodeService
from hai_server.services.overview import OverviewService, run_sampler
from hai_server.services.storage import StorageService
from hai_server.services.system import SystemService, installation_id
from hai_server.services.tasks import TaskService
from hai_server.services.why import WhyService
from hai_server.services.workspaces import WorkspaceService
from hai_server.services.wsfiles import Limits, WorkspaceStore
from hai_server.settings import Settings

log = logging.getLogger("hai.server")
SHUTDOWN_STEP_S = 5.0
MAX_BODY_BYTES = 4 * 1024 * 1024  # a submission's limits (hai_cli.validate) with JSON escapes


def _limits(settings: Settings) -> Limits:
    ws = settings.workspace
    return Limits(ws.max_file_bytes, ws.max_workspace_bytes, ws.max_files, MAX_BODY_BYTES)


def make_backend(settings: Settings) -> Backend:
    if settings.backend == "kubernetes":
        from hai_server.backends.kubernetes import make_backend as make_k8s  # type: ignore[attr-defined]

        return make_k8s(settings)  # type: ignore[no-any-return]
    from hai_server.backends.local.backend import LocalBackend, local_nodes
    from hai_server.backends.local.machine import jupyter_node

    loc, jup = settings.local, settings.jupyter
    nodes = local_nodes(loc.nodes, loc.gpus_per_node, loc.group, loc.zone)
    if jup.local_node and jup.groups:
        nodes.append(jupyter_node(jup.groups[0], loc.zone, jup.local_cpus, jup.local_memory_gib))
    return LocalBackend(
        settings.runs_dir,
        nodes,
        python=loc.python or sys.executable,
        heartbeat_s=settings.scheduler.heartbeat_s,
    )


def make_culler(settings: Settings, sessions: Any, backend: Backend, wake: Any) -> Culler:
    """The idle culler of ``settings.jupyter.cull``, reading GPUs through the backend's
    ``gpu_utilisation`` when it has one."""
    from hai_cli.scheduler.culling import CullPolicy

    policies = {
        group: CullPolicy(c.idle_s, c.gpu_threshold_pct, c.external_lifetime_s)
        for group, c in settings.jupyter.cull.items()
    }
    return Culler(sessions, policies, gpu_reader=getattr(backend, "gpu_utilisation", None),
                  wake=wake)  # fmt: skip


def pod_log_reader(backend: Backend) -> PodLog | None:
    """The log service's fallback when a rank's shared log file is missing: the backend's
    ``pod_log`` (Kubernetes), its refusals logged and answered with nothing."""
    fetch = getattr(backend, "pod_log", None)
    if fetch is None:
        return None

    async def read(task_id: int, attempt: int, rank: int) -> bytes | None:
        try:
            return str(await fetch(task_id, attempt, rank)).encode()
        except BackendError as exc:
            log.info("no pod log for task %s attempt %s rank %s: %s", task_id, attempt, rank, exc)
            return None

    return read


def create_app(
    settings: Settings, *, backend: Backend | None = None, migrated: bool = False
) -> Litestar:
    """Build the app. ``backend`` replaces the configured one (tests use this); ``migrated``:
    the caller already brought the schema to this version (hai-server does, before it
    listens), otherwise the lifespan does."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        prepare_home(settings.home, settings.runs_dir, settings.resolved_log_dir)
        engine = make_engine(settings.resolved_database_url)
        if not migrated:
            await create_schema(engine)
        sessions = make_sessions(engine)
        read_engine = make_read_engine(settings.resolved_database_url, engine)
        reads = Reads(read_engine)
        callers = CallerCache(settings.resolved_database_url)
        await callers.start()
        admin_name = settings.admin_user or _login_name()
        new_token = await ensure_admin(
            sessions, admin_name, settings.admin_token, recover=settings.recover_admin
        )
        if new_token and not settings.admin_token:
            log.warning("created admin %s; token (shown once): %s", admin_name, new_token)
        be = backend or make_backend(settings)
        await be.open()
        envs_root = str(settings.resolved_envs_root)
        reconciler = Reconciler(
            sessions,
            be,
            settings.scheduler,
            str(settings.resolved_log_dir),
            envs_root=envs_root,
            jupyter_groups=tuple(settings.jupyter.groups),
        )
        cluster = await attach(settings.resolved_database_url, settings.redis_url, reconciler, be)
        logfan = LogFan(bus_factory(settings.redis_url, cluster.notifier.replica))
        await logfan.start()
        environments = EnvironmentService(reads, envs_root)
        storage = StorageService(sessions, reads)
        images = ImageService(sessions, reads, reconciler.config, be.name)
        # ranks of a cluster's local backend run in the server's container: only in the
        # users' mounts (the embedded server runs its one user's tasks anywhere, as before)
        restrict = not settings.embedded and be.name == "local"
        tasks = TaskService(
            sessions,
            cluster.wake,
            settings.scheduler.default_group,
            reads,
            environments,
            Admission(
                reads,
                reconciler.config,
                images,
                storage=storage if restrict else None,
            ),
        )
        overview = OverviewService(sessions, reconciler.config)

        def reconciler_probe() -> dict[str, Any]:
            return {
                "ticks": reconciler.ticks,
                "last_tick_ms": round(reconciler.last_tick_ms, 2),
                "error": reconciler.last_error,
            }

        metrics = Metrics(reconciler_probe, logfan.health)
        reconciler.on_applied = metrics.count_writes
        reconciler.on_tick = metrics.observe_tick
        jup = settings.jupyter
        jupyter = JupyterService(
            sessions, tasks, environments,
            JupyterConfig(
                groups=tuple(jup.groups), default_group=jup.default_group,
                training_group=settings.scheduler.default_group,
                workspace=str(settings.resolved_workspace), default_cpus=jup.default_cpus,
                default_memory_gib=jup.default_memory_gib,
                python=settings.local.python or sys.executable,
            ),
            cluster.wake,
        )  # fmt: skip
        app.state.services = Services(
            tasks=tasks,
            admin=AdminService(sessions, cluster.wake, callers.clear),
            nodes=NodeService(sessions, cluster.wake),
            logs=LogService(reads, tasks, logfan, pod_log_reader(be)),
            why=WhyService(sessions, tasks, reconciler.config),
            system=SystemService(
                sessions,
                backend=be.name,
                mode="embedded" if settings.embedded else "cluster",
                reconciler=reconciler_probe,
                cluster=cluster.health,
                logs=logfan.health,
                metrics=metrics,
                metrics_public=settings.metrics_public,
                installation=installation_id(settings.installation_file),
            ),
            auth=AuthService(reads, callers),
            overview=overview,
            environments=environments,
            jupyter=jupyter,
            storage=storage,
            images=images,
            workspaces=WorkspaceService(
                WorkspaceStore(settings.resolved_workspaces_root, _limits(settings)),
                reads,
            ),
        )
        app.state.reconciler = reconciler  # for tests and benchmarks that drive ticks
        await reconciler.tick()  # nodes known before the first request
        loop_task = asyncio.create_task(reconciler.run(), name="reconciler")
        sampler = asyncio.create_task(
            run_sampler(
                overview,
                settings.studio.sample_interval_s,
                settings.studio.sample_retention_s,
                leads=lambda: bool(cluster.leader.is_leader),
            ),
            name="sampler",
        )
        culler_task = None
        if jup.cull:
            culler = make_culler(settings, sessions, be, cluster.wake)
            app.state.culler = culler
            culler_task = asyncio.create_task(
                culler.run(jup.cull_check_s, leads=lambda: bool(cluster.leader.is_leader)),
                name="jupyter-culler",
            )
        try:
            yield
        finally:
            loop_task.cancel()
            sampler.cancel()
            if culler_task is not None:
                culler_task.cancel()
            # each step bounded: a stuck close must never keep a stopping server alive
            disposals = [engine.dispose()]
            if read_engine is not engine:
                disposals.append(read_engine.dispose())
            for step in (
                loop_task,
                sampler,
                callers.close(),
                logfan.close(),
                cluster.close(),
                proxy.close(),
                be.close(),
                *disposals,
            ):
                try:
                    await asyncio.wait_for(step, timeout=SHUTDOWN_STEP_S)
                except (asyncio.CancelledError, TimeoutError):
                    pass
                except Exception:
                    log.exception("error during shutdown")

    handlers: list[Any] = [
        TaskController, AdminController, EnvironmentController, JupyterController,
        StorageController, WorkspaceController, UploadController, healthz, metrics, whoami,
        my_quota, nodes,
    ]  # fmt: skip
    extra: dict[str, Any] = {}
    if settings.studio.enabled:
        from hai_server.studio import studio_router, template_config

        handlers.append(
            studio_router(
                session_max_age_s=settings.studio.session_max_age_s, secret=settings.studio.secret
            )
        )
        extra["template_config"] = template_config()
        if settings.redis_url:  # sessions shared by every replica
            from litestar.stores.redis import RedisStore

            extra["stores"] = {
                "sessions": RedisStore.with_client(url=settings.redis_url, namespace="hai_studio")
            }
    allowed: dict[str, str] = {}
    app = Litestar(
        route_handlers=handlers,
        **extra,
        before_send=[fix_allow(lambda: allowed)],
        dependencies=DEPENDENCIES,
        exception_handlers=HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        state=State({}),
        openapi_config=OpenAPIConfig(title="HAI Platform", version="0.1.0", path="/schema"),
        debug=False,
        logging_config=None,
        request_max_body_size=MAX_BODY_BYTES,
        # API latency by route template, method and status (hai_api_* in /metrics)
        middleware=[
            PrometheusConfig(
                app_name="hai", prefix="hai_api", group_path=True,
                exclude_unhandled_paths=True, exclude=["^/metrics$", "^/healthz$"],
            ).middleware
        ],
    )  # fmt: skip
    allowed.update(allow_map(app))
    reserved = {r.path.split("/")[1] for r in app.routes if r.path.count("/") >= 1}
    proxy = JupyterProxy(app.asgi_handler, lambda: getattr(app.state, "services", None), reserved)
    app.asgi_handler = proxy  # type: ignore[method-assign,assignment]
    document_errors(app.openapi_schema)  # built once here, served from then on
    return app


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "admin"
