"""``python -m haienv`` (the ``haienv`` shell script runs this)."""

import sys

from hai_cli.haienv.cli import main

sys.exit(main())
