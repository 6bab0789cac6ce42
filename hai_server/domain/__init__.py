"""The task domain: states, the transition table and one ``transition()``. Standard library only,
below every other layer (services, db and the reconciler all use it)."""
