"""Will it fit? Memory per GPU for serving and fine-tuning, from the spec alone (pure Python).

Every count comes from `accounting` (parameters per component from the layout,
KV-cache bytes with each layer kind's span); this module only splits them over
GPUs and adds what a runtime or an optimizer holds besides. Each figure is
returned as a `Term` carrying its formula and the formula with this model's
numbers substituted, so `--explain`, the table and the JSON show the same thing.

Serving follows vLLM's arithmetic (vllm/v1/worker/gpu_worker.py, 0.19):
    KV budget = utilisation × GPU memory − weights − activation peak − non-torch memory
    GPU KV cache size (tokens) = ⌊KV budget / (block_size × KV bytes per token)⌋ × block_size
with the tensor-parallel rules of vLLM's parallel layers (stated in `TP_RULES`).

Fine-tuning: AdamW in mixed precision keeps 2 + 2 + 12 = 16 bytes per trained
parameter (bf16 weights and gradients; fp32 master copy, first and second moments),
sharded by ZeRO stage over the data-parallel GPUs exactly as Rajbhandari et al.
2020 (Fig. 1) write it. Activations follow Korthikanti et al. 2022 ("Reducing
Activation Recomputation in Large Transformer Models", §4), generalised from
their GPT (MHA, 4h GeLU MLP, dropout) to GQA and gated MLPs term by term.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ModelkinError
from .accounting import DTYPE_BYTES, kv_cache_bytes, kv_cache_bytes_per_token, params_by_component, params_total
from .layout import layout
from .spec import ArchBase

GIB = 2**30
DEFAULT_UTILIZATION = 0.9  # vLLM's gpu_memory_utilization default
VLLM_BLOCK_SIZE = 16  # tokens per KV block (vLLM's default block_size for CUDA)
VOCAB_PADDING = 64  # vLLM pads the vocabulary to a multiple of 64 before splitting it (DEFAULT_VOCAB_PADDING_SIZE)
# vLLM's scheduler defaults for the OpenAI server (EngineArgs.get_batch_defaults): GPUs with at least
# 70 GiB that are not A100s get 8192 batched tokens and 1024 sequences, all others 2048 and 256.
LARGE_GPU_DEFAULTS = (8192, 1024)
SMALL_GPU_DEFAULTS = (2048, 256)
# The sampler's peak: fp32 logits for every sequence the scheduler may hold, plus the sampler's
# working copies (probabilities, sorted values for top-k/top-p): four fp32 copies = 16 bytes per logit.
# vLLM 0.19 logs 15.2-16.0 bytes per logit for Llama-3.1-8B/70B and Qwen2.5-7B/72B on H100.
SAMPLER_BYTES_PER_LOGIT = 16
# Memory outside PyTorch's allocator that vLLM measures during its profiling forward pass:
# cuBLAS workspaces on one GPU; NCCL and custom all-reduce buffers with tensor parallelism.
# Measured by vLLM 0.19 on H100 (non_torch_forward in the llm-d-planner logs): 0.24-0.25 GiB at
# tp=1, 2.06-2.21 GiB at tp=2 and 4.
NON_TORCH_SINGLE = 0.25 * GIB
NON_TORCH_TP = 2.1 * GIB
# Fine-tuning: the CUDA context a process holds before any tensor (vLLM measures 0.51 GiB on H100).
CUDA_CONTEXT = 0.5 * GIB
ADAM_BYTES = {"weights": 2, "gradients": 2, "optimizer": 12}  # Rajbhandari et al. 2020 §3.1: K = 12
DEFAULT_FINETUNE_CONTEXT = 2048
DEFAULT_LORA_RANK = 16
LORA_MODULES = ("q", "k", "v", "o", "gate", "up", "down")

TP_RULES = (
    "attention: query heads and the output projection split over tp (column- then row-parallel)",
    "KV heads split over tp; when tp > KV heads each GPU keeps one KV head (replicated tp/KV-heads times)",
    "MLP: gate/up split by columns, down by rows over tp",
    f"embedding and LM head: vocab-parallel (vocabulary padded to a multiple of {VOCAB_PADDING}, split over tp)",
    "norms and row-parallel biases (attention output, MLP down): replicated on every GPU",
    "pp: layers split as vLLM's get_pp_indices does; the embedding lives on the first stage, "
    "the final norm and head on the last; each stage caches its own layers' KV (its share of the layers: "
    "exact when all layers are alike); the stage with the least room decides",
)

Mode = Literal["serve", "finetune"]


@dataclass(frozen=True)
class Term:
    """One figure: its value, its formula, and the formula with the model's numbers in it."""

    key: str
    label: str
    value: float
    formula: str
    substituted: str
    unit: Literal["bytes", "tokens", "count", "params"] = "bytes"

    def json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "formula": self.formula,
            "substituted": self.substituted,
        }


def _g(n: float) -> str:
    """Bytes as GiB for substituted formulas."""
    return f"{n / GIB:.2f} GiB"


def _n(n: float) -> str:
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.4g}"


# --- weights by scheme -------------------------------------------------------------------


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


def weight_scheme(name: str) -> WeightScheme:
    """The plug point for per-scheme byte counts (bf16, fp8, int8, int4 group-wise, NF4)."""
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


WEIGHT_SCHEMES = ("bf16", "fp16", "fp32", "fp8", "int8", "int4")
KV_DTYPES = ("bf16", "fp16", "fp32", "fp8", "int8", "int4")
KV_WIDTH = {**DTYPE_BYTES, "fp8": 1.0}


