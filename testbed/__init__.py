"""What the tests and the benchmarks share to run the gateway as real processes: free ports, uvicorn
servers started and stopped for sure, the workers behind a master, the core each side runs on, and
the storefront listing both of them send.

A package of its own so that tests/ never imports bench/ (nor bench/ tests/): each depends only on
this one.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The interpreter running the tests or the harness is the venv's: servers and CLI steps use the same one.
PYTHON = sys.executable
