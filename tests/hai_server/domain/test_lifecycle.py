import pytest

from hai_server.domain import states as lc


def test_every_state_has_a_row_and_terminal_success_is_final() -> None:
    assert set(lc.TRANSITIONS) == set(lc.STATES)
    assert lc.TRANSITIONS[lc.SUCCEEDED] == frozenset()
    for targets in lc.TRANSITIONS.values():
        assert targets <= set(lc.STATES)


def test_illegal_transitions_raise() -> None:
    lc.check(lc.QUEUED, lc.STARTING)
    with pytest.raises(lc.IllegalTransition, match="from succeeded to queued"):
        lc.check(lc.SUCCEEDED, lc.QUEUED)
    with pytest.raises(lc.IllegalTransition):
        lc.check(lc.QUEUED, lc.RUNNING)
