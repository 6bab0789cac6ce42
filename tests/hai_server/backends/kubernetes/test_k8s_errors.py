"""The table of API refusals: kind, retry policy and hint (messages as kube-apiserver v1.36
words them; the real-cluster tier meets them on a real API server)."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.rest import ApiException

from hai_server.backends.kubernetes import installation_id
from hai_server.backends.kubernetes.client import describe_error
from hai_server.backends.kubernetes.errors import KINDS, classify

POD_SECURITY = (
    'pods "hai-alice-1-0-0" is forbidden: violates PodSecurity "baseline:latest": hostPath '
    'volumes (volume "hai-shared")'
)
QUOTA = (
    'pods "hai-alice-1-0-0" is forbidden: exceeded quota: gpus, requested: '
    "requests.nvidia.com/gpu=8, used: requests.nvidia.com/gpu=8, limited: requests.nvidia.com/gpu=8"
)
LIMIT_RANGE = (
    'pods "hai-alice-1-0-0" is forbidden: maximum cpu usage per Container is 2, but limit is 4'
)
RBAC = (
    'pods is forbidden: User "system:serviceaccount:hai:hai-server" cannot create resource '
    '"pods" in API group "" in the namespace "hai"'
)
WEBHOOK = 'admission webhook "policy.example.com" denied the request: no GPUs on Sundays'


@pytest.mark.parametrize(
    ("status", "message", "kind", "retryable", "hint"),
    [
        (403, POD_SECURITY, "admission", False, 'enforces PodSecurity "baseline:latest"'),
        (403, QUOTA, "admission", True, 'ResourceQuota "gpus" of namespace "hai"'),
        (403, LIMIT_RANGE, "admission", False, "LimitRange"),
        (403, WEBHOOK, "admission", False, "admission webhook"),
        (403, RBAC, "rbac", True, "rbac.yaml"),
        (401, "Unauthorized", "auth", True, "credentials"),
        (422, 'Pod "x" is invalid: spec.containers[0].image: Required value', "invalid", False, ""),
        (400, "bad request", "invalid", False, "invalid"),
        (404, 'namespaces "hai" not found', "not_found", True, ""),
        (409, 'pods "x" already exists', "conflict", True, ""),
        (429, "too many requests", "unavailable", True, "overloaded"),
        (503, "etcdserver: leader changed", "unavailable", True, "overloaded"),
        (418, "teapot", "other", True, ""),
    ],
)
def test_refusals_are_classified(status, message, kind, retryable, hint):
    refusal = classify(status, "Forbidden", message, "hai")
    assert (refusal.kind, refusal.retryable) == (kind, retryable)
    assert hint in refusal.hint
    assert refusal.kind in KINDS
    # the RBAC hint only for RBAC denials (an admission refusal once got it)
    assert ("rbac.yaml" in refusal.hint) == (kind == "rbac")


def test_describe_error_carries_the_kind_and_the_apis_own_message():
    exc = ApiException(status=403, reason="Forbidden")
    exc.body = json.dumps({"kind": "Status", "reason": "Forbidden", "message": POD_SECURITY})
    err = describe_error(exc, "create Pod hai-alice-1-0-0", "https://127.0.0.1:6443", "team-a")
    assert err.kind == "admission" and not err.retryable
    assert POD_SECURITY in str(err)
    assert 'namespace "team-a" enforces PodSecurity' in str(err)
    assert "rbac.yaml" not in str(err)


def test_installation_id_is_stable_and_ignores_the_password():
    one = installation_id("postgresql+asyncpg://hai:secret@db:5432/hai")
    assert one == installation_id("postgresql+asyncpg://hai:rotated@db:5432/hai")
    assert one != installation_id("postgresql+asyncpg://hai:secret@db:5432/other")
    assert "secret" not in one and one.startswith("db-") and len(one) <= 63


def test_names_and_labels_carry_a_non_default_installation():
    from hai_server.backends.kubernetes import render
    from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage
    from tests.support.k8s import spec

    config = KubernetesConfig(installation="db-1a2b3c4d", shared=SharedStorage(server_path="/s"))
    objs = render.render_attempt(spec(7, ["n1"], shared="/s"), config)
    names = [o["metadata"]["name"] for o in objs.all()]
    base = "hai-db-1a2b3c4d-alice-7-0"
    assert names == [f"{base}-env", f"{base}-0", f"{base}-0"]  # ConfigMap, Service, rank 0
    assert all(o["metadata"]["labels"][render.L_INSTALLATION] == "db-1a2b3c4d" for o in objs.all())
    assert objs.service["spec"]["selector"][render.L_INSTALLATION] == "db-1a2b3c4d"
    # the default installation keeps the names it always had
    assert render.pod_name(7, 0, "alice", 0) == "hai-alice-7-0-0"
