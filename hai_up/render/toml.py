"""A tiny TOML writer for the rendered files: tables of str/int/bool/list values."""

from __future__ import annotations

import json

Value = str | int | bool | list[str]


def toml_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON escapes are valid TOML escapes
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


def toml_table(header: str, values: dict[str, Value], comment: str = "") -> str:
    lines = [f"# {comment}"] if comment else []
    lines.append(header)
    lines += [f"{key} = {toml_value(v)}" for key, v in values.items()]
    return "\n".join(lines)
