"""A thin layer over the official ``kubernetes`` client: objects as dicts, errors as UpError."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client
from kubernetes import config as kconfig

from hai_up.config import UpConfig
from hai_up.errors import EXIT_CONFIG, EXIT_FAILED, EXIT_UNREACHABLE, UpError

Obj = dict[str, Any]
TIMEOUT = (5, 30)  # connect, read (seconds)

# kind -> (API class, method suffix, namespaced)
KINDS: dict[str, tuple[type, str, bool]] = {
    "Namespace": (client.CoreV1Api, "namespace", False),
    "Secret": (client.CoreV1Api, "secret", True),
    "ConfigMap": (client.CoreV1Api, "config_map", True),
    "Service": (client.CoreV1Api, "service", True),
    "ServiceAccount": (client.CoreV1Api, "service_account", True),
    "Deployment": (client.AppsV1Api, "deployment", True),
    "StatefulSet": (client.AppsV1Api, "stateful_set", True),
    "Ingress": (client.NetworkingV1Api, "ingress", True),
    "Job": (client.BatchV1Api, "job", True),
    "Role": (client.RbacAuthorizationV1Api, "role", True),
    "RoleBinding": (client.RbacAuthorizationV1Api, "role_binding", True),
    "ClusterRole": (client.RbacAuthorizationV1Api, "cluster_role", False),
    "ClusterRoleBinding": (client.RbacAuthorizationV1Api, "cluster_role_binding", False),
    "Node": (client.CoreV1Api, "node", False),  # read and label only
}
# a Job's pod template cannot be replaced: an apply keeps a Job whose annotation has the
# same digest (it built, or builds, the same thing) and deletes and recreates one that differs
JOB_DIGEST = "hai.platform/job-digest"
HINTS = {
    401: "the credentials of the kubeconfig were refused",
    403: "the kubeconfig's user may not do this (deploying needs cluster-admin-like rights)",
}


def _api_message(exc: client.ApiException) -> str:
    try:
        message = json.loads(exc.body or "{}").get("message", "")
    except (ValueError, AttributeError):
        message = ""
    hint = HINTS.get(exc.status or 0, "")
    return "; ".join(x for x in (f"HTTP {exc.status} {exc.reason}", message, hint) if x)


def _json(response: Any) -> Any:
    """The body of a raw response (no model validation: we only read a few fields)."""
    data = getattr(response, "data", b"") or b""
    try:
        return json.loads(data)
    except ValueError:
        return None


class Cluster:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.host = api.configuration.host
        self.core = client.CoreV1Api(api)
        self._apis: dict[type, Any] = {}

    # -- calls ----------------------------------------------------------------------------
    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one API call; unreachable -> exit 4, refused -> exit 1, one line each."""
        try:
            return _json(fn(*args, _request_timeout=TIMEOUT, _preload_content=False, **kwargs))
        except client.ApiException as exc:
            raise UpError(f"{what}: {_api_message(exc)}", EXIT_FAILED) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise UpError(
                f"the Kubernetes API at {self.host} is unreachable: {reason}", EXIT_UNREACHABLE
            ) from None

    def _method(self, verb: str, obj: Obj) -> tuple[Callable[..., Any], list[Any], str]:
        kind = obj["kind"]
        api_class, suffix, namespaced = KINDS[kind]
        api = self._apis.setdefault(api_class, api_class(self.api))
        meta = obj["metadata"]
        name = f"{kind} {meta['name']}"
        if namespaced:
            fn = getattr(api, f"{verb}_namespaced_{suffix}")
            args = [meta["namespace"]] if verb == "create" else [meta["name"], meta["namespace"]]
            return fn, args, f"{verb} {name} in {meta['namespace']}"
        fn = getattr(api, f"{verb}_{suffix}")
        return fn, ([] if verb == "create" else [meta["name"]]), f"{verb} {name}"

    def _status(self, verb: str, obj: Obj, *extra: Any, **kw: Any) -> tuple[int, Any]:
        """(HTTP status, result) where 404/409 are answers, not errors."""
        fn, args, what = self._method(verb, obj)
        try:
            return 200, _json(
                fn(*args, *extra, _request_timeout=TIMEOUT, _preload_content=False, **kw)
            )
        except client.ApiException as exc:
            if exc.status in (404, 409):
                return exc.status, None
            raise UpError(f"{what}: {_api_message(exc)}", EXIT_FAILED) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise UpError(
                f"the Kubernetes API at {self.host} is unreachable: {reason}", EXIT_UNREACHABLE
            ) from None

    # -- objects --------------------------------------------------------------------------
    def read(self, obj: Obj) -> Obj | None:
        code, live = self._status("read", obj)
        return None if code == 404 else live

    def apply(self, obj: Obj) -> str:
        """Create, or replace what is there (a Namespace that exists is left alone)."""
        code, _ = self._status("create", obj, obj)
        if code != 409:
            return "created"
        if obj["kind"] == "Namespace":
            return "kept"
        live = self.read(obj)
        if live is None:  # deleted in between: create again
            self._status("create", obj, obj)
            return "created"
        if obj["kind"] == "Job":
            return self._replace_job(obj, live)
        body = json.loads(json.dumps(obj))
        body["metadata"]["resourceVersion"] = live["metadata"].get("resourceVersion")
        if obj["kind"] == "Service":  # immutable once allocated
            for key in ("clusterIP", "clusterIPs"):
                if key in live.get("spec", {}):
                    body["spec"][key] = live["spec"][key]
        fn, args, what = self._method("replace", obj)
        self.call(what, fn, *args, body)
        return "replaced"

    def _replace_job(self, obj: Obj, live: Obj) -> str:
        def digest(o: Obj) -> str | None:
            return ((o.get("metadata") or {}).get("annotations") or {}).get(JOB_DIGEST)

        if digest(live) is not None and digest(live) == digest(obj):
            return "kept"
        self.delete(obj)
        code, _ = self._status("create", obj, obj)
        if code == 409:  # still being deleted (finalizers): the next apply replaces it
            return "deleted (the next run recreates it)"
        return "replaced"

    def delete(self, obj: Obj) -> bool:
        # a Job's pods go with it (the API's default for a Job is to orphan them)
        kw = {"propagation_policy": "Background"} if obj["kind"] == "Job" else {}
        code, _ = self._status("delete", obj, **kw)
        return code != 404

    def quietly(self, action: Callable[[], Any]) -> int:
        """Best effort (rollback): 1 if it worked, 0 if not."""
        try:
            action()
            return 1
        except UpError:
            return 0

    # -- nodes ----------------------------------------------------------------------------
    def read_node(self, name: str) -> Obj | None:
        return self.read({"kind": "Node", "metadata": {"name": name}})

    def label_node(self, name: str, labels: dict[str, Any]) -> None:
        """Merge-patch labels (a None value removes the label)."""
        self.call(
            f"label node {name}", self.core.patch_node, name, {"metadata": {"labels": labels}}
        )


def connect(cfg: UpConfig) -> Cluster:
    """A client from KUBECONFIG (else $KUBECONFIG / ~/.kube/config, or in-cluster)."""
    conf = client.Configuration()
    where = str(cfg.kubeconfig) if cfg.kubeconfig else "~/.kube/config"
    try:
        if cfg.kubeconfig is not None:
            kconfig.load_kube_config(config_file=str(cfg.kubeconfig), client_configuration=conf)
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            kconfig.load_incluster_config(client_configuration=conf)
        else:
            kconfig.load_kube_config(client_configuration=conf)
    except (kconfig.ConfigException, OSError, TypeError, ValueError) as exc:
        raise UpError(f"KUBECONFIG={where}: cannot load it: {exc}", EXIT_CONFIG) from None
    conf.retries = 0
    return Cluster(client.ApiClient(conf))
