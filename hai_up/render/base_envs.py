"""The base environments' build, rendered (pure): the command and its environment, and for
Kubernetes a ConfigMap with the selected specs and a Job that runs the build.

The build is ``haienv build --json`` of the specs at ``/etc/hai/environments`` in the platform
image, as ``BASE_ENVS_UID``, with an environment of its own (none of the server's secrets):
``HAIENV_PATH`` is the platform's root ``{envs_root}/platform``, uv's cache lives there too.

The Job ``hai-base-envs`` carries the digest of what it builds (specs, image, uid, root) in
an annotation: an apply keeps a Job with the same digest (a Job's pod template cannot be
replaced) and deletes and recreates one that differs (providers/k8s_client.py). ``haienv
build`` itself is idempotent, so a re-run only checks. A finished Job is deleted by Kubernetes
after a day (``ttlSecondsAfterFinished``); the next ``run`` then makes it again (a check).
The pod mounts the envs root from the host at the same path (the server's ``envs_root``;
pods of tasks mount it there read-only) and runs as ``BASE_ENVS_UID``, with no secret in its
environment and no service-account token.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hai_up.config import UpConfig
from hai_up.render.compose import SPECS_IN_CONTAINER
from hai_up.render.override import envs_root

Obj = dict[str, Any]
SPECS_CONFIGMAP = "hai-base-envs"
JOB = "hai-base-envs"
JOB_DIGEST = "hai.platform/job-digest"  # read by providers/k8s_client.py
UV_CACHE = ".uv-cache"
IMAGE_PATH = "/opt/hai/bin:/usr/local/bin:/usr/bin:/bin"  # the images' PATH (their Dockerfiles)
FINISHED_TTL_S = 86400


def spec_files(cfg: UpConfig) -> dict[str, str]:
    """``NAME.toml`` -> text of every selected spec."""
    return {f"{name}.toml": text for name, text in cfg.base_env_specs}


def job_digest(cfg: UpConfig) -> str:
    what = [spec_files(cfg), cfg.base_image, cfg.base_envs_uid, envs_root(cfg)]
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


def build_environ(cfg: UpConfig) -> dict[str, str]:
    """The build's whole environment (nothing of the server's: no passwords, no tokens)."""
    root = f"{envs_root(cfg)}/platform"
    return {
        "PATH": IMAGE_PATH,
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "HAIENV_PATH": root,
        "UV_CACHE_DIR": f"{root}/{UV_CACHE}",
    }


def build_args(cfg: UpConfig) -> list[str]:
    """``haienv build`` of the selected specs, as the image sees them."""
    files = [f"{SPECS_IN_CONTAINER}/{name}" for name in sorted(spec_files(cfg))]
    return ["python3", "-m", "haienv", "build", "--json", *files]


def exec_command(cfg: UpConfig) -> list[str]:
    """The build run in a server container by ``docker exec``: ``env -i`` drops the
    container's environment (it holds the database password and the admin token)."""
    return ["env", "-i", *(f"{k}={v}" for k, v in build_environ(cfg).items()), *build_args(cfg)]


def render_base_envs(cfg: UpConfig, meta: Any, affinity: Obj) -> list[Obj]:
    """[ConfigMap, Job] when specs are selected, else nothing. ``meta(name, namespace,
    component)`` makes the objects' metadata; ``affinity`` pins the pod (MANAGER_NODES)."""
    if not cfg.base_env_specs:
        return []
    ns = cfg.platform_namespace
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(SPECS_CONFIGMAP, ns, "base-envs"),
        "data": spec_files(cfg),
    }
    root = envs_root(cfg)
    uid = cfg.base_envs_uid
    container = {
        "name": "build",
        "image": cfg.base_image,
        "args": build_args(cfg),  # the image's entrypoint runs anything else as given
        "env": [{"name": k, "value": v} for k, v in build_environ(cfg).items()],
        "volumeMounts": [
            {"name": "envs", "mountPath": root},
            {"name": "specs", "mountPath": SPECS_IN_CONTAINER, "readOnly": True},
        ],
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    labels = {"app.kubernetes.io/name": "hai-base-envs"}
    pod = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": {"runAsUser": uid, "runAsGroup": uid, "runAsNonRoot": True},
        "containers": [container],
        "volumes": [
            {"name": "envs", "hostPath": {"path": root, "type": "Directory"}},
            {"name": "specs", "configMap": {"name": SPECS_CONFIGMAP}},
        ],
        **affinity,
    }
    job_meta = meta(JOB, ns, "base-envs")
    job_meta["annotations"] = {JOB_DIGEST: job_digest(cfg)}
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": job_meta,
        "spec": {
            "backoffLimit": 1,
            "ttlSecondsAfterFinished": FINISHED_TTL_S,
            "template": {"metadata": {"labels": {**job_meta["labels"], **labels}}, "spec": pod},
        },
    }
    return [configmap, job]
