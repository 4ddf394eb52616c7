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
from .version import version


class _UsageError(ModelkinError):
    """A parser's complaint; its line starts with the parser's own name (`modelkin show: ...`)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        raise _UsageError(self.prog, message)


class _CommandParser(_Parser):
    """A sub-command's parser: its module declares the arguments when the command is chosen."""

    module: str | None = None

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self.module is not None:
            module, self.module = self.module, None
            importlib.import_module(module).add_arguments(self)
        return super().parse_known_args(args, namespace)


EPILOG = """output formats (--format):
  list, show, compare, convert, rope  table (default), markdown, csv, json
  inspect                             table (default), markdown, json, html
  schema                              json (the only one)
  report, build                       write files instead (report: HTML, Markdown, JSON, CSV;
                                      build: a Hugging Face folder, --layout chatglm adds THUDM's)

examples:
  modelkin list --family qwen2
  modelkin compare llama-3-8b qwen2-7b glm-4-9b
  modelkin show llama-3.1-8b --context 128k
  modelkin build qwen2.5-7b --tiny --out qwen-tiny --check
  modelkin inspect qwen-tiny

`modelkin COMMAND --help` describes one command, with examples."""


class _VersionAction(argparse.Action):
    """--version, looked up only when asked for (reading package metadata costs start-up time)."""

    def __init__(self, option_strings, dest, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print the version and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # type: ignore[no-untyped-def]
        print(f"modelkin {version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="modelkin",
        description="Compare LLM family architectures (LLaMA, Qwen, GLM) and check checkpoints.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", parser_class=_CommandParser)
    for name, command in COMMANDS.items():
        sub.add_parser(
            name, help=command.help, formatter_class=argparse.RawDescriptionHelpFormatter
        ).module = command.module
    return parser


def run(args: argparse.Namespace) -> Any:
    command = COMMANDS[args.command]
    if command.extra is not None:
        from .extras import require

        require(command.extra, f"modelkin {args.command}")
    return importlib.import_module(command.module).run(args)


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as done:  # --help and --version printed their text
            return done.code if isinstance(done.code, int) else 0
        if args.command is None:  # `modelkin` alone: what it can do, not an error line
            parser.print_help()
            return 0
        result = run(args)
    except _UsageError as exc:
        print(exc.line(), file=sys.stderr)
        return exc.exit_code
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
