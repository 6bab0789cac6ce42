"""Jupyter containers on Kubernetes: the pure render (pod with requests/limits, GPUs for an
exclusive one; Secret; Service; Ingress /{user}/{name}/ on INGRESS_HOST) valid with
kubernetes-validate --strict, and the emulator shows the pod, service and ingress the backend
creates; the running container's endpoint is its Service."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import kubernetes_validate
import pytest

from hai_server.backends.base import AttemptSpec
from hai_server.backends.kubernetes import render
from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage
from tests.support.k8s import NS, add_nodes, opened, pods_in, ranks_of, running, spec, wait_for

SHARED = "/weka/hai"
ENV = {"JUPYTER_TOKEN": "tok-secret", "HAI_TOKEN": "cli-secret", "HAI_JUPYTER_ROOT": "/w/a/jupyter",
       "HAI_JUPYTER_BASE_URL": "/alice/lab/"}  # fmt: skip


def lab(base: AttemptSpec, *, exclusive: bool) -> AttemptSpec:
    res = {} if exclusive else {"cpus": 1.5, "memory_gib": 4.0}
    ranks = base.ranks if exclusive else tuple(
        dataclasses.replace(r, gpus=(), env={k: v for k, v in r.env.items()
                                              if k != "CUDA_VISIBLE_DEVICES"})
        for r in base.ranks
    )  # fmt: skip
    return dataclasses.replace(
        base, name="lab", kind="jupyter", resources=res, ranks=ranks,
        env={**base.env, **ENV}, argv=("python3", "-m", "hai_cli.jupyterrun"),
    )  # fmt: skip


def cfg(**kw: object) -> KubernetesConfig:
    kw = {"ingress_host": "hai.example.org", **kw}
    return KubernetesConfig(namespace="hai-train", shared=SharedStorage(server_path=SHARED), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("exclusive", [False, True], ids=["shared", "exclusive"])
def test_render_valid_strict(exclusive: bool) -> None:
    s = lab(spec(31, ["gpu-1"], shared=SHARED, gpus=0 if not exclusive else 8), exclusive=exclusive)
    objs = render.render_attempt(s, cfg(ingress_class="nginx"))
    version = kubernetes_validate.latest_version()
    for obj in objs.all():
        kubernetes_validate.validate(obj, version, strict=True)
    kinds = [o["kind"] for o in objs.all()]
    assert kinds == ["ConfigMap", "Service", "Secret", "Ingress", "Pod"]
    cm, svc, secret, ing, pod = objs.all()
    c = pod["spec"]["containers"][0]
    assert "JUPYTER_TOKEN" not in cm["data"] and "HAI_TOKEN" not in cm["data"]
    assert secret["stringData"] == {"HAI_TOKEN": "cli-secret", "JUPYTER_TOKEN": "tok-secret"}
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in c["env"] if "valueFrom" in e}
    assert refs == {"HAI_TOKEN": "hai-alice-31-0-lab", "JUPYTER_TOKEN": "hai-alice-31-0-lab"}
    assert cm["data"]["MASTER_PORT"] == "8888" and cm["data"]["HAI_JUPYTER_IP"] == "0.0.0.0"
    assert c["ports"] == [{"name": "http", "containerPort": 8888}]
    assert svc["spec"]["ports"][0]["port"] == 8888 and svc["spec"]["type"] == "ClusterIP"
    rule = ing["spec"]["rules"][0]
    assert rule["host"] == "hai.example.org" and ing["spec"]["ingressClassName"] == "nginx"
    path = rule["http"]["paths"][0]
    assert path["path"] == "/alice/lab/" and path["pathType"] == "Prefix"
    assert path["backend"]["service"] == {"name": "hai-alice-31-0-lab", "port": {"number": 8888}}
    limits = c.get("resources", {}).get("limits", {})
    if exclusive:
        assert limits.get("nvidia.com/gpu") == "8" and "memory" not in limits
    else:
        assert c["resources"]["requests"] == {"cpu": "1500m", "memory": "4096Mi"}
        assert limits == {"cpu": "1500m", "memory": "4096Mi"}


def test_no_host_rule_for_any_host() -> None:
    s = lab(spec(32, ["n1"], shared=SHARED, gpus=0), exclusive=False)
    ing = render.render_attempt(s, cfg(ingress_host=""))
    rule = ing.extra[1]["spec"]["rules"][0]
    assert "host" not in rule


def test_emulator_shows_pod_service_ingress(emulator, config, shared) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        add_nodes(emulator, ["n1"])
        backend, _ = await opened(config)
        try:
            await wait_for(lambda: backend.inventory(), what="nodes")
            s = lab(spec(9, ["n1"], shared=shared, gpus=0), exclusive=False)
            await backend.start(s)
            assert sorted(pods_in(emulator)) == ["hai-alice-9-0-0"]
            api = emulator.api()
            svc = api.read_namespaced_service("hai-alice-9-0-lab", NS)
            assert svc.spec.ports[0].port == 8888
            from kubernetes import client as k8s

            net = k8s.NetworkingV1Api(api.api_client)
            ing = net.read_namespaced_ingress("hai-alice-9-0-lab", NS)
            assert ing.spec.rules[0].http.paths[0].path == "/alice/lab/"
            secret = api.read_namespaced_secret("hai-alice-9-0-lab", NS, _preload_content=False)
            assert "JUPYTER_TOKEN" in json.loads(secret.data).get("stringData", {}) | json.loads(
                secret.data).get("data", {})  # fmt: skip
            api.patch_namespaced_pod_status("hai-alice-9-0-0", NS, running(),
                                            _preload_content=False)  # fmt: skip

            async def endpoint() -> str:
                obs = await ranks_of(backend, (9, 0))
                return obs.ranks[0].endpoint

            got = await wait_for(endpoint, what="the endpoint")
            assert got == "hai-alice-9-0-lab.hai.svc.cluster.local:8888"
            await backend.terminate(9, 0, 0)
            await backend.forget(9, 0)
        finally:
            await backend.close()

    asyncio.run(scenario())
