"""The ``haienv`` command (also ``hai-cli venv``): create, list, remove, config, activate.

Standard library only (argparse) so ``haienv list`` answers in tens of milliseconds.
Exit codes as hai-cli's: 0 ok, 1 failure, 2 bad input, 3 not found, 4 server unreachable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from hai_cli.haienv import meta as m
from hai_cli.haienv import roots, store
from hai_cli.haienv.errors import BadInput, HaienvError, NotFound
from hai_cli.haienv.names import PLATFORM_OWNER, check_name, parse_ref, ref

DEFAULT_BASE = "base"  # platform/base is what a new environment extends when nothing is active
SEARCH, ENVIRON = "extra-search-dir", "extra-environment"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise BadInput(message)


def parser(prog: str = "haienv") -> argparse.ArgumentParser:
    p = _Parser(
        prog=prog,
        description="Python environments on shared storage, made with uv, used by tasks. "
        'Activate one with `source haienv NAME` or `eval "$(haienv activate NAME)"`.',
        epilog="Exit codes: 0 ok, 1 failure, 2 bad input, 3 not found, 4 server unreachable.",
    )
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND", parser_class=_Parser)

    c = sub.add_parser("create", help="create an environment (extends the active one or "
                       "platform/base unless --no-extend)")  # fmt: skip
    c.add_argument("name", nargs="?", help="its name (default: the spec's)")
    c.add_argument("--no-extend", action="store_true", help="a standalone environment")
    c.add_argument("--extends", metavar="NAME[owner]", help="the environment to extend")
    c.add_argument("-p", "--python", help="interpreter: a version, name or path (standalone)")
    c.add_argument("--from", dest="spec", metavar="SPEC.toml", help="an environment spec")
    c.add_argument("--extra-search-dir", action="append", default=[], metavar="DIR")
    c.add_argument("--extra-environment", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument("--find-links", action="append", default=[], metavar="DIR",
                   help="local wheels for the spec's packages")  # fmt: skip
    c.add_argument("--no-index", action="store_true", help="install from --find-links only")
    c.add_argument("--json", action="store_true", help="print the new environment as JSON")

    b = sub.add_parser("build", help="create or update environments from specs (versioned: "
                       "an unchanged spec is skipped, a changed one is rebuilt beside the old "
                       "one and switched to at once)")  # fmt: skip
    b.add_argument("specs", nargs="+", metavar="SPEC.toml")
    b.add_argument("--find-links", action="append", default=[], metavar="DIR")
    b.add_argument("--no-index", action="store_true", help="install from --find-links only")
    b.add_argument("--json", action="store_true", help="one JSON object per spec and line")

    ls = sub.add_parser("list", help="list environments")
    ls.add_argument("-u", "--user", help="this user's environments")
    ls.add_argument("-a", "--all", action="store_true", help="every user's environments")
    ls.add_argument("--json", action="store_true")

    rm = sub.add_parser("remove", help="remove one of your environments")
    rm.add_argument("name")
    rm.add_argument("--force", action="store_true",
                    help="even if queued or running tasks use it (or the server is unreachable)")  # fmt: skip

    cf = sub.add_parser("config", help="extra search dirs and variables of an environment")
    csub = cf.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    show = csub.add_parser("show", help="show them")
    show.add_argument("name", metavar="NAME[owner]")
    show.add_argument("--json", action="store_true")
    ap = csub.add_parser("append", help="add search dirs or variables")
    ap.add_argument("name")
    ap.add_argument("--extra-search-dir", action="append", default=[], metavar="DIR")
    ap.add_argument("--extra-environment", action="append", default=[], metavar="KEY=VALUE")
    cl = csub.add_parser("clear", help="clear them (both kinds unless one is named)")
    cl.add_argument("name")
    cl.add_argument("--extra-search-dir", action="store_true")
    cl.add_argument("--extra-environment", action="store_true")

    a = sub.add_parser("activate", help="print shell code that activates NAME (for eval)")
    a.add_argument("name", metavar="NAME[owner]")
    a.add_argument("-u", "--user", help="the owner (same as NAME[owner])")

    i = sub.add_parser("install", help="uv pip install into one of your environments")
    i.add_argument("name")
    i.add_argument("args", nargs=argparse.REMAINDER, help="uv pip install arguments")

    pa = sub.add_parser("path", help="print an environment's directory")
    pa.add_argument("name", metavar="NAME[owner]")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "haienv") -> int:
    try:
        args = parser(prog).parse_args(list(sys.argv[1:] if argv is None else argv))
        return COMMANDS[args.cmd](args)
    except HaienvError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- commands ------------------------------------------------------------------------------
def _find(name_ref: str, owner: str | None = None) -> m.EnvMeta:
    name, ref_owner = parse_ref(name_ref)
    if owner is not None and ref_owner is not None and owner != ref_owner:
        raise BadInput(f"two owners given: {ref_owner!r} and {owner!r}")
    return store.resolve(roots.envs_root(), name, owner or ref_owner, roots.me())


def _own(name: str) -> m.EnvMeta:
    """One of this user's environments (the ones it may change)."""
    check_name(name)
    found = store.at(roots.envs_root(), roots.me(), name)
    if found is None:
        raise NotFound(f"you have no environment {name!r} (in {roots.user_root()})")
    return found


