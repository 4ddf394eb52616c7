"""The inspector's report as text (terminal or Markdown) and the `--cache` overview rows."""

from __future__ import annotations

from typing import Any

from ..units import count, nbytes
from .checks import verdict

SYMBOL = {"error": "✗", "warning": "!", "info": "·"}


def render_text(report: dict[str, Any], markdown: bool = False) -> str:
    from ..text_table import text_table

    h = (lambda t: f"## {t}") if markdown else (lambda t: f"{t}\n{'-' * len(t)}")
    lines = [f"# modelkin inspect: {report['target']}" if markdown else f"modelkin inspect: {report['target']}", ""]
    rows = [
        ["verdict", verdict(report)],
        [
            "family / generation",
            f"{report['family']} / {report['generation']}"
            if report["family"]
            else "unknown (no config.json)"
            if not report.get("gguf")
            else "unknown",
        ],
    ]
    if report.get("generation_how"):
        rows.append(["generation from", report["generation_how"]])
    if report["model_type"]:
        rows.append(["model_type", report["model_type"]])
    quant = report.get("quantization")
    rows.append(
        [
            "params in headers (logical)" if quant else "params in headers",
            f"{report['params_checkpoint']:,} ({count(report['params_checkpoint'])})",
        ]
    )
    if report["params_expected"] is not None:
        source = "metadata" if report.get("gguf") else "config"
        rows.append([f"params the {source} implies", f"{report['params_expected']:,}"])
    rows.append(["dtypes", ", ".join(f"{d} {count(n)}" for d, n in report["dtypes"].items()) or "-"])
    rows.append(["shards", f"{len(report['shards'])} ({nbytes(report['size_on_disk'])} on disk)"])
    if "bytes_fetched" in report:
        rows.append(["bytes fetched from the Hub", f"{report['bytes_fetched']:,}"])
    tied = report["tied_embeddings"]
    if tied:
        rows.append(
            [
                "tied embeddings",
                f"config {'yes' if tied['config'] else 'no'}, head tensor {'present' if tied['checkpoint_has_head'] else 'absent'}"
                + (" (a stored copy of the tied embedding)" if tied.get("stored_copy") else ""),
            ]
        )
    if "params_unique" in report:
        rows.append(["params counted once", f"{report['params_unique']:,}"])
    lines += [text_table(rows, markdown=markdown), ""]

    if quant:
        from .quantized import render_rows

        lines.append(h("Quantization"))
        lines += [text_table(render_rows(quant), markdown=markdown), ""]

    if report["missing"] or report["unexpected"] or report["shape_mismatches"]:
        lines.append(h("Tensors"))
        for name in report["missing"][:20]:
            lines.append(f"- missing: {name}")
        for name in report["unexpected"][:20]:
            lines.append(f"- unexpected: {name}")
        for m in report["shape_mismatches"][:20]:
            lines.append(f"- wrong shape: {m['tensor']} {m['actual']} (expected {m['expected']})")
        hidden = len(report["missing"]) + len(report["unexpected"]) + len(report["shape_mismatches"]) - 60
        if hidden > 0:
            lines.append("- … and more (see --format json)")
        lines.append("")

    if report.get("gguf"):
        from .render_gguf import gguf_sections

        lines += gguf_sections(report["gguf"], markdown, h)
    tok = report["tokenizer"]
    if tok:
        lines.append(h("Tokenizer"))
        trows = [
            ["kind", tok["kind"]],
            ["base vocabulary", tok["base_vocab_size"]],
            ["added tokens", tok["added_tokens"]],
            ["ids produced", tok["total_size"]],
            ["embedding rows", tok["embedding_rows"]],
        ]
        if tok["padding_rows"] is not None:
            trows.append(["padding rows", f"{tok['padding_rows']:,} ({tok['padding_params']:,} parameters)"])
        trows.append(["bos / eos / pad ids", f"{tok['bos_id']} / {tok['eos_id']} / {tok['pad_id']}"])
        lines += [text_table(trows, markdown=markdown), ""]
    gen = report["generation_defaults"]
    if gen:
        lines.append(h("Decoding defaults (generation_config.json)"))
        lines += [text_table([[k, v] for k, v in gen.items()], markdown=markdown), ""]
    ts = report["token_scaling"]
    if ts:
        lines.append(h("Token scaling"))
        lines += [
            text_table(
                [
                    ["training tokens", count(ts["tokens"])],
                    ["tokens per parameter", f"{ts['tokens_per_param']:.1f}"],
                    ["× Chinchilla (20 tokens/param)", f"{ts['chinchilla_multiple']:.1f}"],
                    ["training compute 6·N·D", f"{ts['training_flops']:.3g} FLOP"],
                    ["source", ts["source"]],
                ],
                markdown=markdown,
            ),
            "",
        ]
    if report["findings"]:
        lines.append(h("Findings"))
        order = {"error": 0, "warning": 1, "info": 2}
        for f in sorted(report["findings"], key=lambda f: order[f["severity"]]):
            lines.append(f"- {SYMBOL[f['severity']]} {f['severity']} [{f['code']}] {f['message']}")
    return "\n".join(lines).rstrip()


def cache_row(
    repo_id: str, revision: str, report: dict[str, Any] | None, size: int, error: str | None
) -> dict[str, Any]:
    if report is None:
        return {
            "id": repo_id,
            "revision": revision,
            "family": None,
            "params": None,
            "dtype": None,
            "size_on_disk": size,
            "verdict": "unreadable",
            "problem": error,
        }
    main_dtype = max(report["dtypes"], key=report["dtypes"].get) if report["dtypes"] else None
    errors = [f["message"] for f in report["findings"] if f["severity"] == "error"]
    return {
        "id": repo_id,
        "revision": revision,
        "family": report["family"],
        "generation": report["generation"],
        "params": report["params_checkpoint"],
        "dtype": main_dtype,
        "size_on_disk": size,
        "verdict": verdict(report),
        "problem": errors[0] if errors else None,
    }
