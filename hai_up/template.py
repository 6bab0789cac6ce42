"""The documented ``config.sh`` that ``hai-up config`` prints; its defaults are THE defaults.

Every line is ``export NAME="${NAME-default}"``: sourced by itself it keeps what the
environment (or a config file sourced before it) already set, and fills the rest, so
variables may refer to each other exactly as in the seed's ``source config.sh``.
"""

from __future__ import annotations

CONFIG_TEMPLATE = r"""#!/usr/bin/env bash
# hai-up configuration. Edit, then: hai-up dryrun -c config.sh ; hai-up run -c config.sh
# Values may refer to earlier ones ("${SHARED_FS_ROOT}/..."). An empty value is an error
# where a value is required. Lists are separated by spaces or commas.

# -- shared storage ------------------------------------------------------------------------
# A file system mounted at the same path on this host and on every node. Required (no
# default: hai-up never puts the platform and its database on the root file system).
export SHARED_FS_ROOT="${SHARED_FS_ROOT-}"
# Where hai-up writes init.sql, override.toml, the manifests and keeps the platform's data
# (postgres/, redis/, log/, home/) and the users' workspace/ (absolute path).
export HAI_PLATFORM_PATH="${HAI_PLATFORM_PATH-${SHARED_FS_ROOT}/hai-platform}"

# -- backend and nodes ---------------------------------------------------------------------
# Where ranks run: "kubernetes" (pods on the cluster's nodes) or "local" (processes inside
# the server container: a single box with several GPUs, provider docker-compose).
export HAI_BACKEND="${HAI_BACKEND-kubernetes}"
# Nodes are labelled "${MARS_PREFIX}_mars_group=<group>" (label key: letters, digits, - _ .).
export MARS_PREFIX="${MARS_PREFIX-hai-platform-one}"
export TRAINING_GROUP="${TRAINING_GROUP-training}"
# Kubernetes node names of the training group. With HAI_BACKEND=local only their number
# counts: the server runs that many virtual nodes (at least one).
export TRAINING_NODES="${TRAINING_NODES-}"
export JUPYTER_GROUP="${JUPYTER_GROUP-jupyter_cpu}"
export JUPYTER_NODES="${JUPYTER_NODES-}"
# Nodes the server pods may run on (empty: any node).
export MANAGER_NODES="${MANAGER_NODES-}"
# GPUs per node (empty: detected, nvidia-smi on a local box, allocatable on Kubernetes).
export NODE_GPUS="${NODE_GPUS-}"
# Namespace of the task pods (the platform itself runs in namespace hai-platform).
export TASK_NAMESPACE="${TASK_NAMESPACE-hai-platform}"
# 1 when nodes expose the rdma/hca resource (task pods then request it and IPC_LOCK).
export HAS_RDMA_HCA_RESOURCE="${HAS_RDMA_HCA_RESOURCE-0}"
# kubeconfig of the cluster (empty: ~/.kube/config for hai-up; in-cluster for the server).
export KUBECONFIG="${KUBECONFIG-}"

# -- images --------------------------------------------------------------------------------
# The all-in-one platform image: server, built-in PostgreSQL and Redis.
export BASE_IMAGE="${BASE_IMAGE-hai-platform/platform:latest}"
# The default image of task pods (the task entrypoint and the hai_cli.runtime SDK).
export TRAIN_IMAGE="${TRAIN_IMAGE-hai-platform/train:latest}"
# 1 (or true): the docker-compose provider builds both images before starting; 0 (false):
# they must already be on the engine (docker load).
export BUILD_IMAGES="${BUILD_IMAGES-1}"

# -- server --------------------------------------------------------------------------------
export SERVER_REPLICAS="${SERVER_REPLICAS-1}"
# Port of the server (docker-compose: replica i listens on SERVER_PORT+i).
export SERVER_PORT="${SERVER_PORT-80}"
# Address the server, PostgreSQL and Redis listen on (docker-compose, host network).
export BIND_ADDRESS="${BIND_ADDRESS-0.0.0.0}"
# Ingress of the server on Kubernetes (empty host: any host).
export INGRESS_HOST="${INGRESS_HOST-}"
export INGRESS_CLASS="${INGRESS_CLASS-nginx}"
# Token of the built-in "admin" user (at least 16 characters). Empty: run generates one,
# prints it once and keeps it in HAI_PLATFORM_PATH/generated-secrets.json (mode 600).
export ADMIN_TOKEN="${ADMIN_TOKEN-}"
# docker-compose project name.
export COMPOSE_PROJECT="${COMPOSE_PROJECT-hai-platform}"
# Kubernetes namespace of the platform's own objects (server, database, Secret).
export PLATFORM_NAMESPACE="${PLATFORM_NAMESPACE-hai-platform}"
# Type of the server's Service on Kubernetes: ClusterIP (behind the Ingress), NodePort or
# LoadBalancer (the original's: its external address is the platform's address).
export SERVICE_TYPE="${SERVICE_TYPE-ClusterIP}"
# Where hai-up reaches the platform's API from this host with -p k8s (e.g.
# http://hai.example.com, the Ingress, or the LoadBalancer's address): down and upgrade
# suspend the running tasks through it first, run and upgrade uncordon afterwards. Empty:
# down and upgrade refuse while task pods run (--force: go on without notice).
export SERVER_URL="${SERVER_URL-}"

# -- users and quotas ----------------------------------------------------------------------
# Required. Entries name:uid:role:token[:group] separated by spaces or commas, or the
# original's name:uid:token (role internal). role: admin, internal or external; token: at
# least 16 characters (what the user gives "hai-cli init"); empty (alice:1000:internal:):
# run generates one, prints it once and keeps it with the generated secrets; group: an
# optional user group. uid: the user's Unix uid; ranks run as it and
# HAI_PLATFORM_PATH/workspace/<name> is created owned by it.
export USER_INFO="${USER_INFO-}"
# A USER_INFO user who is made an admin (the original's root user); empty: none.
export ROOT_USER="${ROOT_USER-}"
# Nodes every user may hold in TRAINING_GROUP at a priority: PRIORITY=N entries
# (LOW BELOW_NORMAL NORMAL ABOVE_NORMAL HIGH VERY_HIGH EXTREME_HIGH). A level without a
# row is closed (the original's rule): grant higher levels per user or group with
# hai-cli admin quota set. External users get these rows too, at AUTO only.
export PUBLIC_QUOTA="${PUBLIC_QUOTA-NORMAL=10 BELOW_NORMAL=10 LOW=10}"

# -- PostgreSQL and Redis ------------------------------------------------------------------
# Passwords: letters, digits and . _ ~ - (they go into URLs as they are). Empty: run
# generates them and keeps them in HAI_PLATFORM_PATH/generated-secrets.json (mode 600).
export POSTGRES_USER="${POSTGRES_USER-root}"
export POSTGRES_PASSWORD="${POSTGRES_PASSWORD-}"
export POSTGRES_PORT="${POSTGRES_PORT-5432}"
export REDIS_PASSWORD="${REDIS_PASSWORD-}"
export REDIS_PORT="${REDIS_PORT-6379}"
# Use existing servers instead of the built-in ones (postgresql://user:pw@host:port/db,
# redis://:pw@host:port/0); the built-in one is then not deployed.
export EXTERNAL_DATABASE_URL="${EXTERNAL_DATABASE_URL-}"
export EXTERNAL_REDIS_URL="${EXTERNAL_REDIS_URL-}"
# Extra host storage every task sees: entries source:target:file|directory[:ro] (the
# original's format). Kubernetes backend: hostPath mounts of the task pods; local backend:
# mounts of the server containers (the ranks run there). The source must exist.
export EXTRA_MOUNTS="${EXTRA_MOUNTS-}"
# Variables every task gets: entries KEY:VALUE (the original's format), the environments of
# the built-in image hai_base (TRAIN_IMAGE) in init.sql; a task's own -e KEY=VALUE wins.
export EXTRA_ENVIRONMENTS="${EXTRA_ENVIRONMENTS-}"

# -- base environments (haienv) ------------------------------------------------------------
# The platform's Python environments, built after the servers are healthy into
# HAI_PLATFORM_PATH/envs/platform (the server's envs root is HAI_PLATFORM_PATH/envs, at the
# same path in the containers and pods); a user's environment extends platform/base.
# "all" (every BASE_ENVS_DIR/*.toml), "none", or spec names (file names without .toml).
export BASE_ENVS="${BASE_ENVS-all}"
# Where the specs are read (empty: the environments/ folder of hai-up's source tree).
export BASE_ENVS_DIR="${BASE_ENVS_DIR-}"
# Unix uid (and gid) owning HAI_PLATFORM_PATH/envs/platform, the builds run as it: not root
# (a package's build code then cannot read the platform's secrets), and no person's uid.
export BASE_ENVS_UID="${BASE_ENVS_UID-990}"
# 1 (or true): run, upgrade and down only render and print what they would do (as dryrun).
export DRY_RUN="${DRY_RUN-0}"
# Where to deploy when -p is not given: k8s or docker-compose.
export PROVIDER="${PROVIDER-k8s}"
"""
