"""The installed modelkin version, for `modelkin --version` and the reports' generator line."""

from __future__ import annotations


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("modelkin")
    except PackageNotFoundError:
        return "(source tree)"
