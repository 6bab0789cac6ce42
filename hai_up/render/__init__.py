"""Pure renderers: UpConfig -> the files hai-up writes and applies."""

from __future__ import annotations

from hai_up.config import UpConfig
from hai_up.render.compose import compose_yaml
from hai_up.render.init_sql import render_init_sql
from hai_up.render.k8s import render_manifests, render_node_labels, to_yaml
from hai_up.render.override import render_override

__all__ = ["render_all"]


def render_all(cfg: UpConfig) -> dict[str, str]:
    """Every rendered file, by name (deterministic)."""
    return {
        "init.sql": render_init_sql(cfg),
        "override.toml": render_override(cfg),
        "docker-compose.yaml": compose_yaml(cfg),
        "k8s.yaml": to_yaml(render_manifests(cfg)),
        "node-labels.yaml": to_yaml([render_node_labels(cfg)]),
    }
