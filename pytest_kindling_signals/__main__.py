"""``python -m pytest_kindling_signals``: the ``kindling-signals`` command line."""

from __future__ import annotations

import sys

from pytest_kindling_signals.cli import main

if __name__ == "__main__":
    sys.exit(main())
