"""Command groups of ``hai-cli``. Each module exposes ``register(app)``."""
