"""The catalog of published model configurations (see `catalog.py`)."""

from .catalog import CatalogEntry, entries, get, ids, resolve

__all__ = ["CatalogEntry", "entries", "get", "ids", "resolve"]