def kv_bytes(spec: ArchBase, context: int, batch: int, dtype: str) -> float:
    """accounting's KV-cache bytes (each layer kind's span), for any storage width."""
    if dtype in DTYPE_BYTES:
        return kv_cache_bytes(spec, context, batch, dtype)
    return kv_cache_bytes(spec, context, batch, "bf16") / DTYPE_BYTES["bf16"] * KV_WIDTH[dtype]


def kv_bytes_per_token(spec: ArchBase, dtype: str) -> float:
    if dtype in DTYPE_BYTES:
        return kv_cache_bytes_per_token(spec, dtype)
    return kv_cache_bytes_per_token(spec, "bf16") / DTYPE_BYTES["bf16"] * KV_WIDTH[dtype]


# --- parallelism -------------------------------------------------------------------------


@dataclass(frozen=True)
class Parallel:
    tp: int = 1
    pp: int = 1
    ep: int = 1
    dp: int = 1

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.dp


def num_experts(spec: ArchBase) -> int | None:
    """Routed experts per MoE layer, None for a dense model."""
    moe = getattr(spec, "moe", None)
    return getattr(moe, "num_experts", None) if moe is not None else None


def check_parallel(spec: ArchBase, par: Parallel) -> None:
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


def kv_heads_per_gpu(spec: ArchBase, tp: int) -> int:
    return max(1, spec.attention.num_kv_heads // tp)


def pp_partition(num_layers: int, pp: int) -> list[int]:
    """Layers per stage as vLLM's get_pp_indices splits them: the remainder goes to the stages
    before the last (which also carries the head)."""
    parts = [num_layers // pp] * pp
    for i in range(2, num_layers % pp + 2):
        parts[-i] += 1
    return parts


_PER_LAYER: dict[str, tuple[list[Counter[str]], Counter[str]]] = {}


def _per_layer_params(spec: ArchBase) -> tuple[list[Counter[str]], Counter[str]]:
    """Parameters per layer and component, and those outside the layers, from the layout.

    Remembered per spec (its JSON is the key: specs hold lists, so they do not hash): the
    'fewest GPUs' search splits the same model many times."""
    key = spec.model_dump_json()
    if key not in _PER_LAYER:
        if len(_PER_LAYER) > 64:
            _PER_LAYER.clear()
        _PER_LAYER[key] = _count_per_layer(spec)
    return _PER_LAYER[key]


def _count_per_layer(spec: ArchBase) -> tuple[list[Counter[str]], Counter[str]]:
    per_layer: list[Counter[str]] = [Counter() for _ in range(spec.num_layers)]
    outside: Counter[str] = Counter()
    for slot in layout(spec):
        if not slot.is_parameter:
            continue
        (per_layer[slot.layer] if slot.layer is not None else outside)[slot.component] += slot.numel
    return per_layer, outside


@dataclass
class Stage:
    """The share of the model one GPU holds (one pipeline stage, one tensor-parallel rank)."""

    index: int
    layers: list[int]
    params: dict[str, float]  # per component, on this GPU
    kv_fraction: float  # of the whole model's KV cache


def split_model(spec: ArchBase, par: Parallel) -> list[Stage]:
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
            elif comp == "norm":
                out[comp] += n
            else:  # components other issues add (experts, routers): split like the MLP over tp and ep
                out[comp] += n / tp / par.ep
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
            params["norm"] += outside["norm"]
            if outside["head"]:
                params["head"] += vocab_rows_per_gpu * h
        stages.append(Stage(index, layers, dict(params), kv_share * count / spec.num_layers))
    return stages


def stage_weight_bytes(stage: Stage, scheme: WeightScheme) -> dict[str, float]:
    return {
        comp: n * (scheme.linear if comp not in ("embedding", "head", "norm") else scheme.other)
        for comp, n in stage.params.items()
    }


# --- serving -----------------------------------------------------------------------------


@dataclass
class Hardware:
    name: str
    memory_bytes: int
    source: str = ""
    note: str = ""

    @property
    def large(self) -> bool:
        """vLLM's test for its larger scheduler defaults (>= 70 GiB and not an A100)."""
        return self.memory_bytes >= 70 * GIB and "a100" not in self.name.lower()


@dataclass
class ServeRequest:
    context: int
    batch: int = 1
    weights: str = "bf16"
    kv_dtype: str = "bf16"
    utilization: float = DEFAULT_UTILIZATION
    max_num_seqs: int | None = None
    max_batched_tokens: int | None = None


@dataclass
class Plan:
    """The answer: per-GPU terms, the derived limits and what would make it fit."""

    mode: Mode
    hardware: Hardware
    parallel: Parallel
    settings: dict[str, Any]
    per_gpu: dict[str, Term]
    breakdown: dict[str, float]  # what the memory bar shows, summing to per_gpu total
    answers: dict[str, Term | None]
    fits: bool
    rules: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    binding_stage: int = 0


def _weights_terms(spec: ArchBase, stage: Stage, scheme: WeightScheme, par: Parallel) -> Term:
    by = stage_weight_bytes(stage, scheme)
    total = sum(by.values())
    formula = "Σ_component params_on_gpu × bytes_per_param"
    parts = " + ".join(
        f"{_n(stage.params[c])}×{scheme.other if c in ('embedding', 'head', 'norm') else round(scheme.linear, 4)}"
        for c in by
        if stage.params[c]
    )
    return Term("weights_bytes", f"weights ({scheme.name})", total, formula, f"{parts} = {_g(total)}")


def serving_overhead(spec: ArchBase, hw: Hardware, par: Parallel, req: ServeRequest) -> dict[str, Term]:
    """What vLLM's profiling run takes besides weights: activation peak and non-torch memory."""
    tokens, seqs = LARGE_GPU_DEFAULTS if hw.large else SMALL_GPU_DEFAULTS
    tokens = req.max_batched_tokens or tokens
    seqs = req.max_num_seqs or seqs
    sampler = seqs * spec.vocab_size * SAMPLER_BYTES_PER_LOGIT
    i_tp = spec.mlp.intermediate_size / par.tp
    gate_up = 2 if spec.mlp.gated else 1
    # The largest live tensors of one decoder layer at the profiling batch: the gate/up output,
    # the activated product, and four hidden-sized tensors (residual, normed input, two outputs).
    forward = tokens * (2 * gate_up * i_tp + 2 * i_tp + 4 * 2 * spec.hidden_size)
    peak = max(sampler, forward)
    non_torch = NON_TORCH_TP if par.tp > 1 else NON_TORCH_SINGLE
    return {
        "activation_bytes": Term(
            "activation_bytes",
            "activation peak (vLLM profiling run)",
            peak,
            "max(max_num_seqs × vocab × 16 B [sampler], max_num_batched_tokens × (2·g·i/tp + 2·i/tp + 8·h) B [layer])",
            f"max({seqs} × {spec.vocab_size} × 16 = {_g(sampler)}, {tokens} × (2·{gate_up}·{_n(i_tp)} + "
            f"2·{_n(i_tp)} + 8·{spec.hidden_size}) = {_g(forward)}) = {_g(peak)}",
        ),
        "non_torch_bytes": Term(
            "non_torch_bytes",
            "non-torch memory (cuBLAS" + (", NCCL, custom all-reduce)" if par.tp > 1 else ")"),
            non_torch,
            "0.25 GiB (tp = 1) or 2.1 GiB (tp > 1), as vLLM 0.19 measures on H100",
            _g(non_torch),
        ),
    }


def _kv_for(spec: ArchBase, stage: Stage, context: int, batch: int, dtype: str) -> float:
    """KV bytes on one GPU of `stage` for `batch` sequences of `context` tokens, in whole blocks."""
    blocks = math.ceil(context / VLLM_BLOCK_SIZE) * VLLM_BLOCK_SIZE
    return kv_bytes(spec, blocks, batch, dtype) * stage.kv_fraction


def _largest(fits, hi: int) -> int:
    """The largest n in [0, hi] with fits(n) (fits monotone); 0 if none."""
    if fits(hi):
        return hi
    lo = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def plan_serving(spec: ArchBase, hw: Hardware, par: Parallel, req: ServeRequest) -> Plan:
    check_parallel(spec, par)
    scheme = weight_scheme(req.weights)
    budget = req.utilization * hw.memory_bytes
    overhead = serving_overhead(spec, hw, par, req)
    overhead_bytes = sum(t.value for t in overhead.values())
    stages = split_model(spec, par)

    stage = _binding_stage(stages, scheme, budget - overhead_bytes)
    room = budget - sum(stage_weight_bytes(stage, scheme).values()) - overhead_bytes
    weights = _weights_terms(spec, stage, scheme, par)
    per_token_all = kv_bytes_per_token(spec, req.kv_dtype)
    per_token = per_token_all * stage.kv_fraction
    kv_need = _kv_for(spec, stage, req.context, req.batch, req.kv_dtype)
    total = weights.value + kv_need + overhead_bytes
    fits = total <= budget
    kvh = kv_heads_per_gpu(spec, par.tp)
    width = KV_WIDTH[req.kv_dtype]
    att = spec.attention
    layers_here = len(stage.layers)
    per_gpu = {
        "weights_bytes": weights,
        "kv_bytes_per_token": Term(
            "kv_bytes_per_token",
            f"KV cache per token ({req.kv_dtype})",
            per_token,
            "2 (K,V) × layers_on_gpu × kv_heads_per_gpu × head_dim × bytes",
            f"2 × {layers_here} × {kvh} × {att.head_dim} × {width:g} = {_n(per_token)} B"
            + ("" if kvh * par.tp == att.num_kv_heads else f" (KV heads replicated: tp {par.tp} > {att.num_kv_heads})"),
        ),
        "kv_bytes": Term(
            "kv_bytes",
            f"KV cache at {req.context:,} × {req.batch}",
            kv_need,
            "batch × Σ_layers span(layer, ⌈context/16⌉·16) × KV bytes per token per layer",
            f"{req.batch} × {_n(kv_need / req.batch)} B = {_g(kv_need)}",
        ),
        **overhead,
        "total_bytes": Term(
            "total_bytes",
            "total per GPU",
            total,
            "weights + KV cache + activation peak + non-torch",
            f"{_g(weights.value)} + {_g(kv_need)} + {_g(overhead_bytes)} = {_g(total)}",
        ),
        "budget_bytes": Term(
            "budget_bytes",
            f"budget (utilisation {req.utilization:g})",
            budget,
            "gpu_memory_utilization × GPU memory",
            f"{req.utilization:g} × {_g(hw.memory_bytes)} = {_g(budget)}",
        ),
    }
    answers = _serving_answers(spec, hw, par, req, stage, room, per_token)
    plan = Plan(
        mode="serve",
        hardware=hw,
        parallel=par,
        settings={
            "context": req.context,
            "batch": req.batch,
            "weights": scheme.name,
            "weights_note": scheme.note,
            "kv_dtype": req.kv_dtype,
            "utilization": req.utilization,
        },
        per_gpu=per_gpu,
        breakdown={
            **{f"weights: {c}": b for c, b in stage_weight_bytes(stage, scheme).items() if b},
            "KV cache": kv_need,
            "activation peak": overhead["activation_bytes"].value,
            "non-torch": overhead["non_torch_bytes"].value,
        },
        answers=answers,
        fits=fits,
        rules=list(TP_RULES),
        assumptions=_serving_assumptions(hw, req),
        binding_stage=stage.index,
    )
    if req.context > spec.max_position_embeddings:
        plan.assumptions.insert(
            0,
            f"--context {req.context:,} exceeds the model's max_position_embeddings "
            f"({spec.max_position_embeddings:,}); vLLM refuses it unless told otherwise",
        )
    if not fits:
        plan.suggestions = _serving_suggestions(spec, hw, par, req, total - budget, answers)
    return plan


def _serving_answers(
    spec: ArchBase, hw: Hardware, par: Parallel, req: ServeRequest, stage: Stage, room: float, per_token: float
) -> dict[str, Term | None]:
    blocks = max(0, math.floor(room / (VLLM_BLOCK_SIZE * per_token))) if per_token else 0
    capacity = blocks * VLLM_BLOCK_SIZE
    max_batch = _largest(lambda b: _kv_for(spec, stage, req.context, b, req.kv_dtype) <= room, 1 << 20)
    limit = spec.max_position_embeddings
    memory_context = _largest(lambda c: c > 0 and _kv_for(spec, stage, c, req.batch, req.kv_dtype) <= room, 1 << 26)
    max_context = min(memory_context, limit)
    needed = gpus_needed_serving(spec, hw, par, req)
    return {
        "kv_capacity_tokens": Term(
            "kv_capacity_tokens",
            "KV cache capacity (vLLM's 'GPU KV cache size')",
            capacity,
            "⌊(budget − weights − activation peak − non-torch) / (16 × KV bytes per token)⌋ × 16",
            f"⌊{_g(room)} / (16 × {_n(per_token)} B)⌋ × 16 = {capacity:,} tokens",
            "tokens",
        ),
        "max_context": Term(
            "max_context",
            f"longest context at batch {req.batch}",
            max_context,
            "largest c with batch × KV(c) ≤ KV room, at most max_position_embeddings",
            f"memory allows {memory_context:,}, the model {limit:,}: "
            + ("limited by memory" if memory_context < limit else "limited by the model"),
            "tokens",
        ),
        "max_batch": Term(
            "max_batch",
            f"most concurrent sequences at {req.context:,} tokens",
            max_batch,
            "⌊KV room / KV(context)⌋",
            f"⌊{_g(room)} / {_g(_kv_for(spec, stage, req.context, 1, req.kv_dtype))}⌋ = {max_batch:,}",
            "count",
        ),
        "gpus_needed": needed,
    }


def _candidate_layouts(spec: ArchBase, par: Parallel) -> list[Parallel]:
    """Layouts to try for 'fewest GPUs': tp = 1, 2, 4, 8 within a node, then pipeline stages of 8."""
    out = []
    for tp in (1, 2, 4, 8):
        out.append(Parallel(tp=tp, pp=1, ep=par.ep))
    for pp in (2, 3, 4, 6, 8, 12, 16):
        out.append(Parallel(tp=8, pp=pp, ep=par.ep))
    valid = []
    for cand in out:
        try:
            check_parallel(spec, cand)
        except ModelkinError:
            continue
        valid.append(cand)
    return valid


def fewest_gpus_serving(spec: ArchBase, hw: Hardware, par: Parallel, req: ServeRequest) -> Parallel | None:
    """The smallest layout (tp ≤ 8 within a node, then pipeline stages of 8) where every GPU fits."""
    for cand in _candidate_layouts(spec, par):
        if plan_fits_serving(spec, hw, cand, req):
            return cand
    return None


def gpus_needed_serving(spec: ArchBase, hw: Hardware, par: Parallel, req: ServeRequest) -> Term | None:
    cand = fewest_gpus_serving(spec, hw, par, req)
    if cand is None:
        return None
    return Term(
        "gpus_needed",
        f"fewest {hw.name} GPUs for {req.context:,} × {req.batch}",
        cand.gpus,
        "smallest tp·pp (tp ≤ 8 within a node, then pipeline stages of 8) where every GPU fits",
        f"tp={cand.tp}, pp={cand.pp} → {cand.gpus} GPU{'s' if cand.gpus > 1 else ''}",
        "count",
    )


def _serving_assumptions(hw: Hardware, req: ServeRequest) -> list[str]:
    tokens, seqs = LARGE_GPU_DEFAULTS if hw.large else SMALL_GPU_DEFAULTS
    return [
        f"runtime: vLLM V1 with gpu_memory_utilization {req.utilization:g}, block size {VLLM_BLOCK_SIZE}, "
        f"max_num_batched_tokens {req.max_batched_tokens or tokens} and max_num_seqs {req.max_num_seqs or seqs} "
        f"(vLLM's defaults for a {'≥ 70 GiB non-A100' if hw.large else 'smaller or A100'} GPU)",
        "overhead = the activation peak of vLLM's profiling run (the larger of the sampler's fp32 logits for "
        "max_num_seqs sequences and one layer's largest tensors for max_num_batched_tokens) + memory outside "
        "PyTorch (cuBLAS; NCCL with tp > 1); CUDA graphs are captured afterwards in the (1 − utilisation) "
        "margin, as is the CUDA context",
        "a sequence holds whole blocks of 16 tokens; sliding-window layers stop growing at their window "
        "(accounting's spans)",
    ]


def _serving_suggestions(
    spec: ArchBase, hw: Hardware, par: Parallel, req: ServeRequest, short: float, answers: dict[str, Term | None]
) -> list[str]:
    out = [f"short by {_g(short)} per GPU"]
    needed = answers.get("gpus_needed")
    if needed is not None and needed.value > par.tp * par.pp:
        out.append(f"more GPUs: {needed.substituted}")
    for dtype in ("fp8", "int4") if KV_WIDTH[req.kv_dtype] > 1 else ():
        trial = ServeRequest(**{**req.__dict__, "kv_dtype": dtype})
        if plan_fits_serving(spec, hw, par, trial):
            out.append(f"a smaller KV dtype: --kv-dtype {dtype} fits")
            break
    for scheme in ("fp8", "int4"):
        if weight_scheme(scheme).linear < weight_scheme(req.weights).linear:
            trial = ServeRequest(**{**req.__dict__, "weights": scheme})
            if plan_fits_serving(spec, hw, par, trial):
                out.append(f"smaller weights: --weights {scheme} fits")
                break
    ctx = answers["max_context"]
    if ctx is not None and ctx.value > 0:
        out.append(f"a shorter context: up to {int(ctx.value):,} tokens at batch {req.batch}")
    elif ctx is not None:
        out.append("no context fits: the weights and overhead alone exceed the budget")
    batch = answers["max_batch"]
    if req.batch > 1 and batch is not None and batch.value > 0:
        out.append(f"a smaller batch: up to {int(batch.value):,} sequences of {req.context:,} tokens")
    return out


def plan_fits_serving(spec: ArchBase, hw: Hardware, par: Parallel, req: ServeRequest) -> bool:
    scheme = weight_scheme(req.weights)
    budget = req.utilization * hw.memory_bytes
    overhead = sum(t.value for t in serving_overhead(spec, hw, par, req).values())
    return all(
        sum(stage_weight_bytes(s, scheme).values()) + _kv_for(spec, s, req.context, req.batch, req.kv_dtype) + overhead
        <= budget
        for s in split_model(spec, par)
    )


def memory_vs_context(
    spec: ArchBase, hw: Hardware, par: Parallel, req: ServeRequest, contexts: list[int] | None = None
) -> dict[str, Any]:
    """Per-GPU memory of the binding stage against context (the plot): weights, overhead, KV, total.

    Contexts default to 24 points from 1k to the model's limit, evenly spaced on a log scale."""
    scheme = weight_scheme(req.weights)
    budget = req.utilization * hw.memory_bytes
    overhead = sum(t.value for t in serving_overhead(spec, hw, par, req).values())
    stage = _binding_stage(split_model(spec, par), scheme, budget - overhead)
    if contexts is None:
        top, points = max(spec.max_position_embeddings, req.context), 24
        contexts = sorted({round(1024 * (top / 1024) ** (k / (points - 1))) for k in range(points)})
    weights = sum(stage_weight_bytes(stage, scheme).values())
    kv = [_kv_for(spec, stage, x, req.batch, req.kv_dtype) for x in contexts]
    return {
        "context": contexts,
        "weights": [weights] * len(contexts),
        "overhead": [overhead] * len(contexts),
        "kv": kv,
        "total": [weights + overhead + k for k in kv],
        "budget": budget,
    }


def _binding_stage(stages: list[Stage], scheme: WeightScheme, room: float) -> Stage:
    """The pipeline stage with the least KV room per byte of KV it must hold (all stages alike when pp = 1)."""
    return min(stages, key=lambda s: (room - sum(stage_weight_bytes(s, scheme).values())) / s.kv_fraction)


# --- fine-tuning -------------------------------------------------------------------------


@dataclass
class FinetuneRequest:
    method: Literal["full", "lora", "qlora"] = "full"
    zero: int = 0
    context: int = DEFAULT_FINETUNE_CONTEXT
    batch: int = 1  # micro-batch per GPU
    recompute: Literal["none", "selective", "full"] | None = None
    lora_rank: int = DEFAULT_LORA_RANK
    lora_modules: tuple[str, ...] = LORA_MODULES
    sequence_parallel: bool = False
    attention: Literal["sdpa", "eager"] = "sdpa"

    @property
    def recompute_mode(self) -> str:
        # peft's prepare_model_for_kbit_training turns gradient checkpointing on by default.
        return self.recompute or ("full" if self.method == "qlora" else "none")


def zero_model_states(params: float, dp: int, stage: int) -> dict[str, float]:
    """Bytes per GPU of weights, gradients and Adam states (Rajbhandari et al. 2020, Fig. 1).

    Stage 1 shards the optimizer states, stage 2 also the gradients, stage 3 also the weights.
    """
    w, g, k = (ADAM_BYTES[x] * params for x in ("weights", "gradients", "optimizer"))
    return {
        "weights": w / dp if stage >= 3 else w,
        "gradients": g / dp if stage >= 2 else g,
        "optimizer": k / dp if stage >= 1 else k,
    }


@dataclass(frozen=True)
class LayerShape:
    """What Korthikanti et al.'s activation count needs of a layer."""

    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    gated: bool
    dropout: bool = False

    @classmethod
    def gpt(cls, hidden: int, heads: int) -> LayerShape:
        """The paper's transformer: MHA, a 4h GeLU MLP, dropout after attention and MLP."""
        return cls(hidden, heads, heads, hidden // heads, 4 * hidden, gated=False, dropout=True)

    @classmethod
    def of(cls, spec: ArchBase) -> LayerShape:
        att = spec.attention
        return cls(
            spec.hidden_size, att.num_heads, att.num_kv_heads, att.head_dim, spec.mlp.intermediate_size, spec.mlp.gated
        )


def activation_terms(
    shape: LayerShape,
    seq: int,
    tp: int = 1,
    sequence_parallel: bool = False,
    recompute: str = "none",
    scores_stored: bool = True,
) -> dict[str, float]:
    """Bytes one layer stores for backward, per token (16-bit activations, 1-byte dropout masks).

    Korthikanti et al. 2022 §4.1 count, for their GPT: attention 11sbh + 5as²b, MLP 19sbh, the two
    layer norms 4sbh — 34sbh + 5as²b. Term by term here, with the query/KV widths and the MLP
    width of this model:
      replicated over tp unless sequence parallel: the two norm inputs (2h each), the QKV input (2h),
        the MLP input (2h), the dropout masks after attention and MLP (h each, only with dropout);
      split over tp: Q (2·heads·d), K and V (2·kv_heads·d each), the attention output fed to the
        output projection (2·heads·d); the MLP's non-linearity input and output (2i each), or for a
        gated MLP the gate output, up output, activated gate and their product (2i each);
      scores (heads·s per token): softmax output 2·a·s, dropout mask a·s and dropout output 2·a·s —
        none of it when FlashAttention/SDPA recompute the scores (then only its fp32 log-sum-exp, 4·a).
    Selective recomputation (their §4.3) drops the score terms; full recomputation keeps the layer
    input only (2h, split with sequence parallelism).
    """
    h, a, d = shape.hidden, shape.heads, shape.head_dim
    kv_per_gpu = max(1, shape.kv_heads // tp)  # one KV head per GPU once tp exceeds the KV heads
    rep = tp if sequence_parallel else 1  # replicated terms are divided by tp only with SP
    if recompute == "full":
        return {"layer input": 2 * h / (tp if sequence_parallel else 1)}
    masks = 2 * h if shape.dropout else 0
    terms = {
        "norm inputs": 4 * h / rep,
        "QKV input": 2 * h / rep,
        "MLP input": 2 * h / rep,
        "dropout masks": masks / rep,
        "Q, K, V": 2 * a * d / tp + 4 * kv_per_gpu * d,
        "attention output": 2 * a * d / tp,
        "MLP inner": (8 if shape.gated else 4) * shape.intermediate / tp,
    }
    if recompute == "selective" or not scores_stored:
        terms["scores"] = 0 if recompute == "selective" else 4 * a / tp
    else:
        terms["scores"] = (5 if shape.dropout else 2) * a * seq / tp
    return terms


def lora_params(spec: ArchBase, rank: int, modules: tuple[str, ...]) -> int:
    """Trainable parameters of rank-r adapters A (r × in) and B (out × r) on the given modules, every layer."""
    att, h, i = spec.attention, spec.hidden_size, spec.mlp.intermediate_size
    q_out, kv_out = att.num_heads * att.head_dim, att.num_kv_heads * att.head_dim
    dims = {"q": (h, q_out), "k": (h, kv_out), "v": (h, kv_out), "o": (q_out, h), "up": (h, i), "down": (i, h)}
    if spec.mlp.gated:
        dims["gate"] = (h, i)
    per_layer = sum(rank * (dims[m][0] + dims[m][1]) for m in modules if m in dims)
    return per_layer * spec.num_layers


def _finetune_states(spec: ArchBase, par: Parallel, req: FinetuneRequest) -> tuple[dict[str, float], float, Stage, str]:
    """Model states on the most loaded GPU, trainable parameters there, that stage, and the substitution."""
    stages = split_model(spec, par)
    stage = max(stages, key=lambda s: sum(s.params.values()))
    dp, z = par.dp, req.zero
    if req.method == "full":
        trainable = sum(stage.params.values())
        states = zero_model_states(trainable, dp, z)
        subst = (
            f"Ψ = {_n(trainable)}, N_d = {dp}, stage {z}: weights {_g(states['weights'])} + gradients "
            f"{_g(states['gradients'])} + optimizer {_g(states['optimizer'])}"
        )
        return states, trainable, stage, subst
    scheme = weight_scheme("nf4" if req.method == "qlora" else "bf16")
    base = sum(stage_weight_bytes(stage, scheme).values())
    trainable = lora_params(spec, req.lora_rank, req.lora_modules) / par.tp * len(stage.layers) / spec.num_layers
    adapter = zero_model_states(trainable, dp, z)
    states = {
        "frozen base": base / dp if z >= 3 else base,
        "adapter weights": adapter["weights"],
        "adapter gradients": adapter["gradients"],
        "adapter optimizer": adapter["optimizer"],
    }
    subst = (
        f"base {_g(base)} ({scheme.note}); adapters r={req.lora_rank} on {','.join(req.lora_modules)}: "
        f"{_n(trainable)} params × 16 B = {_g(16 * trainable)}, N_d = {dp}, stage {z}"
    )
    return states, trainable, stage, subst


def finetune_total(spec: ArchBase, par: Parallel, req: FinetuneRequest) -> float:
    states, _, stage, _ = _finetune_states(spec, par, req)
    acts = finetune_activations(spec, par, req, req.context, req.batch, len(stage.layers))[0]
    return sum(states.values()) + acts + CUDA_CONTEXT


def plan_finetune(spec: ArchBase, hw: Hardware, par: Parallel, req: FinetuneRequest) -> Plan:
    check_parallel(spec, par)
    if req.zero not in (0, 1, 2, 3):
        raise ModelkinError("--zero", f"ZeRO stage must be 0, 1, 2 or 3, not {req.zero}")
    unknown = [m for m in req.lora_modules if m not in LORA_MODULES]
    if unknown:
        raise ModelkinError("--lora-modules", f"unknown module {unknown[0]!r} (choose from {', '.join(LORA_MODULES)})")
    states, trainable, stage, subst = _finetune_states(spec, par, req)
    states_total = sum(states.values())
    if req.method == "full":
        formula = "16 B × Ψ: 2Ψ weights + 2Ψ gradients + 12Ψ optimizer; ZeRO-1 divides the 12Ψ by N_d, ZeRO-2 also the gradients, ZeRO-3 also the weights"
    else:
        formula = "frozen base + 16 B × adapter params (r·(in+out) per target module and layer), ZeRO-sharded like full"
    acts, act_subst = finetune_activations(spec, par, req, req.context, req.batch, len(stage.layers))
    total = states_total + acts + CUDA_CONTEXT
    budget = hw.memory_bytes
    weights_on_gpu = states.get("weights", 0) + states.get("frozen base", 0) + states.get("adapter weights", 0)
    per_gpu = {
        "weights_bytes": Term(
            "weights_bytes",
            "weights on the GPU",
            weights_on_gpu,
            "the trained weights in bf16 (or the frozen base plus adapters), after ZeRO-3 sharding",
            _g(weights_on_gpu),
        ),
        "model_states_bytes": Term("model_states_bytes", "model states", states_total, formula, subst),
        "activation_bytes": Term(
            "activation_bytes",
            f"activations ({req.recompute_mode} recomputation)",
            acts,
            "(layers × per-layer bytes per token [Korthikanti et al. 2022] + 6·v/tp [logits]) × s × b",
            act_subst,
        ),
        "overhead_bytes": Term(
            "overhead_bytes",
            "CUDA context",
            CUDA_CONTEXT,
            "the process's CUDA context (vLLM measures 0.51 GiB)",
            _g(CUDA_CONTEXT),
        ),
        "total_bytes": Term(
            "total_bytes",
            "total per GPU",
            total,
            "model states + activations + CUDA context",
            f"{_g(states_total)} + {_g(acts)} + {_g(CUDA_CONTEXT)} = {_g(total)}",
        ),
        "budget_bytes": Term("budget_bytes", "GPU memory", budget, "the GPU's memory", _g(budget)),
        "kv_bytes_per_token": Term(
            "kv_bytes_per_token",
            "KV cache per token when generating (bf16; not part of training)",
            kv_bytes_per_token(spec, "bf16") * stage.kv_fraction,
            "2 (K,V) × layers_on_gpu × kv_heads_per_gpu × head_dim × 2 B",
            f"{_n(kv_bytes_per_token(spec, 'bf16') * stage.kv_fraction)} B",
        ),
    }
    room = budget - states_total - CUDA_CONTEXT

    def act(ctx: int, b: int) -> float:
        return finetune_activations(spec, par, req, ctx, b, len(stage.layers))[0]

    max_batch = _largest(lambda b: b > 0 and act(req.context, b) <= room, 1 << 16)
    max_context = _largest(lambda c: c > 0 and act(c, req.batch) <= room, 1 << 24)
    answers: dict[str, Term | None] = {
        "trainable_params": Term(
            "trainable_params",
            "trainable parameters (per tensor-parallel rank)",
            trainable,
            "",
            _n(trainable),
            "params",
        ),
        "max_context": Term(
            "max_context",
            f"longest sequence at micro-batch {req.batch}",
            max_context,
            "largest s with activations(s, b) ≤ GPU memory − model states − CUDA context",
            f"{max_context:,} tokens",
            "tokens",
        ),
        "max_batch": Term(
            "max_batch",
            f"largest micro-batch at {req.context:,} tokens",
            max_batch,
            "largest b with activations(s, b) ≤ GPU memory − model states − CUDA context",
            f"{max_batch:,}",
            "count",
        ),
        "gpus_needed": _gpus_needed_finetune(spec, hw, par, req),
    }
    plan = Plan(
        mode="finetune",
        hardware=hw,
        parallel=par,
        settings={
            "method": req.method,
            "zero": req.zero,
            "context": req.context,
            "batch": req.batch,
            "recompute": req.recompute_mode,
            "attention": req.attention,
            "sequence_parallel": req.sequence_parallel,
            **({"lora_rank": req.lora_rank, "lora_modules": list(req.lora_modules)} if req.method != "full" else {}),
        },
        per_gpu=per_gpu,
        breakdown={**states, "activations": acts, "CUDA context": CUDA_CONTEXT},
        answers=answers,
        fits=total <= budget,
        rules=list(TP_RULES),
        assumptions=_finetune_assumptions(req),
        binding_stage=stage.index,
    )
    if not plan.fits:
        plan.suggestions = _finetune_suggestions(spec, hw, par, req, total - budget, answers)
    return plan


def finetune_activations(
    spec: ArchBase, par: Parallel, req: FinetuneRequest, context: int, batch: int, layers: int
) -> tuple[float, str]:
    shape = LayerShape.of(spec)
    terms = activation_terms(
        shape,
        context,
        par.tp,
        req.sequence_parallel,
        req.recompute_mode,
        scores_stored=req.attention == "eager",
    )
    per_token_layer = sum(terms.values())
    lora = 2 * req.lora_rank * len(req.lora_modules) / par.tp if req.method != "full" else 0
    if req.recompute_mode != "full":
        # Each adapter also keeps A·x (r values, 2 B each) for B's backward.
        per_token_layer += lora
        in_flight = 0.0
    else:
        # Backward recomputes one layer at a time: its full set is alive next to the checkpoints.
        full = activation_terms(
            shape, context, par.tp, req.sequence_parallel, "none", scores_stored=req.attention == "eager"
        )
        in_flight = sum(full.values()) + lora
    # Under 1F1B the first stage holds pp micro-batches of its L/pp layers: L layers' worth (their §4.2.3).
    layers_held = spec.num_layers if par.pp > 1 else layers
    logits = 6 * spec.vocab_size / par.tp  # bf16 logits + the fp32 copy transformers' loss makes
    total = (layers_held * per_token_layer + in_flight + logits) * context * batch
    recomputed = f" + {_n(in_flight)} B [the layer being recomputed]" if in_flight else ""
    subst = (
        f"({layers_held} × {_n(per_token_layer)} B{recomputed} + 6 × {spec.vocab_size}/{par.tp} B [logits]) "
        f"× {context:,} × {batch} = {_g(total)}"
    )
    return total, subst


def _gpus_needed_finetune(spec: ArchBase, hw: Hardware, par: Parallel, req: FinetuneRequest) -> Term | None:
    """Fewest GPUs (more data-parallel ranks at the same tp and pp) at which the ZeRO stage fits.

    Without ZeRO every data-parallel rank holds everything: more GPUs do not help.
    """
    for dp in (1,) if req.zero == 0 else tuple(2**k for k in range(13)):
        cand = Parallel(tp=par.tp, pp=par.pp, ep=par.ep, dp=dp)
        if finetune_total(spec, cand, req) <= hw.memory_bytes:
            return Term(
                "gpus_needed",
                f"fewest {hw.name} GPUs (ZeRO-{req.zero})",
                cand.gpus,
                "smallest tp·pp·N_d (N_d a power of two) where model states + activations fit",
                f"tp={cand.tp}, pp={cand.pp}, N_d={dp} → {cand.gpus} GPU{'s' if cand.gpus > 1 else ''}",
                "count",
            )
    return None


def _finetune_assumptions(req: FinetuneRequest) -> list[str]:
    out = [
        "AdamW in mixed precision: bf16 weights (2 B) and gradients (2 B), fp32 master weights, "
        "momentum and variance (12 B) per trained parameter (Rajbhandari et al. 2020: K = 12)",
        "activations in bf16 per Korthikanti et al. 2022, adapted: GQA's narrower K/V, a gated MLP's four "
        "i-wide tensors, no dropout (these families train with attention_dropout 0)",
        "attention scores: "
        + (
            "stored (eager attention), a·s per token per layer"
            if req.attention == "eager"
            else "not stored (FlashAttention/SDPA recompute them; only the fp32 log-sum-exp is kept)"
        ),
        "logits: bf16 plus the fp32 copy transformers' causal-LM loss makes (6 B per vocabulary entry per token)",
        "not counted: allocator fragmentation, communication buckets, temporary buffers of the optimizer step",
    ]
    if req.method == "qlora":
        out.append(
            "QLoRA: linear layers NF4 with double quantisation (4.127 bits, Dettmers et al. 2023), embedding, "
            "head and norms bf16; gradient checkpointing on (peft's prepare_model_for_kbit_training default)"
        )
    if req.method != "full":
        out.append("LoRA adapters trained in fp32 with Adam: 4 + 4 + 8 = 16 B per adapter parameter")
    return out


def _finetune_suggestions(
    spec: ArchBase, hw: Hardware, par: Parallel, req: FinetuneRequest, short: float, answers: dict[str, Term | None]
) -> list[str]:
    out = [f"short by {_g(short)} per GPU"]
    needed = answers.get("gpus_needed")
    if needed is not None and needed.value > par.gpus:
        out.append(f"more GPUs: {needed.substituted}")
    for z in range(req.zero + 1, 4):
        trial = FinetuneRequest(**{**req.__dict__, "zero": z})
        needed_z = _gpus_needed_finetune(spec, hw, par, trial)
        if needed_z is not None:
            out.append(f"ZeRO stage {z}: {needed_z.substituted}")
            break
    if req.recompute_mode != "full":
        trial = FinetuneRequest(**{**req.__dict__, "recompute": "full"})
        if finetune_total(spec, par, trial) <= hw.memory_bytes:
            out.append("full activation recomputation (--recompute full) fits")
    for method in ("lora", "qlora"):
        if method != req.method and (req.method == "full" or method == "qlora"):
            trial = FinetuneRequest(**{**req.__dict__, "method": method, "recompute": req.recompute})
            if finetune_total(spec, par, trial) <= hw.memory_bytes:
                out.append(f"--finetune {method} fits")
                break
    ctx = answers["max_context"]
    if ctx is not None and ctx.value > 0:
        out.append(f"shorter sequences: up to {int(ctx.value):,} tokens at micro-batch {req.batch}")
    return out


def plan_json(plan: Plan, model: dict[str, Any]) -> dict[str, Any]:
    """The plan as JSON: every term with its formula, the required keys flat under per_gpu."""
    per_gpu: dict[str, Any] = {k: t.value for k, t in plan.per_gpu.items()}
    per_gpu["breakdown"] = plan.breakdown
    per_gpu["terms"] = {k: t.json() for k, t in plan.per_gpu.items()}
    out: dict[str, Any] = {
        "model": model,
        "mode": plan.mode,
        "hardware": {
            "gpu": plan.hardware.name,
            "memory_bytes": plan.hardware.memory_bytes,
            "source": plan.hardware.source,
            "gpus": plan.parallel.gpus,
        },
        "parallel": plan.parallel.__dict__,
        "settings": plan.settings,
        "per_gpu": per_gpu,
        "fits": plan.fits,
    }
    for key, term in plan.answers.items():
        out[key] = None if term is None else term.value
    out["answers"] = {k: (None if t is None else t.json()) for k, t in plan.answers.items()}
    out["short_by_bytes"] = max(0.0, plan.per_gpu["total_bytes"].value - plan.per_gpu["budget_bytes"].value)
    out["suggestions"] = plan.suggestions
    out["rules"] = plan.rules
    out["assumptions"] = plan.assumptions
    return out


__all__ = [
    "DEFAULT_UTILIZATION",
    "FinetuneRequest",
    "Hardware",
    "LayerShape",
    "Parallel",
    "Plan",
    "ServeRequest",
    "activation_terms",
    "check_parallel",
    "lora_params",
    "memory_vs_context",
    "params_by_component",
    "params_total",
    "plan_finetune",
    "plan_json",
    "plan_serving",
    "zero_model_states",
]
