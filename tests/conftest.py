"""The one conftest of the suite: every shared fixture lives in a module of tests/support.

Test modules import helpers as ``from tests.support.x import ...`` (the repository root is on
``pythonpath``, see pyproject.toml); nothing edits ``sys.path``.
"""

pytest_plugins = [
    "tests.support.fixtures",
    "tests.support.pg",
    "tests.support.e2e",
    "tests.support.k8s_fixtures",
    "tests.support.kube_fixtures",
    "tests.support.tui_fixtures",
    "tests.support.docker_fixtures",
    "tests.support.haienv",
]
