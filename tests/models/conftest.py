"""Make the shared helpers in ``mvit_fixtures.py`` importable (pytest runs with
``--import-mode=importlib``, which keeps test folders off ``sys.path``)."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
