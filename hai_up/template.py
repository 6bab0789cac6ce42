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
# A file system mounted at the same path on this host and on every node.
export SHARED_FS_ROOT="${SHARED_FS_ROOT-/nfs-shared}"
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
# 1: the docker-compose provider builds both images before starting.
export BUILD_IMAGES="${BUILD_IMAGES-0}"

# -- server --------------------------------------------------------------------------------
export SERVER_REPLICAS="${SERVER_REPLICAS-1}"
# Port of the server (docker-compose: replica i listens on SERVER_PORT+i).
export SERVER_PORT="${SERVER_PORT-80}"
# Address the server, PostgreSQL and Redis listen on (docker-compose, host network).
export BIND_ADDRESS="${BIND_ADDRESS-0.0.0.0}"
# Ingress of the server on Kubernetes (empty host: any host).
export INGRESS_HOST="${INGRESS_HOST-}"
export INGRESS_CLASS="${INGRESS_CLASS-nginx}"
# Token of the built-in "admin" user (at least 16 characters). CHANGE IT.
export ADMIN_TOKEN="${ADMIN_TOKEN-change-me-admin-token}"
# docker-compose project name.
export COMPOSE_PROJECT="${COMPOSE_PROJECT-hai-platform}"

# -- users and quotas ----------------------------------------------------------------------
# Entries name:uid:role:token[:group] separated by spaces or commas. role: admin, internal
# or external; token: at least 16 characters (what the user gives "hai-cli init");
# group: an optional user group. uid: the user's Unix uid; ranks run as it and
# HAI_PLATFORM_PATH/workspace/<name> is created owned by it.
export USER_INFO="${USER_INFO-testuser:10020:internal:testuser-token-change-me}"
# Nodes every user may hold in TRAINING_GROUP at a priority: PRIORITY=N entries
# (LOW BELOW_NORMAL NORMAL ABOVE_NORMAL HIGH VERY_HIGH EXTREME_HIGH); unlisted: no limit.
export PUBLIC_QUOTA="${PUBLIC_QUOTA-HIGH=10}"

# -- PostgreSQL and Redis ------------------------------------------------------------------
# Passwords: letters, digits and . _ ~ - (they go into URLs as they are).
export POSTGRES_USER="${POSTGRES_USER-root}"
export POSTGRES_PASSWORD="${POSTGRES_PASSWORD-change-me-postgres}"
export POSTGRES_PORT="${POSTGRES_PORT-5432}"
export REDIS_PASSWORD="${REDIS_PASSWORD-change-me-redis}"
export REDIS_PORT="${REDIS_PORT-6379}"
# Use existing servers instead of the built-in ones (postgresql://user:pw@host:port/db,
# redis://:pw@host:port/0); the built-in one is then not deployed.
export EXTERNAL_DATABASE_URL="${EXTERNAL_DATABASE_URL-}"
export EXTERNAL_REDIS_URL="${EXTERNAL_REDIS_URL-}"
"""
