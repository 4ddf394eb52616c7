"""Bytes over the wire: `modelkin inspect org/name` against a local Hub vs the checkpoint's size.

The Hub is tests/hubserver.py's FakeHub on 127.0.0.1 (range requests, per-file byte
counters), serving a Llama-3.1-405B-shaped sparse checkpoint (191 shards of 5 GB,
~812 GB). Every run starts from an empty HF_HOME, so nothing comes from the cache.

Sides, each its own process:
- modelkin inspect:   the whole inspection (config, index, every shard header);
- huggingface_hub:    `HfApi().get_safetensors_metadata(repo)`, huggingface_hub's own
                      header reader (shapes and dtypes only, no checks), for scale.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from .common import REPO, Measurement, Side, bench_env, compare, modelkin_argv, python_argv, run_process

MODEL = "llama-3.1-405b"
REPO_ID = "bench-org/Llama-3.1-405B"

HF_METADATA = """
import sys
from huggingface_hub import HfApi
meta = HfApi().get_safetensors_metadata(sys.argv[1])
print(sum(sum(f.parameter_count.values()) for f in meta.files_metadata.values()))
"""


def _hub_env(url: str, home: Path) -> dict[str, str]:
    return {
        "HF_ENDPOINT": url,
        "HF_HOME": str(home),
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
        "HF_TOKEN": "",
        "DO_NOT_TRACK": "1",
    }


def run(quick: bool = False, repeats: int | None = None, workdir: Path | None = None) -> list[dict[str, Any]]:
    from modelkin.configs import get
    from modelkin.inspect.sparse import write_sparse_checkpoint

    sys.path.insert(0, str(REPO))
    from tests.hubserver import FakeHub

    repeats = repeats or (1 if quick else 3)
    root = Path(tempfile.mkdtemp(prefix="bench-hub-", dir=workdir))
    try:
        write_sparse_checkpoint(get(MODEL).spec, root / "repos" / REPO_ID)
        shards = sorted((root / "repos" / REPO_ID).glob("*.safetensors"))
        checkpoint_bytes = sum(p.stat().st_size for p in shards)
        with FakeHub(root / "repos") as hub:
            served: dict[str, list[tuple[int, int]]] = {}  # side -> [(shard bytes, all bytes)]

            def measured(name: str, argv: list[str]):
                counter = iter(range(10**6))

                def call() -> Measurement:
                    home = root / f"home-{name.split()[0]}-{next(counter)}"  # a cold cache every run
                    hub.reset_counters()
                    m = run_process(argv, bench_env(_hub_env(hub.url, home)))
                    shard_bytes = sum(v for k, v in hub.bytes_served.items() if k.endswith(".safetensors"))
                    served.setdefault(name, []).append((shard_bytes, sum(hub.bytes_served.values())))
                    shutil.rmtree(home, ignore_errors=True)
                    return m

                return Side(name, call=call)

            sides = [
                measured("modelkin inspect (Hub)", modelkin_argv("inspect", REPO_ID)),
                measured("huggingface_hub get_safetensors_metadata", python_argv(HF_METADATA) + [REPO_ID]),
            ]
            result = compare("hub", f"{MODEL} over HTTP ({len(shards)} shards)", sides, repeats)
        rows = result.rows()
        for row in rows:
            timed = served[row["side"]][-len(result.runs[row["side"]]) :]  # the timed runs, not the warm-up
            shard_bytes = statistics.median(s for s, _ in timed)
            all_bytes = statistics.median(a for _, a in timed)
            row.update(
                checkpoint_bytes=checkpoint_bytes,
                shards=len(shards),
                shard_bytes_served=shard_bytes,
                bytes_served=all_bytes,
                fraction_of_checkpoint=all_bytes / checkpoint_bytes,
            )
        return rows
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
