"""Serving memory per GPU, following vLLM's arithmetic (vllm/v1/worker/gpu_worker.py, 0.19):

    KV budget = utilisation × GPU memory − weights − activation peak − non-torch memory
    GPU KV cache size (tokens) = ⌊KV budget / (block_size × KV bytes per token)⌋ × block_size

with the longest context at a batch, the most sequences at a context, the fewest GPUs that fit,
and what would fit when nothing does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...errors import ModelkinError
from ..spec import ArchSpec
from .dtypes import KV_WIDTH, WeightScheme, kv_bytes, kv_bytes_per_token, weight_scheme
from .parallel import TP_RULES, Parallel, Stage, check_parallel, kv_heads_per_gpu, split_model, stage_weight_bytes
from .terms import GIB, Hardware, Plan, Term, fmt_gib, fmt_num, largest

DEFAULT_UTILIZATION = 0.9  # vLLM's gpu_memory_utilization default

VLLM_BLOCK_SIZE = 16  # tokens per KV block (vLLM's default block_size for CUDA)

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


@dataclass
class ServeRequest:
    context: int
    batch: int = 1
    weights: str | WeightScheme = "bf16"  # a name of WEIGHT_SCHEMES, or a measured scheme (a GGUF's own mix)
    kv_dtype: str = "bf16"
    utilization: float = DEFAULT_UTILIZATION
    max_num_seqs: int | None = None
    max_batched_tokens: int | None = None


def _weights_terms(stage: Stage, scheme: WeightScheme) -> Term:
    by = stage_weight_bytes(stage, scheme)
    total = sum(by.values())
    parts = " + ".join(
        f"{c} {fmt_num(stage.params[c])} × {round(by[c] / stage.params[c], 4):g} B" for c in by if stage.params[c]
    )
    return Term(
        "weights_bytes",
        f"weights ({scheme.name})",
        total,
        "Σ over components: parameters on this GPU (after the TP/PP rules) × bytes per parameter",
        f"{parts} = {fmt_gib(total)}",
    )


def serving_overhead(spec: ArchSpec, hw: Hardware, par: Parallel, req: ServeRequest) -> dict[str, Term]:
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
            f"max({seqs} × {spec.vocab_size} × 16 = {fmt_gib(sampler)}, {tokens} × (2·{gate_up}·{fmt_num(i_tp)} + "
            f"2·{fmt_num(i_tp)} + 8·{spec.hidden_size}) = {fmt_gib(forward)}) = {fmt_gib(peak)}",
        ),
        "non_torch_bytes": Term(
            "non_torch_bytes",
            "non-torch memory (cuBLAS" + (", NCCL, custom all-reduce)" if par.tp > 1 else ")"),
            non_torch,
            "0.25 GiB (tp = 1) or 2.1 GiB (tp > 1), as vLLM 0.19 measures on H100",
            fmt_gib(non_torch),
        ),
    }


def _kv_for(spec: ArchSpec, stage: Stage, context: int, batch: int, dtype: str) -> float:
    """KV bytes on one GPU of `stage` for `batch` sequences of `context` tokens, in whole blocks."""
    blocks = math.ceil(context / VLLM_BLOCK_SIZE) * VLLM_BLOCK_SIZE
    return kv_bytes(spec, blocks, batch, dtype) * stage.kv_fraction


def plan_serving(spec: ArchSpec, hw: Hardware, par: Parallel, req: ServeRequest) -> Plan:
    check_parallel(spec, par)
    scheme = weight_scheme(req.weights, spec)
    budget = req.utilization * hw.memory_bytes
    overhead = serving_overhead(spec, hw, par, req)
    overhead_bytes = sum(t.value for t in overhead.values())
    stages = split_model(spec, par)

    stage = _binding_stage(stages, scheme, budget - overhead_bytes)
    room = budget - sum(stage_weight_bytes(stage, scheme).values()) - overhead_bytes
    weights = _weights_terms(stage, scheme)
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
            f"2 × {layers_here} × {kvh} × {att.head_dim} × {width:g} = {fmt_num(per_token)} B"
            + ("" if kvh * par.tp == att.num_kv_heads else f" (KV heads replicated: tp {par.tp} > {att.num_kv_heads})"),
        ),
        "kv_bytes": Term(
            "kv_bytes",
            f"KV cache at {req.context:,} × {req.batch}",
            kv_need,
            "batch × Σ_layers span(layer, ⌈context/16⌉·16) × KV bytes per token per layer",
            f"{req.batch} × {fmt_num(kv_need / req.batch)} B = {fmt_gib(kv_need)}",
        ),
        **overhead,
        "total_bytes": Term(
            "total_bytes",
            "total per GPU",
            total,
            "weights + KV cache + activation peak + non-torch",
            f"{fmt_gib(weights.value)} + {fmt_gib(kv_need)} + {fmt_gib(overhead_bytes)} = {fmt_gib(total)}",
        ),
        "budget_bytes": Term(
            "budget_bytes",
            f"budget (utilisation {req.utilization:g})",
            budget,
            "gpu_memory_utilization × GPU memory",
            f"{req.utilization:g} × {fmt_gib(hw.memory_bytes)} = {fmt_gib(budget)}",
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
    spec: ArchSpec, hw: Hardware, par: Parallel, req: ServeRequest, stage: Stage, room: float, per_token: float
) -> dict[str, Term | None]:
    blocks = max(0, math.floor(room / (VLLM_BLOCK_SIZE * per_token))) if per_token else 0
    capacity = blocks * VLLM_BLOCK_SIZE
    max_batch = largest(lambda b: _kv_for(spec, stage, req.context, b, req.kv_dtype) <= room, 1 << 20)
    limit = spec.max_position_embeddings
    memory_context = largest(lambda c: c > 0 and _kv_for(spec, stage, c, req.batch, req.kv_dtype) <= room, 1 << 26)
    max_context = min(memory_context, limit)
    needed = gpus_needed_serving(spec, hw, par, req)
    return {
        "kv_capacity_tokens": Term(
            "kv_capacity_tokens",
            "KV cache capacity (vLLM's 'GPU KV cache size')",
            capacity,
            "⌊(budget − weights − activation peak − non-torch) / (16 × KV bytes per token)⌋ × 16",
            f"⌊{fmt_gib(room)} / (16 × {fmt_num(per_token)} B)⌋ × 16 = {capacity:,} tokens",
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
            f"⌊{fmt_gib(room)} / {fmt_gib(_kv_for(spec, stage, req.context, 1, req.kv_dtype))}⌋ = {max_batch:,}",
            "count",
        ),
        "gpus_needed": needed,
    }


def _candidate_layouts(spec: ArchSpec, par: Parallel) -> list[Parallel]:
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


def fewest_gpus_serving(spec: ArchSpec, hw: Hardware, par: Parallel, req: ServeRequest) -> Parallel | None:
    """The smallest layout (tp ≤ 8 within a node, then pipeline stages of 8) where every GPU fits."""
    for cand in _candidate_layouts(spec, par):
        if plan_fits_serving(spec, hw, cand, req):
            return cand
    return None


def gpus_needed_serving(spec: ArchSpec, hw: Hardware, par: Parallel, req: ServeRequest) -> Term | None:
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
    spec: ArchSpec, hw: Hardware, par: Parallel, req: ServeRequest, short: float, answers: dict[str, Term | None]
) -> list[str]:
    out = [f"short by {fmt_gib(short)} per GPU"]
    needed = answers.get("gpus_needed")
    if needed is not None and needed.value > par.tp * par.pp:
        out.append(f"more GPUs: {needed.substituted}")
    for dtype in ("fp8", "int4") if KV_WIDTH[req.kv_dtype] > 1 else ():
        trial = ServeRequest(**{**req.__dict__, "kv_dtype": dtype})
        if plan_fits_serving(spec, hw, par, trial):
            out.append(f"a smaller KV dtype: --kv-dtype {dtype} fits")
            break
    for scheme in ("fp8", "int4"):
        if weight_scheme(scheme, spec).linear < weight_scheme(req.weights, spec).linear:
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


def plan_fits_serving(spec: ArchSpec, hw: Hardware, par: Parallel, req: ServeRequest) -> bool:
    scheme = weight_scheme(req.weights, spec)
    budget = req.utilization * hw.memory_bytes
    overhead = sum(t.value for t in serving_overhead(spec, hw, par, req).values())
    return all(
        sum(stage_weight_bytes(s, scheme).values()) + _kv_for(spec, s, req.context, req.batch, req.kv_dtype) + overhead
        <= budget
        for s in split_model(spec, par)
    )


def memory_vs_context(
    spec: ArchSpec, hw: Hardware, par: Parallel, req: ServeRequest, contexts: list[int] | None = None
) -> dict[str, Any]:
    """Per-GPU memory of the binding stage against context (the plot): weights, overhead, KV, total.

    Contexts default to 24 points from 1k to the model's limit, evenly spaced on a log scale."""
    scheme = weight_scheme(req.weights, spec)
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
