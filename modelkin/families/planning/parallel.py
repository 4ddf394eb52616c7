"""How a model splits over GPUs: vLLM's divisibility rules, tensor-parallel shares per component,
pipeline stages, and what one GPU of each stage holds (`split_model`)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from ...errors import ModelkinError
from ..layout import layout
from ..spec import ArchSpec
from .dtypes import WeightScheme

VOCAB_PADDING = 64  # vLLM pads the vocabulary to a multiple of 64 before splitting it (DEFAULT_VOCAB_PADDING_SIZE)

TP_RULES = (
    "attention: query heads and the output projection split over tp (column- then row-parallel)",
    "KV heads split over tp; when tp > KV heads each GPU keeps one KV head (replicated tp/KV-heads times)",
    "MLP: gate/up split by columns, down by rows over tp",
    f"embedding and LM head: vocab-parallel (vocabulary padded to a multiple of {VOCAB_PADDING}, split over tp)",
    "norms and row-parallel biases (attention output, MLP down): replicated on every GPU",
    "MoE: routed experts split over ep (whole experts per GPU) or, without ep, each expert over tp; the router "
    "replicated; the shared expert split like the MLP; multi-token-prediction layers left out (vLLM loads them "
    "only for speculative decoding)",
    "pp: layers split as vLLM's get_pp_indices does; the embedding lives on the first stage, "
    "the final norm and head on the last; each stage caches its own layers' KV (its share of the layers: "
    "exact when all layers are alike); the stage with the least room decides",
)


@dataclass(frozen=True)
class Parallel:
    tp: int = 1
    pp: int = 1
    ep: int = 1
    dp: int = 1

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.dp


def num_experts(spec: ArchSpec) -> int | None:
    """Routed experts per MoE layer, None for a dense model."""
    moe = getattr(spec, "moe", None)
    return getattr(moe, "num_experts", None) if moe is not None else None


def check_parallel(spec: ArchSpec, par: Parallel) -> None:
    """vLLM's divisibility rules; an impossible layout is one clear line (exit 2)."""
    att = spec.attention
    if att.num_heads % par.tp:
        raise ModelkinError("--tp", f"tp={par.tp} does not divide the {att.num_heads} attention heads")
    if att.num_kv_heads % par.tp and par.tp % att.num_kv_heads:
        raise ModelkinError(
            "--tp",
            f"tp={par.tp} neither divides nor is a multiple of the {att.num_kv_heads} KV heads",
        )
    if spec.mlp.intermediate_size % par.tp:
        raise ModelkinError("--tp", f"tp={par.tp} does not divide the MLP width {spec.mlp.intermediate_size}")
    if par.pp > spec.num_layers:
        raise ModelkinError("--pp", f"pp={par.pp} exceeds the {spec.num_layers} layers")
    experts = num_experts(spec)
    if par.ep > 1 and experts is None:
        raise ModelkinError("--ep", f"ep={par.ep}, but this model has no experts (it is dense)")
    if experts is not None and par.ep > experts:
        raise ModelkinError("--ep", f"ep={par.ep} exceeds the {experts} experts")
    if experts is not None and experts % par.ep:
        raise ModelkinError("--ep", f"ep={par.ep} does not divide the {experts} experts")
    if par.ep > par.tp * par.dp:
        raise ModelkinError("--ep", f"ep={par.ep} exceeds the tp × data-parallel GPUs ({par.tp * par.dp}) it spans")


