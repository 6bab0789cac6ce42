"""The original platform's variable names, next to ours (pure, standard library only).

A script written for the original HAI Platform reads ``MASTER_IP``, ``MARSV2_RANK``,
``MARSV2_WHOLE_LIFE_STATE`` ... (the documented user-facing set, hai-platform-facts.md
section 3.7). Every rank gets them, derived from our own variables by the rank wrapper
(``rankrun``) on every backend and by the ``++`` local simulation.
"""

from __future__ import annotations

from collections.abc import Mapping

# original name <- our name (copied when ours is set)
ALIASES = {
    "MASTER_IP": "MASTER_ADDR",
    "MARSV2_TASK_ID": "HAI_TASK_ID",
    "MARSV2_NB_NAME": "HAI_TASK_NAME",
    "MARSV2_USER": "HAI_USER",
    "MARSV2_RANK": "RANK",
    "MARSV2_NODE_NAME": "HAI_NODE",
    "MARSV2_WHOLE_LIFE_STATE": "HAI_WHOLE_LIFE_STATE",
    "MARSV2_LOG_DIR": "HAI_LOG_DIR",
    "MARSV2_RESTART_COUNT": "HAI_RESTART_COUNT",
}


def original_env(env: Mapping[str, str], log_file: str | None = None) -> dict[str, str]:
    """The original's variables for a rank whose own variables are ``env``.

    ``MARSV2_TASK_TYPE`` is ``training`` (the SDK of the original only suspends training
    tasks); ``MARSV2_LOG_FILE_PATH`` is the rank's log file when the caller knows it.
    """
    out = {old: env[ours] for old, ours in ALIASES.items() if env.get(ours) is not None}
    if "HAI_TASK_ID" in env:
        out["MARSV2_TASK_TYPE"] = "training"
    if log_file is not None:
        out["MARSV2_LOG_FILE_PATH"] = log_file
    return out
