"""A thin, blocking layer over the official ``kubernetes`` client.

It speaks raw JSON dicts (no model deserialisation: faster, and what the renderer produces),
translates every failure into :class:`BackendError` with a message an operator can act on,
and treats "already exists" on create and "not found" on delete as success (idempotency).
Calls are blocking; the backend runs them in worker threads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pydantic
import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from hai_server.backends.base import BackendError
from hai_server.backends.kubernetes.config import KubernetesConfig
from hai_server.backends.kubernetes.errors import classify
from hai_server.backends.kubernetes.render import L_INSTALLATION

log = logging.getLogger(__name__)


def load_configuration(config: KubernetesConfig) -> k8s.Configuration:
    """Build the client configuration (reads the kubeconfig or the in-cluster token)."""
    conf = k8s.Configuration()
    try:
        if config.api_server:
            conf.host = config.api_server.rstrip("/")
        elif config.in_cluster:
            k8s_config.load_incluster_config(client_configuration=conf)
        else:
            k8s_config.load_kube_config(
                config_file=config.kubeconfig, context=config.context, client_configuration=conf
            )
    except (k8s_config.ConfigException, OSError, TypeError, ValueError) as exc:
        where = (
            "in-cluster service account"
            if config.in_cluster
            else (config.kubeconfig or "~/.kube/config")
        )
        raise BackendError(f"cannot load Kubernetes credentials from {where}: {exc}") from exc
    conf.retries = 1
    conf.connection_pool_maxsize = max(4, config.api_concurrency + 2)
    return conf


def describe_error(exc: BaseException, action: str, host: str, namespace: str = "") -> BackendError:
    """Turn any client failure into a BackendError that says what to do, with its ``kind``
    (``errors.classify``: rbac, auth, admission, invalid, not_found, conflict, unavailable,
    other) and whether a retry may help."""
    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, ApiException):
        message = reason = exc.reason or ""
        try:
            body = json.loads(exc.body or "{}")
            message = body.get("message") or message
            reason = body.get("reason") or reason
        except (TypeError, ValueError, AttributeError):
            pass
        refusal = classify(exc.status or 0, str(reason), str(message), namespace)
        text = f"Kubernetes refused to {action} (HTTP {exc.status}): {message}"
        if refusal.hint:
            text += f" -- {refusal.hint}"
        return BackendError(text, retryable=refusal.retryable, kind=refusal.kind)
    if isinstance(exc, pydantic.ValidationError):
        return BackendError(
            f"invalid object, could not {action}: {exc}", retryable=False, kind="invalid"
        )
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError | TimeoutError):
        return BackendError(
            f"Kubernetes API at {host} is unreachable while trying to {action}: "
            f"{type(exc).__name__}: {exc}. Check the API address, the network and the kubeconfig.",
            retryable=True,
            kind="unavailable",
        )
    return BackendError(
        f"unexpected error while trying to {action}: {type(exc).__name__}: {exc}", kind="other"
    )


class KubeClient:
    """Blocking, thread-safe calls on Pods, Services, ConfigMaps and Nodes of one namespace."""

    def __init__(self, config: KubernetesConfig, configuration: k8s.Configuration) -> None:
        self.config = config
        self.namespace = config.namespace
        self.host = configuration.host
        self._configuration = configuration
        self.api = k8s.CoreV1Api(k8s.ApiClient(configuration))
        self._timeout = (min(3.0, config.api_timeout_s), config.api_timeout_s)

    def _networking(self) -> k8s.NetworkingV1Api:
        return k8s.NetworkingV1Api(self.api.api_client)

    def new_api(self) -> k8s.CoreV1Api:
        """A separate API object (own connection pool) for a long-lived watch."""
        return k8s.CoreV1Api(k8s.ApiClient(self._configuration))

    def close(self) -> None:
        self.api.api_client.close()

    # -- helpers
    def _call(self, action: str, fn, *args, **kwargs) -> dict:  # type: ignore[no-untyped-def]
        try:
            resp = fn(*args, _preload_content=False, _request_timeout=self._timeout, **kwargs)
            return json.loads(resp.data or b"{}")
        except Exception as exc:
            raise describe_error(exc, action, self.host, self.namespace) from exc

    # -- create (409 means it is already there: return the existing object)
    def create(self, obj: dict) -> dict:
        kind = obj["kind"]
        name = obj["metadata"]["name"]
        fns = {
            "Pod": (self.api.create_namespaced_pod, self.api.read_namespaced_pod),
            "Service": (self.api.create_namespaced_service, self.api.read_namespaced_service),
            "ConfigMap": (
                self.api.create_namespaced_config_map,
                self.api.read_namespaced_config_map,
            ),
        }
        if kind in ("Secret", "Ingress"):  # a Jupyter container's
            fns = {
                "Secret": (self.api.create_namespaced_secret, self.api.read_namespaced_secret),
                "Ingress": (self._networking().create_namespaced_ingress,
                            self._networking().read_namespaced_ingress),
            }  # fmt: skip
        create, read = fns[kind]
        try:
            return self._call(f"create {kind} {name}", create, self.namespace, obj)
        except BackendError as err:
            if err.kind != "conflict":
                raise
        found = self._call(f"read {kind} {name}", read, name, self.namespace)
        theirs = ((found.get("metadata") or {}).get("labels") or {}).get(L_INSTALLATION)
        if theirs != self.config.installation:
            raise BackendError(
                f"{kind} {name} already exists in namespace {self.namespace} and belongs to "
                f"installation {theirs!r}, not to this one ({self.config.installation!r}); give "
                "each server sharing a namespace its own kubernetes.installation",
                retryable=False,
                kind="conflict",
            )
        return found

    # -- delete (404 means it is gone already)
    def delete(self, kind: str, name: str, grace_s: int | None = None) -> None:
        fns = {
            "Pod": self.api.delete_namespaced_pod,
            "Service": self.api.delete_namespaced_service,
            "ConfigMap": self.api.delete_namespaced_config_map,
            "Secret": self.api.delete_namespaced_secret,
        }
        if kind == "Ingress":
            fns["Ingress"] = self._networking().delete_namespaced_ingress
        body = k8s.V1DeleteOptions(propagation_policy="Background", grace_period_seconds=grace_s)
        try:
            self._call(f"delete {kind} {name}", fns[kind], name, self.namespace, body=body)
        except BackendError as err:
            if err.kind != "not_found":
                raise

    def pod_log(
        self, name: str, tail_lines: int | None = None, limit_bytes: int | None = None
    ) -> str:
        """The container log of a pod (the API's fallback when the shared log file is missing)."""
        try:
            resp = self.api.read_namespaced_pod_log(
                name,
                self.namespace,
                tail_lines=tail_lines,
                limit_bytes=limit_bytes,
                timestamps=True,
                _preload_content=False,
                _request_timeout=self._timeout,
            )
            return resp.data.decode("utf-8", errors="replace")
        except Exception as exc:
            raise describe_error(
                exc, f"read the log of pod {name}", self.host, self.namespace
            ) from exc

    # -- list + watch (raw dicts)
    def list_raw(self, api: k8s.CoreV1Api, kind: str, selector: str | None) -> dict:
        if kind == "Node":
            return self._call("list Nodes", api.list_node)
        return self._call(
            f"list Pods in namespace {self.namespace}",
            api.list_namespaced_pod,
            self.namespace,
            label_selector=selector,
        )

    def watch_raw(
        self, api: k8s.CoreV1Api, kind: str, selector: str | None, resource_version: str | None
    ) -> tuple[urllib3.HTTPResponse, Iterator[dict]]:
        """Open a watch; returns the response (to close it) and an iterator of events."""
        kwargs: dict[str, object] = {
            "watch": True,
            "allow_watch_bookmarks": True,
            "timeout_seconds": self.config.watch_timeout_s,
            "_preload_content": False,
            "_request_timeout": (
                min(3.0, self.config.api_timeout_s),
                self.config.watch_timeout_s + 30,
            ),
        }
        if resource_version and resource_version != "...":
            kwargs["resource_version"] = resource_version
        try:
            if kind == "Node":
                resp = api.list_node(**kwargs)
            else:
                resp = api.list_namespaced_pod(self.namespace, label_selector=selector, **kwargs)
        except Exception as exc:
            raise describe_error(exc, f"watch {kind}s", self.host, self.namespace) from exc

        def events() -> Iterator[dict]:
            for line in iter_resp_lines(resp):
                if line:
                    yield json.loads(line)

        return resp, events()
