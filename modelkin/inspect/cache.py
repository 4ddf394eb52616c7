"""`modelkin inspect --cache [org/name[@rev]]`: one row per cached revision of each model repo.

The cache is listed by huggingface_hub's own `scan_cache_dir` (HF_HOME / HF_HUB_CACHE
respected); each snapshot folder is inspected like a local checkpoint, its symlinks into the
repository's blobs/ allowed (containment.containment_root). Nothing is fetched.
"""

from __future__ import annotations

from typing import Any

from ..errors import EXIT_INCONSISTENT, EXIT_OK, ModelkinError, UnreadableInput
from .checks import inspect_gathered
from .gather import gather_local
from .render import cache_row


def inspect_cache(only: str | None = None, tokens: float | None = None) -> list[dict[str, Any]]:
    """Rows for every cached model revision, or for `only` ('org/name' or 'org/name@rev')."""
    from .hub import _cache_dir, parse_hub_id, scan_cache

    repo_filter, rev_filter = parse_hub_id(only) if only else (None, None)
    rows = []
    for repo in scan_cache():
        if repo_filter is not None and repo.repo_id.lower() != repo_filter.lower():
            continue
        for rev in repo.revisions:
            if rev_filter is not None and rev_filter not in rev.refs and not rev.commit.startswith(rev_filter):
                continue
            rows.append(_row(repo, rev, tokens))
    if only and not rows:
        raise UnreadableInput(only, f"is not in the Hugging Face cache ({_cache_dir()})")
    return rows


def _row(repo: Any, rev: Any, tokens: float | None) -> dict[str, Any]:
    revision = rev.commit[:8]
    try:
        gathered = gather_local(str(rev.snapshot_path))
        report = inspect_gathered(gathered, tokens)
    except ModelkinError as exc:
        return {**cache_row(repo.repo_id, revision, None, repo.size_on_disk, exc.line()), "refs": list(rev.refs)}
    row = {**cache_row(repo.repo_id, revision, report, repo.size_on_disk, None), "refs": list(rev.refs)}
    if gathered.missing_shards:
        # Only some files were downloaded (an interrupted download, or `modelkin inspect org/name`,
        # which fetches headers only): nothing to hold against the checkpoint, but say what is missing.
        total = len(gathered.missing_shards) + len(gathered.headers)
        row.update(
            verdict="partial",
            problem=f"{len(gathered.missing_shards)} of {total} shards not in the cache: "
            + ", ".join(gathered.missing_shards),
        )
    return row


def exit_code(rows: list[dict[str, Any]]) -> int:
    return EXIT_INCONSISTENT if any(r["verdict"] in ("inconsistent", "unreadable") for r in rows) else EXIT_OK


def render_cache(rows: list[dict[str, Any]], markdown: bool = False) -> str:
    from ..text_table import text_table
    from ..units import count, nbytes

    if not rows:
        return "the Hugging Face cache holds no models"
    table = [
        [
            r["id"],
            r["revision"] + (f" ({', '.join(r['refs'])})" if r.get("refs") else ""),
            r["family"] or "-",
            count(r["params"]) if r["params"] else "-",
            r["dtype"] or "-",
            nbytes(r["size_on_disk"]),
            r["verdict"] + (f": {r['problem']}" if r["problem"] else ""),
        ]
        for r in rows
    ]
    headers = ["id", "revision", "family", "params", "dtype", "size on disk", "verdict"]
    return text_table(table, headers, markdown=markdown)
