"""SQLAlchemy 2 models: the platform's record. Times are epoch seconds (float)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="internal")  # admin|internal|external
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)
    uid: Mapped[int | None] = mapped_column(Integer, nullable=True)  # ranks run as it (root server)
    gid: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class UserGroup(Base):
    __tablename__ = "user_groups"

    user_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_name: Mapped[str] = mapped_column(String(64), primary_key=True)


class Quota(Base):
    __tablename__ = "quotas"

    principal: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(128), primary_key=True)
    quota: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Node(Base):
    __tablename__ = "nodes"

    name: Mapped[str] = mapped_column(String(253), primary_key=True)  # a k8s DNS subdomain
    group: Mapped[str] = mapped_column(String(64), index=True)
    zone: Mapped[str] = mapped_column(String(64), default="")
    gpus: Mapped[int] = mapped_column(Integer, default=0)
    gpu_first: Mapped[int] = mapped_column(Integer, default=0)  # device index of its first GPU
    healthy: Mapped[bool] = mapped_column(Boolean, default=True)
    cordoned: Mapped[bool] = mapped_column(Boolean, default=False)
    message: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[float] = mapped_column(Float)
    # what Jupyter containers of a shared group may take of it (0: unknown, none placed)
    cpus: Mapped[float] = mapped_column(Float, default=0.0)
    memory_gib: Mapped[float] = mapped_column(Float, default=0.0)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_state", "state"),
        Index("ix_tasks_user_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user_name: Mapped[str] = mapped_column(String(64))
    group: Mapped[str] = mapped_column(String(64))
    nodes: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer)  # as submitted (may be AUTO = -1)
    run_priority: Mapped[int | None] = mapped_column(Integer, nullable=True)  # level it runs at
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64), default="")
    position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="python")  # python|bash|exec|jupyter
    argv: Mapped[list[str]] = mapped_column(JSON)
    workdir: Mapped[str] = mapped_column(Text)
    env: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    restart_count: Mapped[int] = mapped_column(Integer, default=0)
    # any 64-bit value the task saves (PostgreSQL's INTEGER is 32-bit; SQLite's is 64 already)
    whole_life_state: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), default=0
    )
    submitted_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # current attempt
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    suspend_after: Mapped[float | None] = mapped_column(Float, nullable=True)  # rehearsal
    suspend_deadline: Mapped[float | None] = mapped_column(Float, nullable=True)
    suspend_reason: Mapped[str] = mapped_column(String(64), default="")
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    suspend_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    terminate_sent_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_checkpoint_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ran_s: Mapped[float] = mapped_column(Float, default=0.0)  # run time of earlier attempts
    held: Mapped[bool] = mapped_column(Boolean, default=False)  # hai-cli hold / release
    retry_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # start back-off
    start_failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row, for back-off
    version: Mapped[int] = mapped_column(Integer, default=0)  # guarded writes (see below)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # the haienv the ranks run in ({envs root}/{owner}/{name}); both None: none
    haienv_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    haienv_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the hang watchdog: seconds of silence allowed (None: the platform's default; 0: off),
    # and when it found the current attempt hung (None: not hung)
    watchdog_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hung_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    # Every ORM UPDATE of a task is guarded: "... WHERE id = ? AND version = ?" and bumps the
    # version; a write that finds the row changed since it was read raises StaleDataError and
    # its whole transaction is rolled back (the reconciler retries on its next tick, the API
    # retries the use case). No lost updates between the API and any replica's reconciler.
    __mapper_args__ = {"version_id_col": version}


class Attempt(Base):
    __tablename__ = "attempts"
    __table_args__ = (UniqueConstraint("task_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    nodes: Mapped[list[str]] = mapped_column(JSON)
    priority: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    outcome: Mapped[str] = mapped_column(String(32), default="")
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    log_dir: Mapped[str] = mapped_column(Text)
    ranks: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list
    )  # rank, node, state, exit_code


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)


class Usage(Base):
    """Decayed node-seconds per user (fair share), as of ``updated_at``."""

    __tablename__ = "usage"

    user_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[float] = mapped_column(Float)


class Sample(Base):
    """One group's state at one moment, recorded every ``studio.sample_interval_s`` for
    Studio's charts (utilisation, queue, preemptions); older than the retention: deleted."""

    __tablename__ = "samples"
    __table_args__ = (Index("ix_samples_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[float] = mapped_column(Float)
    group: Mapped[str] = mapped_column(String(64))
    nodes: Mapped[int] = mapped_column(Integer, default=0)  # healthy, uncordoned
    busy: Mapped[int] = mapped_column(Integer, default=0)  # held by an active task
    queued: Mapped[int] = mapped_column(Integer, default=0)
    running: Mapped[int] = mapped_column(Integer, default=0)
    preemptions: Mapped[int] = mapped_column(Integer, default=0)  # since the previous sample


class Storage(Base):
    """A mount of task (and container) pods, as the original's ``storage`` table: paths are
    templates over ``user.*`` / ``task.*``; ``owners`` are users, groups, roles or ``public``;
    ``conditions`` restricted expressions that must all hold. Resolved by
    hai_server.domain.storage.mounts_for."""

    __tablename__ = "storage"
    __table_args__ = (UniqueConstraint("host_path", "mount_path", "action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host_path: Mapped[str] = mapped_column(String(1024))  # ConfigMap: NAME or NAME/KEY
    mount_path: Mapped[str] = mapped_column(String(1024))
    owners: Mapped[list[str]] = mapped_column(JSON, default=list)
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    mount_type: Mapped[str] = mapped_column(String(32), default="Directory")
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    action: Mapped[str] = mapped_column(String(8), default="add")  # add | remove
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TrainEnvironment(Base):
    """A built-in image (the original's ``train_environment``): allowed to users with quota
    ``train_environment:{env_name}``; the one with the highest quota is their default."""

    __tablename__ = "train_environment"

    env_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    image: Mapped[str] = mapped_column(String(512))
    python: Mapped[str] = mapped_column(String(256), default="python3")
    # {"environments": {"K": "V"}, ...} as the original's config column
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
