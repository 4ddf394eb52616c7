"""Bytes per value: weight schemes (bf16 … int4, NF4) and KV-cache dtypes, over accounting's
DTYPE_BYTES and KV-cache bytes (each layer kind's span)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ModelkinError
from ..accounting import DTYPE_BYTES, kv_cache_bytes, kv_cache_bytes_per_token
from ..quantization import SCHEME_NAMES
from ..spec import ArchSpec


@dataclass(frozen=True)
class WeightScheme:
    """Bytes per parameter: `linear` for attention/MLP matrices, `other` for embedding, head, norms.

    Quantised schemes quantise the linear layers only; vLLM and bitsandbytes keep the
    embedding, the LM head and the norms in 16 bits.
    """

    name: str
    linear: float
    other: float
    note: str
    # Measured per component (component, bytes per parameter) where a scheme's layout is known;
    # it overrides `linear`/`other` for those components.
    by_component: tuple[tuple[str, float], ...] = ()

    def bytes_for(self, component: str) -> float:
        measured = dict(self.by_component)
        if component in measured:
            return measured[component]
        return self.other if component in ("embedding", "head", "norm") else self.linear


def weight_scheme(name: str | WeightScheme, spec: ArchSpec | None = None) -> WeightScheme:
    """Bytes per parameter of a scheme: measured per component for `quantization`'s schemes (given the
    spec), else the simple width rules below (bf16, fp8, int8, int4 group-wise, NF4). A scheme already
    measured elsewhere (a GGUF file's own mix, `stored_scheme`) is its own answer."""
    if isinstance(name, WeightScheme):
        return name
    if spec is not None:
        measured = _measured(spec, name)
        if measured is not None:
            return measured
    if name in ("bf16", "fp16", "fp32"):
        size = DTYPE_BYTES[name]
        return WeightScheme(name, size, size, f"every tensor in {name}")
    if name in ("fp8", "int8"):
        return WeightScheme(
            name, 1.0, DTYPE_BYTES["bf16"], f"linear layers in {name} (per-channel scales ignored), the rest bf16"
        )
    if name == "int4":
        # GPTQ/AWQ-style: 4-bit values plus an fp16 scale and a 4-bit zero point per group of 128.
        return WeightScheme(
            name,
            DTYPE_BYTES["int4"] + (2 + 0.5) / 128,
            DTYPE_BYTES["bf16"],
            "linear layers 4-bit with an fp16 scale and 4-bit zero per 128 weights, the rest bf16",
        )
    if name == "nf4":
        # QLoRA (Dettmers et al. 2023 §3): NF4 blocks of 64 with double-quantised absmax
        # constants: 4 + 8/64 + 32/(64·256) = 4.127 bits per parameter.
        return WeightScheme(
            name,
            (4 + 8 / 64 + 32 / (64 * 256)) / 8,
            DTYPE_BYTES["bf16"],
            "linear layers NF4 with double quantisation (4.127 bits), the rest bf16",
        )
    raise ModelkinError("--weights", f"unknown weight scheme {name!r} (bf16, fp16, fp32, fp8, int8, int4, nf4)")


WEIGHT_SCHEMES = ("bf16", "fp16", "fp32", "fp8", "int8", "int4") + tuple(
    n for n in SCHEME_NAMES if n not in ("bf16", "fp16", "fp32", "fp8")
)

KV_DTYPES = ("bf16", "fp16", "fp32", "fp8", "int8", "int4")

KV_WIDTH = {**DTYPE_BYTES, "fp8": 1.0}


def kv_bytes(spec: ArchSpec, context: int, batch: int, dtype: str) -> float:
    """accounting's KV-cache bytes (each layer kind's span), for any storage width."""
    if dtype in DTYPE_BYTES:
        return kv_cache_bytes(spec, context, batch, dtype)
    return kv_cache_bytes(spec, context, batch, "bf16") / DTYPE_BYTES["bf16"] * KV_WIDTH[dtype]


def kv_bytes_per_token(spec: ArchSpec, dtype: str) -> float:
    if dtype in DTYPE_BYTES:
        return kv_cache_bytes_per_token(spec, dtype)
    return kv_cache_bytes_per_token(spec, "bf16") / DTYPE_BYTES["bf16"] * KV_WIDTH[dtype]


def _measured(spec: ArchSpec, name: str) -> WeightScheme | None:
    """A scheme of `quantization.SCHEME_NAMES` with its bytes per parameter measured per component
    from the tensors the scheme stores for this model (weights, scales, zero points; what it leaves
    unquantized in 16 bits)."""
    from collections import Counter

    from .. import quantization

    if name not in quantization.SCHEME_NAMES:
        return None
    config = quantization.scheme_config(name)
    if config is None:
        return None  # an unquantized dtype
    stored: Counter[str] = Counter()
    params: Counter[str] = Counter()
    for slot, planned in quantization.plan(spec, config):
        if not slot.is_parameter:
            continue
        params[slot.component] += slot.numel
        if planned is None or planned.tensors is None:
            stored[slot.component] += slot.numel * DTYPE_BYTES["bf16"]
        else:
            stored[slot.component] += sum(t.nbytes for t in planned.tensors if not t.optional)
    note = config.main.describe() if config.main else name
    return stored_scheme(name, note, stored, params, other=DTYPE_BYTES["bf16"])


def stored_scheme(
    name: str, note: str, stored: dict[str, float], params: dict[str, int], other: float | None = None
) -> WeightScheme:
    """A scheme from bytes and parameters counted per component (what a checkpoint or a quantizer
    stores): each component's bytes per parameter; `linear` is attention's and the MLP's together,
    `other` the embedding's, head's and norms' unless given."""

    def per_param(components: tuple[str, ...]) -> float:
        return sum(stored.get(c, 0) for c in components) / max(1, sum(params.get(c, 0) for c in components))

    by = {c: stored.get(c, 0) / params[c] for c in params if params[c]}
    linear = per_param(("attention", "mlp"))
    rest = other if other is not None else per_param(("embedding", "head", "norm"))
    return WeightScheme(name, linear, rest, note, tuple(sorted(by.items())))