def _pairs(items: Sequence[str]) -> tuple[tuple[str, str], ...]:
    import re

    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) or "\x00" in value:
            raise BadInput(f"bad --extra-environment {item!r}: expected KEY=VALUE")
        out.append((key, value))
    return tuple(out)


def _dirs(items: Sequence[str]) -> tuple[str, ...]:
    for d in items:
        if not d or "\x00" in d or os.pathsep in d:
            raise BadInput(f"bad --extra-search-dir {d!r}")
    return tuple(os.path.abspath(d) for d in items)


def default_base(environ: dict[str, str] | os._Environ[str]) -> m.EnvMeta | None:
    """The active environment, else platform/base, else None."""
    active = environ.get("HF_ENV_NAME")
    root = roots.envs_root(environ)
    if active:
        owner = environ.get("HF_ENV_OWNER") or None
        try:
            return store.resolve(root, active, owner, roots.me(environ))
        except NotFound:
            raise NotFound(
                f"the active environment {ref(active, owner)} is gone; deactivate it, "
                "or use --no-extend or --extends"
            ) from None
    return store.at(root, PLATFORM_OWNER, DEFAULT_BASE)


def _read_spec(path: str) -> Any:
    from hai_cli.haienv.spec import parse_spec

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise BadInput(f"cannot read spec {path}: {exc.strerror}") from None
    return parse_spec(text, path, default_name=os.path.splitext(os.path.basename(path))[0])


