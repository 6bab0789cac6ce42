"""Server settings: one class, built once at the entry point and passed down.

Read from ``HAI_*`` environment variables (nested sections with ``__``, e.g.
``HAI_SCHEDULER__GRACE_S=30``), then from an optional ``override.toml`` (the file hai-up
renders; ``HAI_CONFIG_FILE`` names it), then the defaults below. See CONFIGURATION.md.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from hai_cli.scheduler.model import PolicyConfig
from hai_server.backends.kubernetes.config import KubernetesConfig


class SchedulerSettings(BaseModel):
    tick_s: float = Field(
        1.0, gt=0, description="timer between reconciler ticks (wake-ups come sooner)"
    )
    grace_s: float = Field(60.0, ge=0, description="suspend notice to forced stop")
    kill_grace_s: float = Field(5.0, ge=0, description="SIGTERM to SIGKILL")
    preemption: bool = True
    fair_share: bool = True
    usage_half_life_s: float = Field(3600.0, gt=0)
    above_normal_demote_after_s: float = Field(1800.0, ge=0)
    min_run_s: float = Field(0.0, ge=0)
    time_slicing: bool = False
    time_slice_s: float = Field(3600.0, gt=0)
    strict_fifo: bool = False
    default_quota: int | Literal["unlimited"] | None = Field(
        None,
        description="nodes a user may hold at a level when no quota row matches; 'unlimited': "
        "no limit; unset: unlimited on the embedded server, 0 (no row, no access) in a "
        "cluster. Never applies to external users (their rows only)",
    )
    default_group: str = "default"
    max_backfill_wait_s: float | None = Field(
        8 * 3600.0,
        gt=0,
        description="no starvation: a task queued this long goes first among its priority and "
        "keeps the free nodes it needs (none: off)",
    )

    @field_validator("default_quota", mode="after")
    @classmethod
    def _quota_bounds(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and not 0 <= value <= 1_000_000:
            raise ValueError("default_quota must be 0-1000000 or 'unlimited'")
        return value

    watchdog_s: float = Field(
        1800.0,
        ge=0,
        le=30 * 86400,
        description="hang watchdog: seconds rank 0 may print nothing before the task is "
        "called hung (per task: --watchdog S; from code: set_watchdog_time; 0: off)",
    )
    watchdog_action: Literal["notify", "stop", "restart"] = Field(
        "notify",
        description="what a hang does besides its event: notify (shown in status, TUI, "
        "Studio, why), stop the task, or restart it from its checkpoint (requeue)",
    )
    heartbeat_s: float = Field(
        5.0, ge=0.05, le=3600, description="every rank's wrapper beats this often"
    )
    heartbeat_timeout_s: float = Field(
        60.0,
        gt=0,
        description="a running rank without a heartbeat this long: its node is dead "
        "(requeued like a node failure), never a hang",
    )

    def policy_config(self) -> PolicyConfig:
        """The policy's configuration: the one place settings become a PolicyConfig."""
        return PolicyConfig(
            preemption=self.preemption,
            fair_share=self.fair_share,
            usage_half_life_s=self.usage_half_life_s,
            above_normal_demote_after_s=self.above_normal_demote_after_s,
            min_run_s=self.min_run_s,
            time_slicing=self.time_slicing,
            time_slice_s=self.time_slice_s,
            strict_fifo=self.strict_fifo,
            default_quota=self.default_quota if isinstance(self.default_quota, int) else None,
            default_group=self.default_group,
            suspend_grace_s=self.grace_s,
            max_backfill_wait_s=self.max_backfill_wait_s,
        )


class LocalSettings(BaseModel):
    nodes: int = Field(1, ge=1, le=256, description="virtual nodes on this machine")
    gpus_per_node: int | None = Field(None, ge=0, description="None: detect with nvidia-smi")
    group: str = "default"
    zone: str = "local"
    python: str | None = Field(
        None,
        description="interpreter of the rank wrapper (default: the server's); on a root server "
        "ranks run as their owners, who must be able to run it",
    )


