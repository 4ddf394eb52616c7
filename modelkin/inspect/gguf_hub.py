"""GGUF headers from the Hub by HTTP range requests (never the tensor data).

A GGUF header has no length prefix: its end is known only after parsing it.
The cursor asks for 1 MiB first and doubles each further request (up to 16
MiB), so a 10 MB vocabulary costs four round trips and at most one chunk of
read-ahead. Requests, retries and errors are those of `hub.py`.
"""

from __future__ import annotations

from typing import Any

from .gguf_file import GGUFHeader, parse_gguf
from .gguf_inspect import GGUFModel, choose_model

FIRST_CHUNK = 1 << 20


def fetch_gguf_model(
    repo_id: str, commit: str, files: list[str], label: str, wanted: str | None = None, token: Any = None
) -> GGUFModel:
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    from .hub import _endpoint, _get_range

    parts, missing = choose_model(files, label, wanted)
    headers = build_hf_headers(token=token)
    headers["Accept-Encoding"] = "identity"
    endpoint = _endpoint()
    model = GGUFModel(label, parts, {}, missing_parts=missing, bytes_fetched=0)
    for name in parts:
        if name in missing:
            continue
        url = hf_hub_url(repo_id, name, revision=commit, endpoint=endpoint)
        header = _fetch_header(url, headers, _get_range)
        model.headers[name] = header
        model.sizes[name] = header.file_size
        model.bytes_fetched += header.bytes_read
    return model


def _fetch_header(url: str, headers: dict[str, str], get_range) -> GGUFHeader:
    first, size = get_range(url, 0, FIRST_CHUNK - 1, headers)

    def fetch(start: int, count: int) -> bytes:
        if start + count <= len(first):  # the first answer already holds it
            return first[start : start + count]
        data, _ = get_range(url, start, start + count - 1, headers)
        return data

    return parse_gguf(fetch, size, url, FIRST_CHUNK, grow=True)
