-- Rendered by hai-up. Idempotent: every statement is INSERT ... ON CONFLICT DO NOTHING.
-- Applied by `hai-server --init-sql FILE` (migrate, then this file in one transaction).

-- the admin user (ADMIN_TOKEN; its uid is the server's) and the users of USER_INFO,
-- whose ranks run as their uid
INSERT INTO users (name, role, active, created_at, uid, gid)
VALUES ('admin', 'admin', TRUE, 0, NULL, NULL)
ON CONFLICT (name) DO NOTHING;
INSERT INTO tokens (user_id, token_hash, label, created_at)
SELECT id, 'ca8d40e6ce4716b552f1c69863335b502f2afb57ffae171d6675fd56d91ca5b2', 'hai-up', 0 FROM users WHERE name = 'admin'
ON CONFLICT (token_hash) DO NOTHING;
INSERT INTO users (name, role, active, created_at, uid, gid)
VALUES ('alice', 'internal', TRUE, 0, 1000, 1000)
ON CONFLICT (name) DO NOTHING;
INSERT INTO tokens (user_id, token_hash, label, created_at)
SELECT id, '965b04f03a8200d4bff70f6df635c1d4d3e9c9a1d164d415efc95b9304bfbaf2', 'hai-up', 0 FROM users WHERE name = 'alice'
ON CONFLICT (token_hash) DO NOTHING;
INSERT INTO users (name, role, active, created_at, uid, gid)
VALUES ('bob', 'external', TRUE, 0, 1001, 1001)
ON CONFLICT (name) DO NOTHING;
INSERT INTO tokens (user_id, token_hash, label, created_at)
SELECT id, '0357e24c1cb1874dde0773886097863f71ac666f63fba1e9d4c623b79ffda11f', 'hai-up', 0 FROM users WHERE name = 'bob'
ON CONFLICT (token_hash) DO NOTHING;

-- user groups (USER_INFO name:uid:role:token:group)
INSERT INTO user_groups (user_name, group_name)
VALUES ('alice', 'team-a')
ON CONFLICT DO NOTHING;

-- public quotas in training (PUBLIC_QUOTA)
INSERT INTO quotas (principal, resource, quota)
VALUES ('public', 'node-training-NORMAL', 100)
ON CONFLICT (principal, resource) DO NOTHING;
INSERT INTO quotas (principal, resource, quota)
VALUES ('public', 'node-training-HIGH', 10)
ON CONFLICT (principal, resource) DO NOTHING;

-- storage rows (the original's storage table): each user's workspace, EXTRA_MOUNTS;
-- task pods mount them (the local backend: ranks start only inside them)
INSERT INTO storage (host_path, mount_path, owners, conditions, mount_type, read_only, action, active)
VALUES ('/srv/hai/hai-platform/workspace/{user.user_name}', '/srv/hai/hai-platform/workspace/{user.user_name}', '["public"]', '[]', 'Directory', FALSE, 'add', TRUE)
ON CONFLICT (host_path, mount_path, action) DO NOTHING;

-- the built-in image every user may run in (TRAIN_IMAGE, EXTRA_ENVIRONMENTS), as the
-- original's train_environment row; quota train_environment:NAME gates each image
INSERT INTO train_environment (env_name, image, python, config)
VALUES ('hai_base', 'hai-platform/train:latest', 'python3', '{"environments": {}}')
ON CONFLICT (env_name) DO NOTHING;
INSERT INTO quotas (principal, resource, quota)
VALUES ('public', 'train_environment:hai_base', 1)
ON CONFLICT (principal, resource) DO NOTHING;

-- nodes of TRAINING_NODES / JUPYTER_NODES; unhealthy until the Kubernetes backend
-- sees them (it then keeps group, GPUs and health up to date)
INSERT INTO nodes (name, "group", zone, gpus, healthy, cordoned, message, updated_at)
VALUES ('gpu-1', 'training', '', 8, FALSE, FALSE, 'registered by hai-up, not yet seen by the backend', 0)
ON CONFLICT (name) DO NOTHING;
INSERT INTO nodes (name, "group", zone, gpus, healthy, cordoned, message, updated_at)
VALUES ('gpu-2', 'training', '', 8, FALSE, FALSE, 'registered by hai-up, not yet seen by the backend', 0)
ON CONFLICT (name) DO NOTHING;
INSERT INTO nodes (name, "group", zone, gpus, healthy, cordoned, message, updated_at)
VALUES ('cpu-1', 'jupyter_cpu', '', 8, FALSE, FALSE, 'registered by hai-up, not yet seen by the backend', 0)
ON CONFLICT (name) DO NOTHING;
