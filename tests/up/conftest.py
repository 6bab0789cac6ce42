import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
sys.path.insert(0, str(Path(__file__).parents[1] / "k8s"))
sys.path.insert(0, str(Path(__file__).parent))

from conftest_pg import *  # noqa: F403
