"""Experiment files: ``hai-cli run exp.yml`` submits one, ``hai-cli describe TASK`` writes one.

A strict schema (an unknown key, a wrong type or a bad value is an error naming the key and
its line); everything but ``script`` is optional::

    name: bert                 # default: the script's file name
    kind: python               # python (default), bash or exec
    script: train.py           # relative to workdir
    args: [--lr, "0.1"]        # the script's arguments: a list, or one string split like a shell
    workdir: /home/me/bert     # default: the directory of the file
    nodes: 2
    group: default
    priority: HIGH             # a level name, AUTO, or a number
    env: torch[alice]          # the haienv the ranks run in (also spelled haienv)
    image: registry/img:tag
    environment: {SEED: "1"}   # variables of every rank
    options: {suspend_after: 30}

Parsing is pure (``parse(text)`` -> ``Experiment``); PyYAML's node tree gives the lines.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import Any

import yaml

KINDS = ("python", "bash", "exec")
KEYS = (
    "name",
    "kind",
    "script",
    "args",
    "workdir",
    "nodes",
    "group",
    "priority",
    "env",
    "haienv",
    "image",
    "environment",
    "options",
)
OPTIONS = ("suspend_after",)
MAX_FILE = 1 << 20


class ExperimentError(ValueError):
    """What is wrong with an experiment file, with the key and line when there is one."""


@dataclass(frozen=True)
class Experiment:
    script: str
    name: str | None = None
    kind: str = "python"
    args: tuple[str, ...] = ()
    workdir: str | None = None
    nodes: int | None = None
    group: str | None = None
    priority: str | None = None
    env: str | None = None
    image: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    suspend_after: float | None = None


def _where(node: yaml.Node, source: str) -> str:
    return f"{source}:{node.start_mark.line + 1}"


def _fail(node: yaml.Node, source: str, key: str, message: str) -> ExperimentError:
    return ExperimentError(f"{_where(node, source)}: key {key!r} {message}")


def _scalar(node: yaml.Node, source: str, key: str) -> Any:
    """The value PyYAML's safe loader gives this scalar (int, float, bool, str, None)."""
    try:
        return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
    except yaml.YAMLError:
        raise _fail(node, source, key, f"has a tag this format does not take: {node.tag}") from None


def _string(node: yaml.Node, source: str, key: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise _fail(node, source, key, "must be a string")
    value = _scalar(node, source, key)
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        raise _fail(node, source, key, "must be a string")
    text = node.value if isinstance(value, int | float) else value
    if "\x00" in text:
        raise _fail(node, source, key, "must not contain NUL")
    return str(text)


def _number(node: yaml.Node, source: str, key: str, whole: bool) -> Any:
    value = _scalar(node, source, key) if isinstance(node, yaml.ScalarNode) else None
    ok = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok):
        raise _fail(node, source, key, f"must be a {'whole number' if whole else 'number'}")
    return value


def _args(node: yaml.Node, source: str) -> tuple[str, ...]:
    if isinstance(node, yaml.SequenceNode):
        return tuple(_string(item, source, "args") for item in node.value)
    text = _string(node, source, "args")
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise _fail(node, source, "args", f"is not a shell word list: {exc}") from None


def _mapping(node: yaml.Node, source: str, key: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(node, source, key, "must be a mapping (key: value lines)")
    seen: set[str] = set()
    out = []
    for k, v in node.value:
        name = _string(k, source, f"{key} key")
        if name in seen:
            raise ExperimentError(f"{_where(k, source)}: key {name!r} is given twice")
        seen.add(name)
        out.append((name, k, v))
    return out


def _compose(text: str, source: str) -> yaml.Node:
    if len(text.encode()) > MAX_FILE:
        raise ExperimentError(f"{source}: larger than {MAX_FILE} bytes")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ExperimentError(f"{source}{line}: not valid YAML: {problem}") from None
    if node is None or not isinstance(node, yaml.MappingNode):
        raise ExperimentError(f"{source}: an experiment file is a mapping (key: value lines)")
    return node


def parse(text: str, source: str = "experiment") -> Experiment:
    """The experiment ``text`` describes; ExperimentError names the key and the line."""
    root = _compose(text, source)
    values: dict[str, Any] = {}
    for key, knode, node in _mapping(root, source, "top-level"):
        if key not in KEYS:
            raise ExperimentError(
                f"{_where(knode, source)}: unknown key {key!r} (known: {', '.join(KEYS)})"
            )
        if key in ("env", "haienv") and "env" in values:
            raise ExperimentError(f"{_where(knode, source)}: give env or haienv, not both")
        values[key if key != "haienv" else "env"] = _value(key, node, source)
    if "script" not in values:
        raise ExperimentError(f"{source}: key 'script' is missing (the file to run)")
    options = values.pop("options", {})
    return Experiment(**values, **options)


def _value(key: str, node: yaml.Node, source: str) -> Any:
    if key == "args":
        return _args(node, source)
    if key == "nodes":
        value = _number(node, source, key, whole=True)
        if value < 1:
            raise _fail(node, source, key, f"must be at least 1, got {value}")
        return value
    if key == "priority":
        return _string(node, source, key)
    if key == "kind":
        value = _string(node, source, key)
        if value not in KINDS:
            raise _fail(node, source, key, f"must be one of {', '.join(KINDS)}, got {value!r}")
        return value
    if key == "environment":
        return {
            k: _string(v, source, f"environment.{k}") for k, _, v in _mapping(node, source, key)
        }
    if key == "options":
        out = {}
        for name, knode, v in _mapping(node, source, key):
            if name not in OPTIONS:
                raise ExperimentError(
                    f"{_where(knode, source)}: unknown option {name!r} (known: {', '.join(OPTIONS)})"
                )
            out[name] = float(_number(v, source, f"options.{name}", whole=False))
        return out
    if isinstance(node, yaml.ScalarNode) and _scalar(node, source, key) is None:
        raise _fail(node, source, key, "has no value")
    return _string(node, source, key)


def load(path: str) -> Experiment:
    """Read and parse an experiment file; a relative workdir is the file's directory's."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE + 1)
    except OSError as exc:
        raise ExperimentError(f"{path}: {exc.strerror}") from None
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise ExperimentError(f"{path}: not UTF-8 text") from None
    exp = parse(text, path)
    base = os.path.dirname(os.path.abspath(path))
    workdir = os.path.join(base, exp.workdir) if exp.workdir else base
    return _replace(exp, workdir=os.path.normpath(workdir))


def _replace(exp: Experiment, **changes: Any) -> Experiment:
    from dataclasses import replace

    return replace(exp, **changes)


def name_of(path: str) -> str:
    """The task name an experiment file gives (its ``name``, else the script's file name)."""
    exp = load(path)
    return exp.name or os.path.basename(exp.script)


def dump(exp: Experiment) -> str:
    """The file that resubmits ``exp`` (keys in the documented order; defaults left out)."""
    doc: dict[str, Any] = {}
    if exp.name is not None:
        doc["name"] = exp.name
    if exp.kind != "python":
        doc["kind"] = exp.kind
    doc["script"] = exp.script
    if exp.args:
        doc["args"] = list(exp.args)
    for key in ("workdir", "nodes", "group", "priority", "env", "image"):
        value = getattr(exp, key)
        if value is not None:
            doc[key] = value
    if exp.environment:
        doc["environment"] = dict(exp.environment)
    if exp.suspend_after is not None:
        doc["options"] = {"suspend_after": exp.suspend_after}
    return yaml.safe_dump(
        doc, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=None
    )
