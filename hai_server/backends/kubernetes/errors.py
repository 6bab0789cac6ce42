"""Pure rules: what a refusal of the Kubernetes API means, and what to do about it.

The API answers a refused request with an HTTP code and a ``Status`` body (``reason``,
``message``). One code covers different causes: a 403 is an RBAC denial, a PodSecurity
violation or an exceeded ResourceQuota, and each wants its own hint and its own retry
policy. :func:`classify` maps (code, reason, message) to a :class:`Refusal`:

========================  ============  ==========  =======================================
cause                     kind          retryable   hint
========================  ============  ==========  =======================================
401                       auth          yes         the server's credentials
403 ``cannot <verb>``     rbac          yes         apply rbac.yaml
403 ``violates PodSec``   admission     no          the namespace's PodSecurity level
403 ``exceeded quota``    admission     yes         the quota; retried with back-off
403 LimitRange, webhook   admission     no          the API's own message
400, 422                  invalid       no          the object was rejected as invalid
404                       not_found     yes         the namespace or object is missing
409                       conflict      yes
429, 5xx                  unavailable   yes         the API server is overloaded or failing
anything else             other         yes
========================  ============  ==========  =======================================

"Retryable" failures of a start are retried by the reconciler with an exponential back-off
(2 s ... 300 s, ``hai_server/reconciler/failures.py``); the others fail the task once, with
the message, instead of trying again forever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("rbac", "auth", "admission", "invalid", "not_found", "conflict", "unavailable", "other")

RBAC_HINT = (
    "the server's service account lacks a permission; apply the Role in "
    "hai_server/backends/kubernetes/rbac.yaml"
)
AUTH_HINT = "the server's credentials were refused; check the kubeconfig or service-account token"

_PODSECURITY = re.compile(r'violates PodSecurity "([^"]+)"')
_QUOTA = re.compile(r"(?:exceeded quota|status unknown for quota): ([^,\s]+)")
_RBAC = re.compile(r'User "[^"]*" cannot [a-z]+ resource')
_LIMITRANGE = re.compile(
    r"(maximum|minimum) [\w./-]+ usage per (Container|Pod|PersistentVolumeClaim)"
    r"|must be less than or equal to [\w./-]+ limit|LimitRange"
)
_WEBHOOK = re.compile(r"admission webhook \"?[^\s\"]+\"? denied the request")


@dataclass(frozen=True, slots=True)
class Refusal:
    kind: str
    retryable: bool
    hint: str = ""


def classify(status: int, reason: str, message: str, namespace: str) -> Refusal:
    """What the API's refusal (HTTP ``status``, Status ``reason`` and ``message``) means."""
    if status == 401:
        return Refusal("auth", True, AUTH_HINT)
    if status == 403:
        if found := _PODSECURITY.search(message):
            level = found.group(1)
            return Refusal(
                "admission",
                False,
                f'the namespace "{namespace}" enforces PodSecurity "{level}": hostPath storage '
                "needs pod-security.kubernetes.io/enforce=privileged on it (or "
                'kubernetes.shared.kind = "pvc")',
            )
        if found := _QUOTA.search(message):
            return Refusal(
                "admission",
                True,
                f'the ResourceQuota "{found.group(1)}" of namespace "{namespace}" is exhausted; '
                "the start is retried with back-off (raise the quota or wait for it to free up)",
            )
        if _LIMITRANGE.search(message):
            return Refusal(
                "admission",
                False,
                f'a LimitRange of namespace "{namespace}" refuses the pod\'s resources; change '
                "kubernetes.pod_resources or the LimitRange",
            )
        if _WEBHOOK.search(message):
            return Refusal("admission", False, "an admission webhook of the cluster refused it")
        if _RBAC.search(message):
            return Refusal("rbac", True, RBAC_HINT)
        if "is being terminated" in message:
            return Refusal("unavailable", True, f'the namespace "{namespace}" is being deleted')
        return Refusal("other", True, "")
    if status in (400, 422):
        return Refusal("invalid", False, "the object was rejected as invalid")
    if status == 404:
        return Refusal("not_found", True, "")
    if status == 409:
        return Refusal("conflict", True, "")
    if status == 429 or status >= 500:
        return Refusal("unavailable", True, "the API server is overloaded or failing")
    return Refusal("other", True, "")
