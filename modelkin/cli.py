"""`modelkin` command line: argument parsing and printing, nothing else.

The commands live in their own modules, listed in `commands.COMMANDS`; a command's
module is imported only when that command runs (or prints its --help), so parsing
costs one small import. Light commands (list, show, compare, convert, schema, rope,
inspect, report) never import torch or transformers; `build` imports them only when
it runs. Exit codes: 0 ok, 1 inspected checkpoint inconsistent, 2 bad input (one
line on stderr naming the file or field).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

from .commands import COMMANDS
from .errors import EXIT_BAD_INPUT, ModelkinError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        raise ModelkinError(self.prog, message)


class _CommandParser(_Parser):
    """A sub-command's parser: its module declares the arguments when the command is chosen."""

    module: str | None = None

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self.module is not None:
            module, self.module = self.module, None
            importlib.import_module(module).add_arguments(self)
        return super().parse_known_args(args, namespace)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="modelkin", description="Compare LLM family architectures (LLaMA, Qwen, GLM) and check checkpoints."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_CommandParser)
    for name, command in COMMANDS.items():
        sub.add_parser(name, help=command.help).module = command.module
    return parser


def run(args: argparse.Namespace) -> Any:
    return importlib.import_module(COMMANDS[args.command].module).run(args)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        result = run(args)
    except ModelkinError as exc:
        print(f"modelkin: {exc.line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a file system refusal we did not foresee: still one line, exit 2
        where = exc.filename or "modelkin"
        print(f"modelkin: {where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    code = 0
    if isinstance(result, tuple):
        code, result = result
    elif isinstance(result, int):
        return result
    if result:
        try:
            print(result)
        except BrokenPipeError:
            pass
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
