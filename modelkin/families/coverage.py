"""How a model reaches a given context length: natively, by RoPE scaling, or by DCA."""

from __future__ import annotations

import math
from typing import Any

from ..units import nbytes
from .accounting import kv_cache_bytes
from .spec import ArchSpec


def context_coverage(spec: ArchSpec, context: int, dtype: str = "bf16") -> dict[str, Any]:
    original = spec.original_context
    scaling = spec.positions.scaling
    dca = spec.long_context.dual_chunk
    kv = kv_cache_bytes(spec, context, 1, dtype)
    out: dict[str, Any] = {
        "context": context,
        "original_context": original,
        "max_position_embeddings": spec.max_position_embeddings,
        "kv_cache_bytes": kv,
        "dtype": dtype,
    }
    if context <= original and not (dca and context > dca.chunk_size - dca.local_size):
        out["how"] = "native"
        text = f"{context:,} tokens are within the {original:,} positions the model was trained on: covered natively"
    elif dca is not None:
        step = dca.chunk_size - dca.local_size
        chunks = math.ceil(context / step)
        out.update(how="dual-chunk-attention", chunks=chunks, chunk_length=step)
        text = (
            f"{context:,} tokens are covered by Dual Chunk Attention: {chunks} chunks of {step:,} tokens "
            f"(chunk_size {dca.chunk_size:,} − local_size {dca.local_size:,}); RoPE never sees a distance above {dca.chunk_size:,}"
        )
        if context > spec.max_position_embeddings:
            text += f"; beyond the configured max_position_embeddings {spec.max_position_embeddings:,}"
    elif scaling.type != "none" and context <= spec.max_position_embeddings:
        out.update(how="rope-scaling", scaling=scaling.type, factor=scaling.factor)
        text = (
            f"{context:,} tokens exceed the original {original:,} and are covered by {scaling.type} RoPE scaling "
            f"×{scaling.factor:g} (up to {spec.max_position_embeddings:,})"
        )
    elif context <= spec.max_position_embeddings:
        out["how"] = "native"
        text = f"{context:,} tokens are within max_position_embeddings {spec.max_position_embeddings:,}"
        if spec.positions.rope_ratio != 1:
            text += f" (reached by raising the RoPE base: rope_ratio {spec.positions.rope_ratio:g})"
    else:
        out["how"] = "not-covered"
        text = f"{context:,} tokens exceed max_position_embeddings {spec.max_position_embeddings:,}: not covered"
    out["summary"] = f"{text}. KV cache for one sequence of {context:,} tokens: {nbytes(kv)} ({dtype})."
    return out
