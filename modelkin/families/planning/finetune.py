"""Fine-tuning memory: AdamW model states under ZeRO (Rajbhandari et al. 2020), activations per
Korthikanti et al. 2022 adapted to GQA and gated MLPs, LoRA and QLoRA."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...errors import ModelkinError
from ..spec import ArchSpec
from .dtypes import kv_bytes_per_token, weight_scheme
from .parallel import TP_RULES, Parallel, Stage, check_parallel, split_model, stage_weight_bytes
from .terms import GIB, Hardware, Plan, Term, fmt_gib, fmt_num, largest

# Fine-tuning: the CUDA context a process holds before any tensor (vLLM measures 0.51 GiB on H100).
CUDA_CONTEXT = 0.5 * GIB

ADAM_BYTES = {"weights": 2, "gradients": 2, "optimizer": 12}  # Rajbhandari et al. 2020 §3.1: K = 12

DEFAULT_FINETUNE_CONTEXT = 2048

DEFAULT_LORA_RANK = 16

LORA_MODULES = ("q", "k", "v", "o", "gate", "up", "down")


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
    """What Korthikanti et al.'s activation count needs of a layer, and how the implementation stores it.

    `norm_bytes`: bytes per hidden value a norm keeps for backward — 2 (its bf16 input) in the paper's
    fused kernels; 6 in transformers, whose RMSNorm upcasts its input to fp32 (4) and keeps the bf16
    normalised value for the weight's gradient (2). `score_bytes`: bytes per attention score eager
    attention keeps — 2 in the paper; 6 in transformers (the fp32 softmax output and its bf16 copy).
    `eager_repeats_kv`: transformers' eager attention expands K and V to every query head before the
    matmuls keep them, so GQA saves nothing there.
    """

    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    gated: bool
    dropout: bool = False
    norm_bytes: int = 6
    score_bytes: int = 6
    eager_repeats_kv: bool = True  # transformers' eager attention multiplies K and V by repeat_kv first

    @classmethod
    def gpt(cls, hidden: int, heads: int) -> LayerShape:
        """The paper's transformer: MHA, a 4h GeLU MLP, dropout after attention and MLP, 16-bit norms."""
        return cls(
            hidden,
            heads,
            heads,
            hidden // heads,
            4 * hidden,
            gated=False,
            dropout=True,
            norm_bytes=2,
            score_bytes=2,
            eager_repeats_kv=False,
        )

    @classmethod
    def of(cls, spec: ArchSpec) -> LayerShape:
        """The model's layer; for mixture-of-experts layers the experts a token passes through (its
        top-k plus the shared expert) store what one gated MLP of their summed width would. With dense
        and MoE layers mixed, the wider of the two (an upper bound)."""
        att = spec.attention
        width, gated = spec.mlp.intermediate_size, spec.mlp.gated
        moe = getattr(spec, "moe", None)
        if moe is not None:
            routed = moe.experts_per_token * moe.intermediate_size
            routed += moe.shared_expert.intermediate_size if moe.shared_expert is not None else 0
            dense_layers = "dense" in spec.mlp_kinds() if hasattr(spec, "mlp_kinds") else False
            width, gated = max(routed, width if dense_layers else 0), True
        return cls(spec.hidden_size, att.num_heads, att.num_kv_heads, att.head_dim, width, gated)


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
      replicated over tp unless sequence parallel: the two norms (2h each in the paper; see
        `LayerShape.norm_bytes`), the QKV input (2h),
        the MLP input (2h), the dropout masks after attention and MLP (h each, only with dropout);
      split over tp: Q (2·heads·d), K and V (2·kv_heads·d each), the attention output fed to the
        output projection (2·heads·d); the MLP's non-linearity input and output (2i each), or for a
        gated MLP the gate output, up output, activated gate and their product (2i each);
      scores (heads·s per token): softmax output 2·a·s (`score_bytes`), dropout mask a·s and dropout
        output 2·a·s —
        none of it when FlashAttention/SDPA recompute the scores (then only its fp32 log-sum-exp, 4·a).
    Selective recomputation (their §4.3) drops the score terms; full recomputation keeps the layer
    input only (2h, split with sequence parallelism).
    """
    h, a, d = shape.hidden, shape.heads, shape.head_dim
    kv_per_gpu = max(1, shape.kv_heads // tp)  # one KV head per GPU once tp exceeds the KV heads
    if scores_stored and recompute != "selective" and shape.eager_repeats_kv:
        kv_per_gpu = a // tp  # K and V kept after repeat_kv, one copy per query head
    rep = tp if sequence_parallel else 1  # replicated terms are divided by tp only with SP
    if recompute == "full":
        return {"layer input": 2 * h / (tp if sequence_parallel else 1)}
    masks = 2 * h if shape.dropout else 0
    terms = {
        "norm inputs": 2 * shape.norm_bytes * h / rep,
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
        # softmax output, plus the dropout mask (1 B) and dropout output (2 B) with dropout
        terms["scores"] = (shape.score_bytes + (3 if shape.dropout else 0)) * a * seq / tp
    return terms


def lora_params(spec: ArchSpec, rank: int, modules: tuple[str, ...]) -> int:
    """Trainable parameters of rank-r adapters A (r × in) and B (out × r) on the given modules, every layer."""
    att, h, i = spec.attention, spec.hidden_size, spec.mlp.intermediate_size
    q_out, kv_out = att.num_heads * att.head_dim, att.num_kv_heads * att.head_dim
    dims = {"q": (h, q_out), "k": (h, kv_out), "v": (h, kv_out), "o": (q_out, h), "up": (h, i), "down": (i, h)}
    if spec.mlp.gated:
        dims["gate"] = (h, i)
    per_layer = sum(rank * (dims[m][0] + dims[m][1]) for m in modules if m in dims)
    return per_layer * spec.num_layers


def _finetune_states(spec: ArchSpec, par: Parallel, req: FinetuneRequest) -> tuple[dict[str, float], float, Stage, str]:
    """Model states on the most loaded GPU, trainable parameters there, that stage, and the substitution."""
    stages = split_model(spec, par)
    stage = max(stages, key=lambda s: sum(s.params.values()))
    dp, z = par.dp, req.zero
    if req.method == "full":
        trainable = sum(stage.params.values())
        states = zero_model_states(trainable, dp, z)
        subst = (
            f"Ψ = {fmt_num(trainable)}, N_d = {dp}, stage {z}: weights {fmt_gib(states['weights'])} + gradients "
            f"{fmt_gib(states['gradients'])} + optimizer {fmt_gib(states['optimizer'])}"
        )
        return states, trainable, stage, subst
    scheme = weight_scheme("bnb-nf4-dq" if req.method == "qlora" else "bf16", spec)
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
        f"base {fmt_gib(base)} ({scheme.note}); adapters r={req.lora_rank} on {','.join(req.lora_modules)}: "
        f"{fmt_num(trainable)} params × 16 B = {fmt_gib(16 * trainable)}, N_d = {dp}, stage {z}"
    )
    return states, trainable, stage, subst


def finetune_total(spec: ArchSpec, par: Parallel, req: FinetuneRequest) -> float:
    states, _, stage, _ = _finetune_states(spec, par, req)
    acts = finetune_activations(spec, par, req, req.context, req.batch, len(stage.layers))[0]
    return sum(states.values()) + acts + CUDA_CONTEXT


def plan_finetune(spec: ArchSpec, hw: Hardware, par: Parallel, req: FinetuneRequest) -> Plan:
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
            fmt_gib(weights_on_gpu),
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
            fmt_gib(CUDA_CONTEXT),
        ),
        "total_bytes": Term(
            "total_bytes",
            "total per GPU",
            total,
            "model states + activations + CUDA context",
            f"{fmt_gib(states_total)} + {fmt_gib(acts)} + {fmt_gib(CUDA_CONTEXT)} = {fmt_gib(total)}",
        ),
        "budget_bytes": Term("budget_bytes", "GPU memory", budget, "the GPU's memory", fmt_gib(budget)),
        "kv_bytes_per_token": Term(
            "kv_bytes_per_token",
            "KV cache per token when generating (bf16; not part of training)",
            kv_bytes_per_token(spec, "bf16") * stage.kv_fraction,
            "2 (K,V) × layers_on_gpu × kv_heads_per_gpu × head_dim × 2 B",
            f"{fmt_num(kv_bytes_per_token(spec, 'bf16') * stage.kv_fraction)} B",
        ),
    }
    room = budget - states_total - CUDA_CONTEXT

    def act(ctx: int, b: int) -> float:
        return finetune_activations(spec, par, req, ctx, b, len(stage.layers))[0]

    max_batch = largest(lambda b: b > 0 and act(req.context, b) <= room, 1 << 16)
    max_context = largest(lambda c: c > 0 and act(c, req.batch) <= room, 1 << 24)
    answers: dict[str, Term | None] = {
        "trainable_params": Term(
            "trainable_params",
            "trainable parameters (per tensor-parallel rank)",
            trainable,
            "",
            fmt_num(trainable),
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
    spec: ArchSpec, par: Parallel, req: FinetuneRequest, context: int, batch: int, layers: int
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
    # The bf16 logits the model returns (2 B) and the fp32 log-probabilities the loss keeps (4 B).
    logits = 6 * spec.vocab_size / par.tp
    total = (layers_held * per_token_layer + in_flight + logits) * context * batch
    recomputed = f" + {fmt_num(in_flight)} B [the layer being recomputed]" if in_flight else ""
    subst = (
        f"({layers_held} × {fmt_num(per_token_layer)} B{recomputed} + 6 × {spec.vocab_size}/{par.tp} B [logits]) "
        f"× {context:,} × {batch} = {fmt_gib(total)}"
    )
    return total, subst


def _gpus_needed_finetune(spec: ArchSpec, hw: Hardware, par: Parallel, req: FinetuneRequest) -> Term | None:
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
        "i-wide tensors, no dropout (these families train with attention_dropout 0), and what transformers "
        "keeps: 6 B per hidden value per RMSNorm (fp32 upcast + bf16 normalised value) where the paper's "
        "fused kernels keep 2 — measured on a transformers Llama with autograd's saved-tensor hooks",
        "attention scores: "
        + (
            "stored (eager attention: the fp32 softmax and its bf16 copy, 6·a·s B per token per layer)"
            if req.attention == "eager"
            else "not stored (FlashAttention/SDPA recompute them; only the fp32 log-sum-exp is kept)"
        ),
        "logits: the bf16 logits the model returns plus the fp32 log-probabilities its loss keeps "
        "(6 B per vocabulary entry per token)",
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
    spec: ArchSpec, hw: Hardware, par: Parallel, req: FinetuneRequest, short: float, answers: dict[str, Term | None]
) -> list[str]:
    out = [f"short by {fmt_gib(short)} per GPU"]
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
