"""The sub-commands of `modelkin`: one entry each, in the order `modelkin --help` lists them.

Each entry names the module that is the command's one home: `add_arguments(parser)`
declares its arguments (argparse only), `run(args)` does the work and returns the
text to print, an exit code, or both as `(code, text)`. The CLI imports a command's
module only when that command is chosen, so `modelkin show` never loads what `build`
or `report` need. A new sub-command is one line here and its module.
"""

from __future__ import annotations

from typing import NamedTuple


class Command(NamedTuple):
    module: str  # holds add_arguments(parser) and run(args)
    help: str  # the one line `modelkin --help` shows
    extra: str | None = None  # the optional part it needs (`modelkin.extras`), checked before it runs


COMMANDS: dict[str, Command] = {
    "list": Command("modelkin.commands.list", "the catalog of published models"),
    "show": Command("modelkin.commands.show", "one model's architecture and what it costs"),
    "compare": Command("modelkin.commands.compare", "models side by side, differing rows marked"),
    "convert": Command("modelkin.commands.convert", "spec and accounting of any supported config.json, or convert it"),
    "schema": Command("modelkin.commands.schema", "the JSON Schema of ArchSpec"),
    "inspect": Command("modelkin.commands.inspect", "check a checkpoint against its config by reading headers only"),
    "report": Command(
        "modelkin.reports.command",
        "write a comparison report (HTML, Markdown, JSON, CSV, plots) for catalog models",
    ),
    "rope": Command("modelkin.rope_view", "RoPE inventory: rotary dims, layout, base, scaling, wavelengths"),
    "build": Command(
        "modelkin.reference.builder",
        "write a (tiny) model as a Hugging Face folder, or count it on the meta device",
        extra="build",
    ),
}
