"""Fixed configurations of the hai-up tests."""

from __future__ import annotations

import re
from pathlib import Path

from hai_up.config import UpConfig, parse_config
from hai_up.template import CONFIG_TEMPLATE

DEFAULTS = dict(re.findall(r'^export ([A-Z_0-9]+)="\$\{[A-Z_0-9]+-(.*)\}"$', CONFIG_TEMPLATE, re.M))

ALICE_TOKEN = "alice-token-0123456789"
ADMIN_TOKEN = "admin-token-0123456789"


def values(root: Path | str = "/srv/hai", **overrides: str) -> dict[str, str]:
    """Every variable, fixed (no reference to the machine), then ``overrides``."""
    v = {k: d for k, d in DEFAULTS.items()}
    v.update(
        SHARED_FS_ROOT=str(root),
        HAI_PLATFORM_PATH=f"{root}/hai-platform",
        TRAINING_NODES="gpu-1 gpu-2",
        JUPYTER_NODES="cpu-1",
        MANAGER_NODES="mgr-1",
        NODE_GPUS="8",
        SERVER_REPLICAS="2",
        SERVER_PORT="18080",
        POSTGRES_PORT="15432",
        REDIS_PORT="16379",
        INGRESS_HOST="hai.example.com",
        ADMIN_TOKEN=ADMIN_TOKEN,
        POSTGRES_PASSWORD="pg-password-fixed",
        REDIS_PASSWORD="redis-password-fixed",
        USER_INFO=f"alice:1000:internal:{ALICE_TOKEN}:team-a bob:1001:external:bob-token-0123456789",
        PUBLIC_QUOTA="NORMAL=100 HIGH=10",
        TASK_NAMESPACE="hai-tasks",
    )
    v.update(overrides)
    return v


def config(root: Path | str = "/srv/hai", **overrides: str) -> UpConfig:
    return parse_config(values(root, **overrides))


