"""The `gguf` part of an inspect report as text: what the file stores, its tokenizer, its reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ..units import count, nbytes


class Block(NamedTuple):
    """One table of the GGUF part (`headers` None: field/value rows), or a line of text (`rows` None)."""

    title: str
    headers: list[str] | None
    rows: list[list[Any]] | None
    text: str = ""


def gguf_blocks(gguf: dict[str, Any]) -> list[Block]:
    """The GGUF part of an inspect report, as the text and the HTML page both show it."""
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
    out = [Block("GGUF", None, rows)]
    quant = [
        [q["type"], q["tensors"], f"{q['params']:,} ({count(q['params'])})", nbytes(q["bytes"]), q["bits_per_weight"]]
        for q in gguf["quantization"]
    ]
    out.append(Block("Stored by type", ["type", "tensors", "values", "bytes", "bits/weight"], quant))
    tok = gguf["tokenizer"]
    trows = [
        ["model / pre", f"{tok['model']} / {tok['pre']}"],
        ["tokens", tok["tokens"]],
        ["embedding rows", tok["embedding_rows"]],
        ["merges", tok["merges"]],
        ["bos / eos / pad ids", f"{tok['bos_id']} / {tok['eos_id']} / {tok['pad_id']}"],
        ["chat template", f"yes ({tok['chat_template_chars']:,} chars)" if tok["chat_template"] else "no"],
    ]
    out.append(Block("Tokenizer (GGUF metadata)", None, trows))
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
        out.append(Block("Parameters", None, prow))
    ref = gguf.get("reference")
    if ref:
        diffs = ref["differences"]
        title = f"Against {ref['id']}"
        if diffs:
            rows = [[d["field"], d["gguf"], d["reference"], d["severity"]] for d in diffs]
            out.append(Block(title, ["field", "GGUF", "reference", "severity"], rows))
        else:
            out.append(Block(title, None, None, "every field GGUF metadata can state agrees"))
    for note in gguf.get("notes", []):
        out.append(Block("", None, None, f"note: {note}"))
    return out


def gguf_sections(gguf: dict[str, Any], markdown: bool, heading: Callable[[str], str]) -> list[str]:
    """The GGUF part as lines of text (or Markdown) for `inspect`'s default output."""
    from ..text_table import text_table

    out: list[str] = []
    notes = False
    for block in gguf_blocks(gguf):
        if block.title:
            out.append(heading(block.title))
        if block.rows is not None:
            out += [text_table(block.rows, block.headers or (), markdown=markdown), ""]
        elif block.title:
            out += [block.text, ""]
        else:
            out.append(block.text)
            notes = True
    if notes:
        out.append("")
    return out
