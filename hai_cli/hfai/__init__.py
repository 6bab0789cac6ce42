"""The original HAI Platform's import path, for scripts written against it.

``from hfai.client import receive_suspend_command, go_suspend`` works unchanged: this
package is installed as the top-level ``hfai`` (pyproject's ``[tool.setuptools.packages.find]``
looks in ``hai_cli/`` too, as for ``haienv``) and forwards to the task SDK,
:mod:`hai_cli.runtime`. No new top-level folder in the repository.
"""