def kv_heads_per_gpu(spec: ArchSpec, tp: int) -> int:
    return max(1, spec.attention.num_kv_heads // tp)


def pp_partition(num_layers: int, pp: int) -> list[int]:
    """Layers per stage as vLLM's get_pp_indices splits them: the remainder goes to the stages
    before the last (which also carries the head)."""
    parts = [num_layers // pp] * pp
    for i in range(2, num_layers % pp + 2):
        parts[-i] += 1
    return parts


_PER_LAYER: dict[str, tuple[list[Counter[str]], Counter[str]]] = {}


def _per_layer_params(spec: ArchSpec) -> tuple[list[Counter[str]], Counter[str]]:
    """Parameters per layer and component, and those outside the layers, from the layout.

    Remembered per spec (its JSON is the key: specs hold lists, so they do not hash): the
    'fewest GPUs' search splits the same model many times."""
    key = spec.model_dump_json()
    if key not in _PER_LAYER:
        if len(_PER_LAYER) > 64:
            _PER_LAYER.clear()
        _PER_LAYER[key] = _count_per_layer(spec)
    return _PER_LAYER[key]


def _count_per_layer(spec: ArchSpec) -> tuple[list[Counter[str]], Counter[str]]:
    per_layer: list[Counter[str]] = [Counter() for _ in range(spec.num_layers)]
    outside: Counter[str] = Counter()
    for slot in layout(spec):
        if not slot.is_parameter:
            continue
        inside = slot.layer is not None and slot.layer < spec.num_layers  # MTP layers sit beyond the stack
        (per_layer[slot.layer] if inside else outside)[slot.component] += slot.numel
    return per_layer, outside


@dataclass
class Stage:
    """The share of the model one GPU holds (one pipeline stage, one tensor-parallel rank)."""

    index: int
    layers: list[int]
    params: dict[str, float]  # per component, on this GPU
    kv_fraction: float  # of the whole model's KV cache


def split_model(spec: ArchSpec, par: Parallel) -> list[Stage]:
    """Parameters on one GPU of each pipeline stage, by component, after the TP rules."""
    att, mlp, h = spec.attention, spec.mlp, spec.hidden_size
    tp = par.tp
    per_layer, outside = _per_layer_params(spec)
    # The KV projections (weights and biases) of one layer; replicated beyond tp = KV heads.
    kv_proj = 2 * att.num_kv_heads * att.head_dim * (h + (1 if att.qkv_bias else 0))
    kv_share = kv_heads_per_gpu(spec, tp) / att.num_kv_heads
    o_bias = h if att.out_bias else 0
    down_bias = h if mlp.bias else 0
    padded_vocab = math.ceil(spec.vocab_size / VOCAB_PADDING) * VOCAB_PADDING
    vocab_rows_per_gpu = padded_vocab / tp

    def layer_share(counts: Counter[str]) -> Counter[str]:
        out: Counter[str] = Counter()
        for comp, n in counts.items():
            if comp == "attention":
                out[comp] += (n - kv_proj - o_bias) / tp + kv_proj * kv_share + o_bias
            elif comp == "mlp":
                out[comp] += (n - down_bias) / tp + down_bias
            elif comp in ("norm", "router"):
                out[comp] += n
            elif comp == "experts":
                # Expert parallelism keeps whole experts, E/ep per GPU; without it each expert is TP-sharded.
                out[comp] += n / (par.ep if par.ep > 1 else tp)
            else:  # the shared expert, and anything else a layer holds: split like the MLP
                out[comp] += n / tp
        return out

    stages: list[Stage] = []
    start = 0
    parts = pp_partition(spec.num_layers, par.pp)
    for index, count in enumerate(parts):
        layers = list(range(start, start + count))
        start += count
        params: Counter[str] = Counter({c: 0 for c in ("embedding", "attention", "mlp", "norm", "head")})
        for i in layers:
            params.update(layer_share(per_layer[i]))
        if index == 0 and outside["embedding"]:
            params["embedding"] += vocab_rows_per_gpu * h
        if index == len(parts) - 1:
            params["norm"] += outside["norm"]  # outside["mtp"] is not loaded (see TP_RULES)
            if outside["head"]:
                params["head"] += vocab_rows_per_gpu * h
        stages.append(Stage(index, layers, dict(params), kv_share * count / spec.num_layers))
    return stages


def stage_weight_bytes(stage: Stage, scheme: WeightScheme) -> dict[str, float]:
    return {comp: n * scheme.bytes_for(comp) for comp, n in stage.params.items()}
