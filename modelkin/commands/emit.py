"""Output of the commands: tables (aligned text, Markdown, CSV) and JSON."""

from __future__ import annotations

import json
from typing import Any

FORMATS = ("table", "markdown", "csv", "json")


def emit_table(headers: list[str], rows: list[list[Any]], fmt: str) -> str:
    from ..text_table import text_table

    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        return buf.getvalue().rstrip("\n")
    return text_table(rows, headers, markdown=fmt == "markdown")


def emit_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False)


def spec_json(spec) -> dict[str, Any]:
    return spec.model_dump(mode="json")