class CullSettings(BaseModel):
    """When containers of a group end on their own (hai_cli/scheduler/culling.py)."""

    idle_s: float | None = Field(
        None, gt=0, description="stop a container idle this long (kernels, terminals, GPUs)"
    )
    gpu_threshold_pct: float = Field(
        5.0, ge=0, le=100, description="GPUs busier than this keep a container alive"
    )
    external_lifetime_s: float | None = Field(
        None, gt=0, description="external users' containers end after this long"
    )


class JupyterSettings(BaseModel):
    """Jupyter dev containers (tasks of kind ``jupyter``; see hai_server/services/jupyter.py)."""

    groups: list[str] = Field(
        default_factory=lambda: ["jupyter"],
        description="shared Jupyter groups (the original's JUPYTER_GROUP): containers share "
        "their nodes by CPU and memory",
    )
    default_group: str = Field("jupyter", description="group of a create without -g")
    workspace: Path | None = Field(
        None, description="users' workspaces: {workspace}/{user} (default: {home}/workspace)"
    )
    default_cpus: float = Field(1.0, gt=0, le=1024, description="CPUs of a create without --cpu")
    default_memory_gib: float = Field(
        2.0, gt=0, le=65536, description="memory of a create without --mem"
    )
    local_node: bool = Field(
        True, description="local backend: this machine is also a node of the first Jupyter group"
    )
    local_cpus: float | None = Field(None, gt=0, description="its CPUs (default: all)")
    local_memory_gib: float | None = Field(None, gt=0, description="its memory (default: all)")
    public_url: str | None = Field(
        None,
        description="the URL users reach the server at (container links); default: "
        "the server's own address",
    )
    cull: dict[str, CullSettings] = Field(
        default_factory=dict,
        description="per group ('*': every group): idle culling and external lifetimes; "
        "empty (the default): containers run until stopped",
    )
    cull_check_s: float = Field(60.0, gt=0, description="how often the culler looks")


class StudioSettings(BaseModel):
    """Studio, the web UI served at ``/`` (hai_server/studio)."""

    enabled: bool = True
    sample_interval_s: float = Field(
        60.0, gt=0, description="how often the server records a sample for Studio's charts"
    )
    sample_retention_s: float = Field(
        14 * 86400.0, gt=0, description="samples older than this are deleted"
    )
    session_max_age_s: int = Field(
        12 * 3600, ge=60, description="a Studio login lasts this long (then: log in again)"
    )
    secret: str | None = Field(
        None,
        description="signs Studio's CSRF tokens; give every replica the same one (default: "
        "random per process, fine for one replica)",
    )


