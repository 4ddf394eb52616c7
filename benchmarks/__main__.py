"""`python -m benchmarks --out DIR [--quick] [--only NAME]`."""

from __future__ import annotations

import sys

from .run import main

sys.exit(main())
