"""Put the etl_common layer on sys.path for the functional tests of the functions."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "layers" / "etl_common" / "python"))