class WorkspaceSettings(BaseModel):
    """Workspace sync (``hai-cli workspace``): limits of what a user may store."""

    max_file_bytes: int = Field(4 << 30, ge=1, description="largest file a push may send")
    max_workspace_bytes: int = Field(
        50 << 30, ge=1, description="one workspace's total (and a user's uploads waiting)"
    )
    max_files: int = Field(200_000, ge=1, description="files in one workspace")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAI_", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(default_factory=lambda: Path(os.path.expanduser("~/.hai")))
    database_url: str | None = None
    redis_url: str | None = None
    backend: Literal["local", "kubernetes"] = "local"
    host: str = "127.0.0.1"
    port: int = Field(0, ge=0, le=65535)
    admin_token: str | None = None
    workers: int = Field(1, ge=1, le=64, description="replicas sharing the port (PostgreSQL)")
    admin_user: str | None = None
    log_dir: Path | None = None
    envs_root: Path | None = Field(
        None,
        description="the haienv root: {envs_root}/{user}/{name} (default: {home}/envs; a "
        "cluster names a directory on the shared storage, mounted in pods at the same path)",
    )
    workspaces_root: Path | None = Field(
        None,
        description="workspace sync: {workspaces_root}/{user}/{name} (default: "
        "the Jupyter workspace, {home}/workspace; a cluster names a directory on the shared "
        "storage)",
    )
    config_file: Path | None = None
    embedded: bool = False
    metrics_public: bool = False  # /metrics without a token (e.g. a scraper inside the cluster)
    # hai-up's installation marker (installation.json): /healthz tells admins which
    # installation this server belongs to, so hai-up knows it reached the one it started
    installation_file: Path | None = None
    recover_admin: bool = False  # hai-server --recover-admin (hai-cli server recover) only
    scheduler: SchedulerSettings = SchedulerSettings()
    local: LocalSettings = LocalSettings()
    kubernetes: KubernetesConfig = KubernetesConfig()
    studio: StudioSettings = StudioSettings()
    jupyter: JupyterSettings = JupyterSettings()
    workspace: WorkspaceSettings = WorkspaceSettings()

    @field_validator("home", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    @model_validator(mode="after")
    def _quota_by_mode(self) -> Settings:
        """No quota row: unlimited on the embedded server (one user), no access in a cluster."""
        if self.scheduler.default_quota is None:
            default: int | str = "unlimited" if self.embedded else 0
            self.scheduler = self.scheduler.model_copy(update={"default_quota": default})
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.home / 'hai.db'}"

    @property
    def resolved_log_dir(self) -> Path:
        return self.log_dir or self.home / "logs"

    @property
    def resolved_envs_root(self) -> Path:
        return self.envs_root or self.home / "envs"

    @property
    def resolved_workspace(self) -> Path:
        return self.jupyter.workspace or self.home / "workspace"

    @property
    def resolved_workspaces_root(self) -> Path:
        """One root for workspace sync ({root}/{user}/NAME) and Jupyter ({root}/{user}/jupyter)."""
        return self.workspaces_root or self.resolved_workspace

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"


class _TomlSource(PydanticBaseSettingsSource):
    """Values from override.toml (``HAI_CONFIG_FILE``), in the seed's layout where it has one."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("HAI_CONFIG_FILE")
        if not path:
            return {}
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        return toml_to_settings(data)


def toml_to_settings(data: dict[str, Any]) -> dict[str, Any]:
    """Map an override.toml document onto settings fields (pure)."""
    out: dict[str, Any] = {}
    server = data.get("server", {})
    for key in (
        "home",
        "backend",
        "host",
        "port",
        "database_url",
        "redis_url",
        "log_dir",
        "workers",
        "envs_root",
        "workspaces_root",
    ):
        if key in server:
            out[key] = server[key]
    pg = data.get("database", {}).get("postgres", {}).get("primary")
    if pg and "database_url" not in out:
        out["database_url"] = (
            f"postgresql+psycopg://{quote(str(pg.get('user', 'root')), safe='')}"
            f":{quote(str(pg.get('password', '')), safe='')}"
            f"@{pg.get('host', '127.0.0.1')}:{pg.get('port', 5432)}/{pg.get('database', 'hai')}"
        )
    redis = data.get("database", {}).get("redis")
    if redis and "redis_url" not in out:
        auth = f":{quote(str(redis['password']), safe='')}@" if redis.get("password") else ""
        out["redis_url"] = (
            f"redis://{auth}{redis.get('host', '127.0.0.1')}:{redis.get('port', 6379)}/{redis.get('db', 0)}"
        )
    if "kubernetes" in data:
        out["kubernetes"] = data["kubernetes"]
    if "scheduler" in data:
        out["scheduler"] = data["scheduler"]
    if "workspace" in data:
        out["workspace"] = data["workspace"]
    if "jupyter" in data:  # [jupyter]: groups (JUPYTER_GROUP), workspace, cull, ...
        out["jupyter"] = data["jupyter"]
    if "launcher" in data and "local" in data["launcher"]:
        out["local"] = data["launcher"]["local"]
    dist = data.get("experiment", {}).get("log", {}).get("dist")
    if dist and "log_dir" not in out:
        first = dist[0] if isinstance(dist, list) else dist
        if "dir" in first:
            out["log_dir"] = first["dir"]
    return out
