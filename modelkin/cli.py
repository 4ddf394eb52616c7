"""`modelkin` command line: argument parsing and printing, nothing else.

Light commands (list, show, compare, convert, schema, rope, inspect, report)
never import torch or transformers; `build` imports them only when it runs.
Exit codes: 0 ok, 1 inspected checkpoint inconsistent, 2 bad input (one line
on stderr naming the file or field).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .argtypes import positive_int, tokens
from .errors import EXIT_BAD_INPUT, ModelkinError
from .families.registry import FAMILY_NAMES, FORMAT_NAMES
from .jsonfile import read_json

FORMATS = ("table", "markdown", "csv", "json")
DEFAULT_CONTEXT = 4096
DTYPES = ("bf16", "fp16", "fp32", "int8", "int4")


# --- helpers ---------------------------------------------------------------------


def emit_table(headers: list[str], rows: list[list[Any]], fmt: str) -> str:
    from tabulate import tabulate

    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        return buf.getvalue().rstrip("\n")
    return tabulate(rows, headers=headers, tablefmt="github" if fmt == "markdown" else "simple", disable_numparse=True)


def emit_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False)


def _spec_json(spec) -> dict[str, Any]:
    return spec.model_dump(mode="json")


# --- commands ----------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> str:
    from .configs import entries
    from .families.accounting import params_total
    from .reports.features import count

    items = [(e, e.spec) for e in entries()]
    if args.family:
        items = [(e, s) for e, s in items if s.family == args.family]
    if args.format == "json":
        return emit_json(
            [
                {
                    "id": e.id,
                    "repo": e.repo,
                    "family": s.family,
                    "generation": s.generation,
                    "params_total": params_total(s),
                }
                for e, s in items
            ]
        )
    rows = []
    for e, s in items:
        n = params_total(s)
        rows.append(
            [
                e.id,
                s.family,
                s.generation,
                n if args.format == "csv" else count(n),
                s.attention.kind,
                s.max_position_embeddings,
                e.repo,
            ]
        )
    return emit_table(["id", "family", "generation", "params", "attention", "context", "repo"], rows, args.format)


def _accounting_args(args: argparse.Namespace) -> dict[str, Any]:
    return {"context": args.context or DEFAULT_CONTEXT, "batch": args.batch, "dtype": args.dtype}


def describe(spec, accounting: dict[str, Any], fmt: str) -> list[list[Any]]:
    """Rows of (label, value) for the text formats of show/convert."""
    from .reports.features import count, feature_rows, flops, nbytes

    rows = [[k, v] for k, v in feature_rows(spec).items()]
    plain = fmt == "csv"
    kv = accounting["kv_cache"]
    rows += [
        [
            "params",
            accounting["params_total"]
            if plain
            else f"{accounting['params_total']:,} ({count(accounting['params_total'])})",
        ],
    ]
    for comp, n in accounting["params_by_component"].items():
        rows.append([f"  {comp}", n if plain else f"{n:,}"])
    rows += [
        [
            "params (non-embedding)",
            accounting["params_non_embedding"] if plain else f"{accounting['params_non_embedding']:,}",
        ],
        [
            f"weights {kv['dtype']}",
            accounting["weight_bytes"].get(kv["dtype"], 0)
            if plain
            else nbytes(accounting["weight_bytes"].get(kv["dtype"], 0)),
        ],
        [f"KV cache per token ({kv['dtype']})", kv["bytes_per_token"] if plain else nbytes(kv["bytes_per_token"])],
        [
            f"KV cache at {kv['context']} × {kv['batch']}",
            kv["bytes"] if plain else f"{nbytes(kv['bytes'])} (MHA would need {nbytes(kv['bytes_if_mha'])})",
        ],
        [
            f"forward FLOPs/token @ {accounting['flops_per_token']['context']}",
            accounting["flops_per_token"]["forward"] if plain else flops(accounting["flops_per_token"]["forward"]),
        ],
        [
            "training FLOPs/token",
            accounting["flops_per_token"]["training"] if plain else flops(accounting["flops_per_token"]["training"]),
        ],
    ]
    if "tokens" in accounting:
        rows += [
            ["training tokens", accounting["tokens"] if plain else count(accounting["tokens"])],
            ["tokens per param", round(accounting["tokens_per_param"], 2)],
            ["× Chinchilla (20/param)", round(accounting["chinchilla_multiple"], 2)],
            ["training compute 6·N·D", accounting["training_flops"] if plain else flops(accounting["training_flops"])],
        ]
    return rows


def cmd_show(args: argparse.Namespace) -> str:
    from .configs import get
    from .families.accounting import accounting

    entry = get(args.id)
    read = entry.read()
    spec = read.spec
    trained = (
        args.tokens if args.tokens is not None else (entry.training_tokens.value if entry.training_tokens else None)
    )
    acc = accounting(spec, tokens=trained, **_accounting_args(args))
    coverage = None
    if args.context is not None:
        from .families.coverage import context_coverage

        coverage = context_coverage(spec, args.context, dtype=args.dtype)
    tiny_spec = None
    if args.tiny:
        from .families.tiny import tiny

        tiny_spec = tiny(spec)
    if args.format == "json":
        out: dict[str, Any] = {
            "id": entry.id,
            "repo": entry.repo,
            "spec": _spec_json(spec),
            "accounting": acc,
            "source": entry.config_source,
            "warnings": read.warnings,
        }
        if entry.published_params:
            out["published_params"] = {"value": entry.published_params.value, "source": entry.published_params.source}
        if entry.training_tokens:
            out["training_tokens_source"] = entry.training_tokens.source
        if args.provenance:
            out["provenance"] = read.provenance
        if tiny_spec is not None:
            out["tiny"] = {"spec": _spec_json(tiny_spec), "accounting": accounting(tiny_spec, **_accounting_args(args))}
        if coverage is not None:
            out["context_coverage"] = coverage
        return emit_json(out)
    parts = []
    if tiny_spec is not None:
        full_rows = describe(spec, acc, args.format)
        tiny_rows = describe(tiny_spec, accounting(tiny_spec, **_accounting_args(args)), args.format)
        rows = [[a[0], a[1], b[1]] for a, b in zip(full_rows, tiny_rows)]
        parts.append(emit_table([entry.id, "full", "tiny"], rows, args.format))
    else:
        rows = [["id", entry.id], ["repo", entry.repo]] + describe(spec, acc, args.format)
        if entry.published_params:
            rows.append(["published params", f"{entry.published_params.value:,} ({entry.published_params.source})"])
        parts.append(emit_table(["field", "value"], rows, args.format))
    if args.provenance:
        prov = [[k, v] for k, v in sorted(read.provenance.items())]
        parts.append(emit_table(["spec field", "where the value came from"], prov, args.format))
    if coverage is not None:
        parts.append(coverage["summary"])
    if args.format == "table":
        parts.append(f"source: {entry.config_source.get('url', '')}")
    return "\n\n".join(parts)


def cmd_compare(args: argparse.Namespace) -> str:
    from .configs import get
    from .families.accounting import accounting
    from .reports.features import count, feature_rows, flops, nbytes

    if len(args.ids) < 2:
        raise ModelkinError("compare", "give at least two IDs")
    entries = [get(i) for i in args.ids]
    specs = [e.spec for e in entries]
    accs = [accounting(s, **_accounting_args(args)) for s in specs]
    table: dict[str, list[Any]] = {}
    for s in specs:
        for k, v in feature_rows(s).items():
            table.setdefault(k, []).append(v)
    plain = args.format in ("csv", "json")
    extra = {
        "params": [a["params_total"] if plain else count(a["params_total"]) for a in accs],
        "params active per token": [a["params_active"] if plain else count(a["params_active"]) for a in accs],
        "params (non-embedding)": [
            a["params_non_embedding"] if plain else count(a["params_non_embedding"]) for a in accs
        ],
        "KV cache per token (bf16)": [
            a["kv_cache_bytes_per_token"] if plain else nbytes(a["kv_cache_bytes_per_token"]) for a in accs
        ],
        f"KV cache at {args.context or DEFAULT_CONTEXT} ({args.dtype})": [
            a["kv_cache"]["bytes"] if plain else nbytes(a["kv_cache"]["bytes"]) for a in accs
        ],
        "  by layer kind": [
            a["kv_cache"]["bytes_by_attention_kind"]
            if plain
            else ", ".join(
                f"{kind} ×{a['kv_cache']['layers_by_attention_kind'][kind]}: {nbytes(b)}"
                for kind, b in a["kv_cache"]["bytes_by_attention_kind"].items()
            )
            for a in accs
        ],
        f"forward FLOPs/token @ {args.context or DEFAULT_CONTEXT}": [
            a["flops_per_token"]["forward"] if plain else flops(a["flops_per_token"]["forward"]) for a in accs
        ],
    }
    table.update(extra)
    ids = [e.id for e in entries]
    if args.format == "json":
        return emit_json(
            {
                "ids": ids,
                "rows": [{"field": k, "values": v, "differs": len({str(x) for x in v}) > 1} for k, v in table.items()],
                "specs": [_spec_json(s) for s in specs],
                "accounting": accs,
            }
        )
    rows = []
    for k, values in table.items():
        differs = len({str(v) for v in values}) > 1
        if args.format == "csv":
            rows.append([k, *values, "yes" if differs else "no"])
        else:
            marker = "≠ " if differs else "  "
            rows.append([marker + k, *[f"**{v}**" if differs and args.format == "markdown" else v for v in values]])
    headers = ["field", *ids] + (["differs"] if args.format == "csv" else [])
    text = emit_table(headers, rows, args.format)
    if args.format == "table":
        text += "\n\n≠ marks the rows where the models differ."
    return text


def cmd_convert(args: argparse.Namespace) -> str:
    from .families import read_hf_config, spec_to_hf
    from .families.accounting import accounting

    config = read_json(args.config, what="config.json")
    read = read_hf_config(
        config, where=args.config, name_hint=args.name or str(Path(args.config).resolve().parent.name)
    )
    if args.to:
        if args.to == "spec":
            return emit_json(_spec_json(read.spec))
        return emit_json(spec_to_hf(read.spec, args.to))
    acc = accounting(read.spec, tokens=args.tokens, **_accounting_args(args))
    for warning in read.warnings:
        print(f"warning: {args.config}: {warning}", file=sys.stderr)
    if args.format == "json":
        out = {
            "spec": _spec_json(read.spec),
            "accounting": acc,
            "model_type": read.model_type,
            "warnings": read.warnings,
        }
        if args.provenance:
            out["provenance"] = read.provenance
        return emit_json(out)
    text = emit_table(
        ["field", "value"],
        [["file", args.config], ["model_type", read.model_type]] + describe(read.spec, acc, args.format),
        args.format,
    )
    if args.provenance:
        text += "\n\n" + emit_table(
            ["spec field", "where the value came from"], sorted(read.provenance.items()), args.format
        )
    return text


def cmd_inspect(args: argparse.Namespace) -> tuple[int, str]:
    from .errors import EXIT_INCONSISTENT, EXIT_OK
    from .inspect.checks import inspect_gathered, verdict
    from .inspect.gather import gather, gather_local
    from .inspect.render import cache_row, render_text

    if args.cache:
        from .inspect.hub import scan_cache

        rows = []
        for repo in scan_cache():
            for rev in repo.revisions:
                try:
                    gathered = gather_local(str(rev.snapshot_path))
                    report = inspect_gathered(gathered, args.tokens)
                    row = cache_row(repo.repo_id, rev.commit[:8], report, repo.size_on_disk, None)
                    if gathered.missing_shards:
                        # Only some files were downloaded (e.g. by `modelkin inspect org/name`, which
                        # fetches headers only): nothing to hold against the checkpoint.
                        total = len(gathered.missing_shards) + len(gathered.headers)
                        row.update(
                            verdict="partial",
                            problem=f"{len(gathered.missing_shards)} of {total} shards not in the cache",
                        )
                    rows.append(row)
                except ModelkinError as exc:
                    rows.append(cache_row(repo.repo_id, rev.commit[:8], None, repo.size_on_disk, exc.line()))
        code = EXIT_INCONSISTENT if any(r["verdict"] in ("inconsistent", "unreadable") for r in rows) else EXIT_OK
        if args.format == "json":
            return code, emit_json(rows)
        from .units import count, nbytes

        table = [
            [
                r["id"],
                r["revision"],
                r["family"] or "-",
                count(r["params"]) if r["params"] else "-",
                r["dtype"] or "-",
                nbytes(r["size_on_disk"]),
                r["verdict"] + (f": {r['problem']}" if r["problem"] else ""),
            ]
            for r in rows
        ]
        if not rows:
            return code, "the Hugging Face cache holds no models"
        return code, emit_table(
            ["id", "revision", "family", "params", "dtype", "size on disk", "verdict"],
            table,
            "markdown" if args.format == "markdown" else "simple",
        )
    if not args.target:
        raise ModelkinError("inspect", "give a folder, a .safetensors file, a Hub id (org/name[@rev]) or --cache")
    from .inspect.hub import looks_like_hub_id

    if looks_like_hub_id(args.target):
        # huggingface_hub logs every retry to stderr; the error that ends the retries is our one line.
        from huggingface_hub.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
    report = inspect_gathered(gather(args.target), args.tokens)
    code = EXIT_INCONSISTENT if verdict(report) == "inconsistent" else EXIT_OK
    if code == EXIT_INCONSISTENT:
        # Exit 1 also gets its one stderr line (issue 7), so scripts see why without parsing stdout.
        errors = [f["message"] for f in report["findings"] if f["severity"] == "error"]
        more = f" (+{len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        print(f"modelkin: {args.target}: inconsistent: {errors[0]}{more}", file=sys.stderr)
    if args.format == "json":
        return code, emit_json(report)
    if args.format == "html":
        from .reports.inspect_page import render_inspect_html

        return code, render_inspect_html(report)
    return code, render_text(report, markdown=args.format == "markdown")


def cmd_schema(args: argparse.Namespace) -> str:
    from pydantic import TypeAdapter

    from .families import ArchSpec

    return emit_json(TypeAdapter(ArchSpec).json_schema())


# --- parser ------------------------------------------------------------------------

COMMANDS: dict[str, Callable[[argparse.Namespace], str | int | None]] = {
    "list": cmd_list,
    "show": cmd_show,
    "compare": cmd_compare,
    "convert": cmd_convert,
    "schema": cmd_schema,
    "inspect": cmd_inspect,
    "build": lambda args: _lazy("modelkin.reference.builder", "cmd_build")(args),
    "rope": lambda args: _lazy("modelkin.rope_view", "cmd_rope")(args),
    "report": lambda args: _lazy("modelkin.reports.command", "cmd_report")(args),
}


def _lazy(module: str, name: str) -> Callable[[argparse.Namespace], Any]:
    import importlib

    return getattr(importlib.import_module(module), name)


def _add_figures(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    p.add_argument(
        "--context",
        type=positive_int,
        help="context length for KV-cache and FLOP figures (default 4096); with show, also how the model covers it",
    )
    p.add_argument("--batch", type=positive_int, default=1, help="batch size for the KV-cache figure (default 1)")
    p.add_argument("--dtype", choices=DTYPES, default="bf16", help="dtype of the KV cache (default bf16)")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        raise ModelkinError(self.prog, message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="modelkin", description="Compare LLM family architectures (GLM, Qwen2, LLaMA) and check checkpoints."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="the catalog of published models")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--family", choices=FAMILY_NAMES)

    p = sub.add_parser("show", help="one model's architecture and what it costs")
    p.add_argument("id", help="catalog ID or Hugging Face repo id")
    _add_figures(p)
    p.add_argument("--tokens", type=tokens, help="training tokens (default: the published figure)")
    p.add_argument("--provenance", action="store_true", help="say where every value came from")
    p.add_argument("--tiny", action="store_true", help="print the tiny variant beside the full spec")

    p = sub.add_parser("compare", help="models side by side, differing rows marked")
    p.add_argument("ids", nargs="+")
    _add_figures(p)

    p = sub.add_parser("convert", help="spec and accounting of any supported config.json, or convert it")
    p.add_argument("config", help="path to a config.json")
    _add_figures(p)
    p.add_argument("--to", choices=("spec", *FORMAT_NAMES), help="print the config in another format")
    p.add_argument("--name", help="model name hint for the generation (default: the folder name)")
    p.add_argument("--tokens", type=tokens)
    p.add_argument("--provenance", action="store_true")

    sub.add_parser("schema", help="the JSON Schema of ArchSpec")

    p = sub.add_parser("inspect", help="check a checkpoint against its config by reading headers only")
    p.add_argument("target", nargs="?", help="checkpoint folder, .safetensors file, or Hub id org/name[@revision]")
    p.add_argument("--cache", action="store_true", help="every model in the local Hugging Face cache, one row each")
    p.add_argument("--format", choices=("table", "markdown", "json", "html"), default="table")
    p.add_argument("--tokens", type=tokens, help="training tokens (default: the catalog's published figure)")

    from .reference.builder import add_build_parser
    from .reports.command import add_report_parser
    from .rope_view import add_rope_parser

    add_report_parser(sub)
    add_rope_parser(sub)
    add_build_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        result = COMMANDS[args.command](args)
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
