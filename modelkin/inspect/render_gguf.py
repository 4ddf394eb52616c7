"""The `gguf` part of an inspect report as text: what the file stores, its tokenizer, its reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..units import count, nbytes


def gguf_sections(gguf: dict[str, Any], markdown: bool, heading: Callable[[str], str]) -> list[str]:
    from ..text_table import text_table

    def table(rows: list[list[Any]], headers: list[str] | None = None) -> str:
        return text_table(rows, headers or (), markdown=markdown)

    files = gguf["files"]
    header_bytes = sum(f["header_bytes"] for f in files)
    rows = [
        ["architecture", gguf["architecture"]],
        ["name", gguf["name"] or "-"],
        ["GGUF version", gguf["version"]],
        ["file type", gguf["file_type"] or "-"],
        ["files", f"{len(files)} ({nbytes(sum(f['size'] for f in files))})"],
        ["header", f"{nbytes(header_bytes)} ({header_bytes:,} bytes; {sum(f['bytes_read'] for f in files):,} read)"],
        ["tensor data", nbytes(gguf["tensor_data_bytes"])],
        ["bits per weight", gguf["bits_per_weight"] if gguf["bits_per_weight"] is not None else "-"],
    ]
    out = [heading("GGUF"), table(rows), ""]
    quant = [
        [q["type"], q["tensors"], f"{q['params']:,} ({count(q['params'])})", nbytes(q["bytes"]), q["bits_per_weight"]]
        for q in gguf["quantization"]
    ]
    out += [heading("Stored by type"), table(quant, ["type", "tensors", "values", "bytes", "bits/weight"]), ""]
    tok = gguf["tokenizer"]
    trows = [
        ["model / pre", f"{tok['model']} / {tok['pre']}"],
        ["tokens", tok["tokens"]],
        ["embedding rows", tok["embedding_rows"]],
        ["merges", tok["merges"]],
        ["bos / eos / pad ids", f"{tok['bos_id']} / {tok['eos_id']} / {tok['pad_id']}"],
        ["chat template", f"yes ({tok['chat_template_chars']:,} chars)" if tok["chat_template"] else "no"],
    ]
    out += [heading("Tokenizer (GGUF metadata)"), table(trows), ""]
    params = gguf.get("params")
    if params:
        prow = [
            ["logical (as the HF checkpoint)", f"{params['logical']:,}"],
            ["stored in the file", f"{params['stored']:,}"],
        ]
        for d in params["dropped"]:
            prow.append([f"not stored: {d['what']}", f"{d['values']:,} ({d['why']})"])
        for a in params["added"]:
            prow.append([f"added: {a['what']}", f"{a['values']:,} ({a['why']})"])
        out += [heading("Parameters"), table(prow), ""]
    ref = gguf.get("reference")
    if ref:
        diffs = ref["differences"]
        out.append(heading(f"Against {ref['id']}"))
        if diffs:
            out.append(
                table(
                    [[d["field"], d["gguf"], d["reference"], d["severity"]] for d in diffs],
                    ["field", "GGUF", "reference", "severity"],
                )
            )
        else:
            out.append("every field GGUF metadata can state agrees")
        out.append("")
    for note in gguf.get("notes", []):
        out.append(f"note: {note}")
    if gguf.get("notes"):
        out.append("")
    return out
