"""Entry point of ``hai-server``: one replica of the API, reconciler and backend."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="hai-server",
        description="Run one HAI Platform server replica (API, scheduler, backend). "
        "Settings come from HAI_* environment variables and HAI_CONFIG_FILE (override.toml).",
    )
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to bind (0: any free port)")
    p.add_argument("--home", help="state directory (HAI_HOME, default ~/.hai)")
    p.add_argument("--nodes", type=int, help="local backend: virtual nodes on this machine")
    p.add_argument(
        "--embedded",
        action="store_true",
        help="run as hai-cli's embedded server: the database is SQLite under --home unless "
        "--database-url is given (HAI_DATABASE_URL, HAI_REDIS_URL and override.toml's "
        "database sections are ignored)",
    )
    p.add_argument(
        "--database-url",
        metavar="URL",
        help="SQLAlchemy URL of the database (overrides HAI_DATABASE_URL), e.g. "
        "postgresql+psycopg://user:pw@127.0.0.1:5432/hai",
    )
    p.add_argument("--redis-url", metavar="URL", help="Redis URL (overrides HAI_REDIS_URL)")
    p.add_argument("--state-file", help="write {pid, url} here once listening")
    p.add_argument(
        "--admin-token-file",
        metavar="FILE",
        help="read the admin token from FILE (keeps it out of the environment, which "
        "/proc/PID/environ shows)",
    )
    p.add_argument(
        "--recover-admin",
        action="store_true",
        help="make the admin (HAI_ADMIN_USER) an active admin again and its token valid "
        "again even if revoked (hai-cli server recover)",
    )
    p.add_argument(
        "--seed",
        metavar="FILE",
        help="migrate the database, apply this seed file (TOML: users, tokens, quotas), exit",
    )
    p.add_argument(
        "--init-sql",
        metavar="FILE",
        help="migrate the database, run this SQL file in one transaction (hai-up's init.sql), exit",
    )
    p.add_argument(
        "--workers",
        type=int,
        help="replicas in this process group sharing the port (PostgreSQL only; default 1)",
    )
    p.add_argument("--log-level", default=os.environ.get("HAI_LOG_LEVEL", "info"))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    from hai_server.logformat import BadLogFormat, configure_logging

    try:
        configure_logging(args.log_level, os.environ.get("HAI_LOG_FORMAT", "text"))
    except (BadLogFormat, ValueError) as exc:  # ValueError: an unknown --log-level
        print(f"hai-server: {exc}", file=sys.stderr)
        sys.exit(2)
    from hai_server.settings import Settings

    overrides: dict[str, object] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.home:
        overrides["home"] = Path(args.home)
    if args.embedded:
        # only what hai-cli passes explicitly: a stray HAI_DATABASE_URL in a user's shell must
        # not turn their private embedded server into a client of some shared database
        overrides["embedded"] = True
        overrides["database_url"] = args.database_url
        overrides["redis_url"] = args.redis_url
        overrides["workers"] = 1  # nor a cluster's HAI_WORKERS
    else:
        if args.database_url:
            overrides["database_url"] = args.database_url
        if args.redis_url:
            overrides["redis_url"] = args.redis_url
    if args.workers is not None:
        overrides["workers"] = args.workers
    if args.recover_admin:
        overrides["recover_admin"] = True
    try:
        if args.admin_token_file:
            overrides["admin_token"] = Path(args.admin_token_file).read_text().strip() or None
        settings = Settings(**overrides)  # type: ignore[arg-type]
        if args.nodes is not None:
            settings.local = settings.local.model_copy(update={"nodes": args.nodes})
            if not 1 <= args.nodes <= 256:
                raise ValueError("--nodes must be between 1 and 256")
        if settings.workers > 1 and not settings.resolved_database_url.startswith("postgresql"):
            raise ValueError(
                f"--workers {settings.workers} needs PostgreSQL (HAI_DATABASE_URL): "
                "workers are replicas, and SQLite serves one process"
            )
    except (ValidationError, ValueError, OSError) as exc:
        print(f"hai-server: bad settings: {exc}", file=sys.stderr)
        sys.exit(2)

    from hai_server.dbprep import prepare_or_exit
    from hai_server.home import prepare_home, private_files, private_process

    private_files()
    private_process()
    try:
        prepare_home(settings.home, settings.runs_dir, settings.resolved_log_dir)
    except OSError as exc:
        print(f"hai-server: cannot prepare {settings.home}: {exc}", file=sys.stderr)
        sys.exit(1)
    prepare_or_exit(
        settings.resolved_database_url,
        Path(args.seed) if args.seed else None,
        Path(args.init_sql) if args.init_sql else None,
    )
    if args.seed or args.init_sql:
        return

    import uvicorn

    from hai_server.app import create_app

    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket says it is TCP; without it every kept-alive response waits ~40 ms
    # (Nagle + delayed ACK between the header and body writes).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        print(
            f"hai-server: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
        )
        sys.exit(1)
    sock.listen(512)
    host, port = sock.getsockname()[:2]
    url = f"http://{host}:{port}"
    if settings.workers > 1:
        from hai_server.cluster.workers import fork_workers

        fork_workers(settings.workers)  # returns in each worker only
    app = create_app(settings, migrated=True)  # prepare_or_exit migrated it
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=3,
        log_config=None,  # uvicorn's loggers go through ours (HAI_LOG_FORMAT)
    )
    server = uvicorn.Server(config)

    state_file = args.state_file

    async def serve() -> None:
        import asyncio

        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            logging.getLogger("hai.server").info("listening on %s", url)
            if state_file:
                tmp = f"{state_file}.tmp"
                with open(tmp, "w", encoding="utf-8") as fh:
                    json.dump({"pid": os.getpid(), "url": url}, fh)
                os.replace(tmp, state_file)
        await task

    import asyncio

    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(serve())
    except KeyboardInterrupt:
        pass
    finally:
        if state_file:
            try:
                with open(state_file, encoding="utf-8") as fh:
                    if json.load(fh).get("pid") == os.getpid():
                        os.unlink(state_file)
            except (OSError, ValueError):
                pass


def _loop_factory() -> Any:
    """uvloop's event loop when installed (about twice the requests per CPU second)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    main()
