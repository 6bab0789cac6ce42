"""Workspace sync (the original's haiworkspace): a local directory mirrored to
``{workspaces root}/{user}/NAME`` on the cluster through the server's API."""
