"""`modelkin schema`: the JSON Schema of ArchSpec."""

from __future__ import annotations

import argparse

from pydantic import TypeAdapter

from ..families import ArchSpec
from .emit import emit_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    """No arguments."""


def run(args: argparse.Namespace) -> str:
    return emit_json(TypeAdapter(ArchSpec).json_schema())
