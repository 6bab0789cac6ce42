"""``python -m hai_up`` runs the hai-up command line."""

from hai_up.cli import main

main()