def cmd_create(args: argparse.Namespace) -> int:
    from hai_cli.haienv import create as cr

    spec = _read_spec(args.spec) if args.spec else None
    name = args.name or (spec.name if spec else None)
    if name is None:
        raise BadInput("create needs NAME (or --from SPEC.toml)")
    check_name(name)
    python = args.python or (spec.python if spec else None)
    if args.no_extend and args.extends:
        raise BadInput("--no-extend and --extends contradict each other")
    base = None
    if args.extends:
        base = _find(args.extends)
    elif not args.no_extend and not (args.python and not os.environ.get("HF_ENV_NAME")):
        base = default_base(os.environ)
    if base is not None and base.owner == roots.me() and base.name == name:
        base = None  # the platform's own base is made from nothing
    req = cr.Request(
        name=name,
        root=roots.user_root(),
        base=base,
        python=python,
        packages=spec.packages if spec else (),
        find_links=tuple(args.find_links) + (spec.find_links if spec else ()),
        no_index=args.no_index or bool(spec and spec.no_index),
        search_dirs=(spec.search_dirs if spec else ()) + _dirs(args.extra_search_dir),
        environment=tuple((spec.environment if spec else {}).items())
        + _pairs(args.extra_environment),
        spec=os.path.abspath(args.spec) if args.spec else None,
    )
    env = cr.create(req)
    if args.json:
        _print_json(_record(env))
    else:
        how = f"extends {env.extends.name}[{env.extends.owner}]" if env.extends else "standalone"
        print(f"created {env.ref}: Python {env.python}, {how}, at {env.prefix}")
        print(f'  source haienv {env.name}    (or: eval "$(haienv activate {env.name})")')
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """Every spec is parsed before anything is built (a bad one: exit 2, nothing changed)."""
    from hai_cli.haienv import builds

    specs = [(_read_spec(path), os.path.abspath(path)) for path in args.specs]
    names = [spec.name for spec, _ in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BadInput(f"two specs name environment {twice[0]!r}")
    root, failed = roots.user_root(), 0
    for spec, source in specs:
        result = builds.build(
            spec, root, source, find_links=args.find_links, no_index=args.no_index
        )
        failed += result.status == "failed"
        if args.json:
            print(result.to_json(), flush=True)
        elif result.status == "failed":
            print(f"error: {result.line()}", file=sys.stderr)
        else:
            print(result.line())
    return 1 if failed else 0


def _record(e: m.EnvMeta) -> dict[str, Any]:
    data = asdict(e)
    data["search_dirs"] = list(e.search_dirs)
    data["extends"] = f"{e.extends.name}[{e.extends.owner}]" if e.extends else None
    data["user"] = e.owner
    data["path"] = e.prefix
    return data


def cmd_list(args: argparse.Namespace) -> int:
    root, me = roots.envs_root(), roots.me()
    if args.user and args.all:
        raise BadInput("-u and -a contradict each other")
    only = None if args.all else [check_name(args.user, "owner name") if args.user else me]
    envs = store.list_envs(root, only)
    if args.json:
        _print_json([_record(e) for e in envs])
        return 0
    if not envs:
        who = "nobody has" if args.all else (f"{args.user} has" if args.user else "you have")
        print(f"{who} no environments under {root}" + ("" if args.all else " (-a: everyone's)"))
        return 0
    from hai_cli.table import format_table

    rows = [
        [e.owner, e.name, e.python, f"{e.extends.name}[{e.extends.owner}]" if e.extends else "-",
         e.prefix]
        for e in envs
    ]  # fmt: skip
    print(format_table(["USER", "NAME", "PYTHON", "EXTENDS", "PATH"], rows, shrink=4))
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    env = _own(args.name)
    users = [
        e
        for e in store.list_envs(roots.envs_root())
        if e.extends and e.extends.prefix == env.prefix
    ]
    if users and not args.force:
        names = ", ".join(e.ref for e in users[:5])
        raise BadInput(f"{env.ref} is the base of {names}; remove those first or use --force")
    if not args.force:
        from hai_cli.haienv.usage import tasks_using

        tasks = tasks_using(env.owner, env.name)
        if tasks:
            shown = ", ".join(f"{t['id']} ({t['state']})" for t in tasks[:10])
            raise BadInput(f"{env.ref} is used by task(s) {shown}; stop them first or use --force")
    store.remove(env)
    print(f"removed {env.ref} ({env.prefix})")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    if args.action == "show":
        env = _find(args.name)
        data = {SEARCH: list(env.search_dirs), ENVIRON: env.environment}
        if args.json:
            _print_json(data)
        else:
            print(f"{env.ref} at {env.prefix}")
            print(f"  {SEARCH}: {', '.join(env.search_dirs) or '-'}")
            pairs = [f"{k}={v}" for k, v in sorted(env.environment.items())]
            print(f"  {ENVIRON}: {', '.join(pairs) or '-'}")
        return 0
    env = _own(args.name)
    if args.action == "append":
        dirs, pairs = _dirs(args.extra_search_dir), _pairs(args.extra_environment)
        if not dirs and not pairs:
            raise BadInput("append needs --extra-search-dir or --extra-environment")
        env = env.replace(
            search_dirs=env.search_dirs + tuple(d for d in dirs if d not in env.search_dirs),
            environment={**env.environment, **dict(pairs)},
        )
    else:
        both = not args.extra_search_dir and not args.extra_environment
        env = env.replace(
            search_dirs=() if both or args.extra_search_dir else env.search_dirs,
            environment={} if both or args.extra_environment else env.environment,
        )
    m.write(env)
    print(f"updated {env.ref}")
    return 0


def cmd_activate(args: argparse.Namespace) -> int:
    from hai_cli.haienv import activation as act

    env = _find(args.name, args.user)
    sys.stdout.write(act.render_sh(act.activation(act.load_chain(env.prefix))))
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    from hai_cli.haienv import create as cr

    env = _own(args.name)
    extra = args.args[1:] if args.args[:1] == ["--"] else args.args
    if not extra:
        raise BadInput("install needs packages (uv pip install arguments)")
    cr.install(cr.uv_bin(), env.prefix, [], extra=extra)
    print(f"installed into {env.ref}")
    return 0


def cmd_path(args: argparse.Namespace) -> int:
    print(_find(args.name).prefix)
    return 0


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


COMMANDS = {
    "create": cmd_create,
    "build": cmd_build,
    "list": cmd_list,
    "remove": cmd_remove,
    "config": cmd_config,
    "activate": cmd_activate,
    "install": cmd_install,
    "path": cmd_path,
}
