"""The files modelkin never opens: pickle-based checkpoints, which can run code when loaded.

The inspector lists them and says why they were not read; `load_reference` refuses a
folder that holds only them.
"""

from __future__ import annotations

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
