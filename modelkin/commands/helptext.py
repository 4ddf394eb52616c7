"""Usage examples at the end of a command's --help."""

from __future__ import annotations

import argparse


def examples(p: argparse.ArgumentParser, *lines: str) -> None:
    """Show `lines` (command lines, `# comments` allowed) under "examples:" in `p`'s help."""
    p.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the examples' line breaks
    p.epilog = "examples:\n" + "\n".join(f"  {line}" for line in lines)
