"""`modelkin schema`: the JSON Schema of ArchSpec."""

from __future__ import annotations

import argparse

from ..families import ArchSpec
from .emit import emit_json
from .helptext import examples


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "The JSON Schema of ArchSpec, the description every command reads and writes."
    # JSON is the only format; accepting the flag keeps `--format json` working as on every command.
    p.add_argument("--format", choices=("json",), default="json", help="output format (json, the only one)")
    examples(p, "modelkin schema > archspec.schema.json")


def run(args: argparse.Namespace) -> str:
    return emit_json(ArchSpec.model_json_schema())