# (overrides, the one problem reported): every message names the variable and the format
BAD = [
    ({"SERVER_PORT": "abc"}, "SERVER_PORT='abc': expected an integer port 1-65535"),
    ({"SERVER_PORT": ""}, "SERVER_PORT='': expected an integer port 1-65535"),
    ({"POSTGRES_PORT": "70000"}, "POSTGRES_PORT='70000': expected an integer port 1-65535"),
    ({"SERVER_REPLICAS": "0"}, "SERVER_REPLICAS='0': expected an integer 1-64"),
    ({"HAI_BACKEND": "slurm"}, "HAI_BACKEND='slurm': expected local or kubernetes"),
    ({"HAI_PLATFORM_PATH": "data/hai"}, "HAI_PLATFORM_PATH='data/hai': expected an absolute path"),
    ({"KUBECONFIG": "kube.conf"}, "KUBECONFIG='kube.conf': expected an absolute path"),
    ({"HAS_RDMA_HCA_RESOURCE": "yes"}, "HAS_RDMA_HCA_RESOURCE='yes': expected 0, 1, true or false"),
    ({"BIND_ADDRESS": "localhost"}, "BIND_ADDRESS='localhost': expected an IPv4 address such as 0.0.0.0 or 127.0.0.1"),
    ({"NODE_GPUS": "eight"}, "NODE_GPUS='eight': expected empty or an integer 0-1024"),
    ({"TRAINING_GROUP": ""}, "TRAINING_GROUP='': expected a group name (letters, digits, _ . -, at most 63, starting and ending alnum)"),
    ({"POSTGRES_PASSWORD": "p@ss/word"}, "POSTGRES_PASSWORD='p@ss/word': expected empty (generated) or letters, digits and . _ ~ - only"),
    ({"ADMIN_TOKEN": "short"}, "ADMIN_TOKEN='short': expected empty (generated) or 16-256 characters, letters, digits and . _ ~ + / = -"),
    # unsafe defaults and the original's variables: refused with the reason
    ({"SHARED_FS_ROOT": ""}, "SHARED_FS_ROOT='': expected the absolute path of the shared file system (no default: hai-up never puts the platform and its database on the root file system)"),
    ({"USER_INFO": ""}, "USER_INFO='': expected at least one user name:uid:role:token[:group] (or the original's name:uid:token); hai-up deploys no default user"),
    ({"ADMIN_TOKEN": "change-me-admin-token"}, "ADMIN_TOKEN: 'change-me' marks the old template's public placeholder: choose your own, or leave it empty and run generates one"),
    ({"POSTGRES_PASSWORD": "change-me-postgres"}, "POSTGRES_PASSWORD: 'change-me' marks the old template's public placeholder: choose your own, or leave it empty and run generates one"),
    ({"USER_INFO": "testuser:10020:internal:testuser-token-change-me"}, "USER_INFO entry 'testuser:10020:internal:testuser-token-change-me': expected name:uid:role:token[:group] (token: 'change-me' marks a public placeholder, choose your own)"),
    ({"BUILD_IMAGES": "yes"}, "BUILD_IMAGES='yes': expected 0, 1, true or false"),
    ({"DRY_RUN": "maybe"}, "DRY_RUN='maybe': expected 0, 1, true or false"),
    ({"PROVIDER": "swarm"}, "PROVIDER='swarm': expected k8s or docker-compose"),
    ({"SERVICE_TYPE": "External"}, "SERVICE_TYPE='External': expected ClusterIP or NodePort or LoadBalancer"),
    ({"PLATFORM_NAMESPACE": "Hai"}, "PLATFORM_NAMESPACE='Hai': expected a DNS label (lowercase letters, digits, -, at most 63)"),
    ({"ROOT_USER": "carol"}, "ROOT_USER='carol': expected the name of a USER_INFO user"),
    ({"DB_PATH": "/data/db"}, "DB_PATH (the original hai-up's) is not supported: the database lives in HAI_PLATFORM_PATH/postgres; move the data there"),
    ({"HAI_SERVER_ADDR": "10.0.0.1"}, "HAI_SERVER_ADDR (the original hai-up's) is not supported: the servers listen on BIND_ADDRESS:SERVER_PORT; set those"),
    ({"EXTRA_MOUNTS": "/a:/b:folder"}, "EXTRA_MOUNTS entry '/a:/b:folder': expected source:target:file|directory[:ro] with absolute paths"),
    ({"EXTRA_MOUNTS": "data:/b:directory"}, "EXTRA_MOUNTS entry 'data:/b:directory': expected source:target:file|directory[:ro] with absolute paths"),
    ({"EXTRA_MOUNTS": "/a:/b:file:rw"}, "EXTRA_MOUNTS entry '/a:/b:file:rw': expected source:target:file|directory[:ro] with absolute paths"),
    ({"EXTRA_MOUNTS": "/a:/b:file /c:/b:directory"}, "EXTRA_MOUNTS: target '/b' is mounted twice"),
    ({"EXTRA_ENVIRONMENTS": "A=1"}, "EXTRA_ENVIRONMENTS entry 'A=1': expected KEY:VALUE with KEY a variable name (letters, digits, _; not starting with a digit)"),
    ({"EXTERNAL_DATABASE_URL": "mysql://x"}, "EXTERNAL_DATABASE_URL='mysql://x': expected empty or a URL like postgresql://user:password@host:5432/hai"),
    ({"USER_INFO": "bob"}, "USER_INFO entry 'bob': expected name:uid:role:token[:group]"),
    ({"USER_INFO": "bob:12:boss:bob-token-0123456789"}, "USER_INFO entry 'bob:12:boss:bob-token-0123456789': expected name:uid:role:token[:group] (role: one of admin, internal, external)"),
    ({"USER_INFO": "Bob:x:internal:short"}, "USER_INFO entry 'Bob:x:internal:short': expected name:uid:role:token[:group] (name: lowercase letters, digits, _ . - (starting with a letter or _); uid: an integer; token: 16-256 characters, letters, digits and . _ ~ + / = -)"),
    ({"USER_INFO": "bob:1:internal:bob-token-0123456789 bob:2:internal:bob-token-9876543210"}, "USER_INFO: user 'bob' is listed twice"),
    ({"USER_INFO": "admin:1:admin:adm-token-0123456789"}, "USER_INFO: the name 'admin' is reserved for ADMIN_TOKEN"),
    ({"PUBLIC_QUOTA": "URGENT=3"}, "PUBLIC_QUOTA entry 'URGENT=3': expected PRIORITY=N with PRIORITY one of LOW, BELOW_NORMAL, NORMAL, ABOVE_NORMAL, HIGH, VERY_HIGH, EXTREME_HIGH and N an integer"),
    ({"JUPYTER_NODES": "gpu-2"}, "node 'gpu-2' is listed in two groups (TRAINING_NODES and JUPYTER_NODES): expected each node in one group"),
    ({"TRAINING_NODES": "a b a"}, "TRAINING_NODES: node 'a' is listed twice"),
    ({"TRAINING_NODES": "Node_1"}, "TRAINING_NODES entry 'Node_1': expected a Kubernetes node name (lowercase letters, digits, - and .)"),
    ({"REDIS_PORT": "18081"}, "REDIS_PORT=18081: expected a port outside the servers' 18080-18081 (SERVER_PORT..SERVER_PORT+SERVER_REPLICAS-1)"),
    ({"TASK_NAMESPACE": "Hai_Tasks"}, "TASK_NAMESPACE='Hai_Tasks': expected a DNS label (lowercase letters, digits, -, at most 63)"),
    # base environments (haienv): which specs, and the uid that owns and builds them
    ({"BASE_ENVS": ""}, "BASE_ENVS='': expected all, none, or spec names (BASE_ENVS_DIR/NAME.toml); all and none stand alone"),
    ({"BASE_ENVS": "all base"}, "BASE_ENVS='all base': expected all, none, or spec names (BASE_ENVS_DIR/NAME.toml); all and none stand alone"),
    ({"BASE_ENVS": "base a/b"}, "BASE_ENVS entry 'a/b': expected all, none, or spec names (BASE_ENVS_DIR/NAME.toml)"),
    ({"BASE_ENVS": "base,base"}, "BASE_ENVS: 'base' is listed twice"),
    ({"BASE_ENVS_DIR": "specs"}, "BASE_ENVS_DIR='specs': expected an absolute path"),
    ({"BASE_ENVS_UID": "0"}, "BASE_ENVS_UID='0': expected an integer uid 1-999999999 (not root)"),
    ({"BASE_ENVS_UID": "1001"}, "BASE_ENVS_UID=1001: expected a uid of its own, not bob's (USER_INFO): it owns the platform's environments"),
    ({"USER_INFO": "platform:2000:internal:platform-token-0123456789"}, "USER_INFO: the name 'platform' is reserved (the owner of the platform's base environments)"),
]  # fmt: skip
