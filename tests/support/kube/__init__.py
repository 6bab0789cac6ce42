"""A real Kubernetes control plane for the test suite (see harness.py)."""
