"""`modelkin fit TARGET`: will it fit? Parsing, target and GPU resolution, and the three views.

The arithmetic is `families.planning` (pure Python); this module turns flags into its
requests and its `Plan` into a table, an `--explain` listing (every formula with the
model's numbers substituted) or JSON. `--plot FILE.svg` draws memory against context.
Light: no torch, no transformers (the plot is modelkin's own SVG).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..argtypes import memory_size, positive_int
from ..errors import ModelkinError
from ..units import count, nbytes

FORMATS = ("table", "markdown", "json")
DEFAULT_GPU = "H100"


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be in (0, 1]")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..families.planning import KV_DTYPES, LORA_MODULES, WEIGHT_SCHEMES

    p.description = (
        "Memory per GPU for serving (weights, KV cache, runtime overhead; longest context, most sequences, "
        "fewest GPUs) or fine-tuning (model states under ZeRO, activations, LoRA/QLoRA)."
    )
    from ..commands.helptext import examples
    from ..commands.model_arg import TARGET_HELP, add_refresh

    p.add_argument("target", metavar="MODEL", help=TARGET_HELP)
    add_refresh(p)
    examples(
        p,
        "modelkin fit llama-3.1-70b --gpu H100 --gpus 4 --tp 4 --context 128k --kv-dtype fp8",
        "modelkin fit qwen2.5-7b --gpu 'RTX 4090' --finetune qlora",
        "modelkin fit llama-3.1-8b --gpu-memory 24GiB --weights awq-4bit --explain",
        "modelkin fit qwen2.5-7b --gpu A100 --finetune full --zero 3 --gpus 8 --format json",
    )
    hw = p.add_argument_group("hardware")
    hw.add_argument("--gpu", help=f"accelerator name, e.g. H100, 'RTX 4090', MI300X (default {DEFAULT_GPU})")
    hw.add_argument("--gpu-memory", type=memory_size, help="memory per GPU instead of --gpu, e.g. 24GiB, 80GB")
    hw.add_argument("--gpus", type=positive_int, help="number of GPUs (default tp × pp)")
    hw.add_argument("--tp", type=positive_int, help="tensor-parallel size (serving default: --gpus / --pp)")
    hw.add_argument("--pp", type=positive_int, default=1, help="pipeline-parallel stages (default 1)")
    hw.add_argument("--ep", type=positive_int, default=1, help="expert-parallel size (MoE models; default 1)")
    sv = p.add_argument_group("serving")
    sv.add_argument(
        "--context",
        type=positive_int,
        help="tokens per sequence: 8192, 128k (= 128,000), 128Ki (= 131,072), 1M "
        "(serving default: the model's maximum; fine-tuning: 2048)",
    )
    sv.add_argument("--batch", type=positive_int, default=1, help="concurrent sequences / micro-batch (default 1)")
    sv.add_argument(
        "--weights",
        choices=WEIGHT_SCHEMES,
        help="weight scheme (default: a GGUF file's own mix as stored, else the checkpoint's 16-bit dtype)",
    )
    sv.add_argument("--kv-dtype", choices=KV_DTYPES, default="bf16", help="KV-cache dtype (default bf16)")
    sv.add_argument(
        "--utilization", type=_fraction, default=None, help="share of GPU memory vLLM may use (default 0.9)"
    )
    sv.add_argument("--max-num-seqs", type=positive_int, help="vLLM max_num_seqs (default: vLLM's for the GPU)")
    sv.add_argument("--max-num-batched-tokens", type=positive_int, help="vLLM max_num_batched_tokens")
    ft = p.add_argument_group("fine-tuning")
    ft.add_argument("--finetune", choices=("full", "lora", "qlora"), help="plan fine-tuning instead of serving")
    ft.add_argument("--zero", type=int, choices=(0, 1, 2, 3), default=0, help="ZeRO stage over the GPUs (default 0)")
    ft.add_argument(
        "--recompute",
        choices=("none", "selective", "full"),
        help="activation recomputation (default: full for qlora, none otherwise)",
    )
    ft.add_argument("--sequence-parallel", action="store_true", help="Megatron sequence parallelism with --tp")
    ft.add_argument("--attention", choices=("sdpa", "eager"), default="sdpa", help="eager attention stores the scores")
    ft.add_argument("--lora-rank", type=positive_int, default=16, help="LoRA rank r (default 16)")
    ft.add_argument(
        "--lora-modules",
        default=",".join(LORA_MODULES),
        help=f"comma-separated targets (default all linear: {','.join(LORA_MODULES)})",
    )
    out = p.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    out.add_argument("--explain", action="store_true", help="every figure's formula with the numbers substituted")
    out.add_argument("--plot", metavar="FILE.svg", help="write memory per GPU against context as SVG")


# --- resolution ------------------------------------------------------------------------


def resolve_model(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """(spec, model description) for the model argument, through the resolver every command uses."""
    from ..commands.model_arg import repo_of, source_of, target

    resolved = target(args.target, args)
    return resolved.spec, {
        "id": resolved.label,
        "repo": repo_of(resolved),
        "source": source_of(resolved).get("url", ""),
    }


def resolve_hardware(args: argparse.Namespace):
    from ..configs.gpus import get_gpu
    from ..families.planning import Hardware

    if args.gpu and args.gpu_memory:
        raise ModelkinError("--gpu-memory", "give either --gpu or --gpu-memory, not both")
    if args.gpu_memory:
        return Hardware(f"{nbytes(args.gpu_memory)} GPU", args.gpu_memory, "given with --gpu-memory")
    gpu = get_gpu(args.gpu or DEFAULT_GPU)
    source = gpu.source + (f"; usable total: {gpu.reported_source}" if gpu.reported_source else "")
    return Hardware(gpu.name, gpu.memory_bytes, source, gpu.note)


def resolve_parallel(args: argparse.Namespace, finetune: bool):
    from ..families.planning import Parallel

    pp = args.pp
    if args.tp is not None:
        tp = args.tp
    elif finetune:
        tp = 1  # fine-tuning spreads over data-parallel ranks (ZeRO) unless told otherwise
    else:
        tp = (args.gpus or pp) // pp or 1
    gpus = args.gpus or tp * pp
    if gpus % (tp * pp):
        raise ModelkinError("--gpus", f"{gpus} GPUs cannot be split into groups of tp × pp = {tp} × {pp}")
    return Parallel(tp=tp, pp=pp, ep=args.ep, dp=gpus // (tp * pp))


def _default_weights(args: argparse.Namespace, spec) -> Any:
    """--weights, else a GGUF file's own mix as it stores it, else the checkpoint's 16-bit dtype."""
    if args.weights:
        return args.weights
    path = Path(args.target).expanduser()
    if path.exists():
        from ..inspect.gguf_entry import is_gguf_target, stored_weight_scheme

        if is_gguf_target(path):
            return stored_weight_scheme(path, args.target)
    return {"float16": "fp16", "float32": "bf16"}.get(spec.dtype or "", "bf16")


def build_plan(args: argparse.Namespace):
    from ..families import planning

    spec, model = resolve_model(args)
    hw = resolve_hardware(args)
    par = resolve_parallel(args, bool(args.finetune))
    if args.finetune:
        if args.utilization is not None:
            raise ModelkinError("--utilization", "applies to serving (vLLM's gpu_memory_utilization), not --finetune")
        modules = tuple(m.strip() for m in args.lora_modules.split(",") if m.strip())
        req = planning.FinetuneRequest(
            method=args.finetune,
            zero=args.zero,
            context=args.context or planning.DEFAULT_FINETUNE_CONTEXT,
            batch=args.batch,
            recompute=args.recompute,
            lora_rank=args.lora_rank,
            lora_modules=modules,
            sequence_parallel=args.sequence_parallel,
            attention=args.attention,
        )
        plan = planning.plan_finetune(spec, hw, par, req)
    else:
        req = planning.ServeRequest(
            context=args.context or spec.max_position_embeddings,
            batch=args.batch,
            weights=_default_weights(args, spec),
            kv_dtype=args.kv_dtype,
            utilization=args.utilization or planning.DEFAULT_UTILIZATION,
            max_num_seqs=args.max_num_seqs,
            max_batched_tokens=args.max_num_batched_tokens,
        )
        plan = planning.plan_serving(spec, hw, par, req)
    from ..families.accounting import params_total

    model["params_total"] = params_total(spec)
    return spec, model, hw, par, plan, req


# --- views -----------------------------------------------------------------------------


def _headline(model: dict[str, Any], plan) -> str:
    par, hw, s = plan.parallel, plan.hardware, plan.settings
    layout = f"tp={par.tp}" + (f" pp={par.pp}" if par.pp > 1 else "") + (f" ep={par.ep}" if par.ep > 1 else "")
    if par.dp > 1:
        layout += f" × {par.dp} {'data-parallel' if plan.mode == 'finetune' else 'replicas'}"
    where = f"{par.gpus} × {hw.name} ({nbytes(hw.memory_bytes)} each; {layout})"
    if plan.mode == "serve":
        what = (
            f"serving {s['context']:,} tokens × {s['batch']} sequence{'s' if s['batch'] > 1 else ''}, "
            f"weights {s['weights']}, KV {s['kv_dtype']}"
        )
    else:
        what = (
            f"{s['method']} fine-tuning, ZeRO-{s['zero']}, {s['context']:,} tokens × micro-batch {s['batch']}, "
            f"recompute {s['recompute']}"
        )
    return f"{model['id']} ({count(model['params_total'])} params) on {where}: {what}"


def _verdict(plan) -> str:
    total, budget = plan.per_gpu["total_bytes"].value, plan.per_gpu["budget_bytes"].value
    if plan.fits:
        return f"FITS: {nbytes(total)} of {nbytes(budget)} per GPU ({nbytes(budget - total)} to spare)"
    return f"DOES NOT FIT: {nbytes(total)} needed per GPU, {nbytes(budget)} available"


def _rows(plan) -> list[list[str]]:
    rows = []
    total = plan.per_gpu["total_bytes"].value
    for label, value in plan.breakdown.items():
        if value:
            rows.append([label, nbytes(value), f"{100 * value / total:.1f}%"])
    rows.append(["total per GPU", nbytes(total), "100%"])
    budget = plan.per_gpu["budget_bytes"]
    rows.append([budget.label, nbytes(budget.value), ""])
    if plan.mode == "serve":
        kv = plan.per_gpu["kv_bytes_per_token"]
        rows.append([kv.label + " per GPU", f"{kv.value:,.0f} B", ""])
    return rows


def _answer_rows(plan) -> list[list[str]]:
    rows = []
    for term in plan.answers.values():
        if term is None:
            continue
        if term.key == "trainable_params":
            rows.append([term.label, f"{term.value:,.0f} ({count(term.value)})"])
        elif term.key == "gpus_needed":
            rows.append([term.label, f"{term.value:,.0f} ({term.substituted})"])
        elif term.key == "max_context" and plan.mode == "serve":
            rows.append([term.label, f"{term.value:,.0f} tokens ({term.substituted})"])
        else:
            unit = " tokens" if term.unit == "tokens" else ""
            rows.append([term.label, f"{term.value:,.0f}{unit}"])
    if plan.answers.get("gpus_needed") is None:
        rows.append(["fewest GPUs", "none up to the layouts tried (see the suggestions)"])
    return rows


def vllm_command(model: dict[str, Any], plan) -> str | None:
    """The `vllm serve` line this plan describes (serving plans of models with a repo id)."""
    if plan.mode != "serve" or not model.get("repo"):
        return None
    s, par = plan.settings, plan.parallel
    words = ["vllm serve", model["repo"], f"--max-model-len {s['context']}"]
    if par.tp > 1:
        words.append(f"--tensor-parallel-size {par.tp}")
    if par.pp > 1:
        words.append(f"--pipeline-parallel-size {par.pp}")
    if par.dp > 1:
        words.append(f"--data-parallel-size {par.dp}")
    if par.ep > 1:
        words.append("--enable-expert-parallel")
    if s["kv_dtype"] == "fp8":
        words.append("--kv-cache-dtype fp8")
    if s["weights"] == "fp8":
        words.append("--quantization fp8")  # int8/int4 need a checkpoint quantised that way
    if s["utilization"] != 0.9:
        words.append(f"--gpu-memory-utilization {s['utilization']:g}")
    return " ".join(words)


def render_text(model: dict[str, Any], plan, fmt: str, explain: bool) -> str:
    from ..text_table import text_table

    markdown = fmt == "markdown"
    parts = [_headline(model, plan), _verdict(plan)]
    if plan.parallel.pp > 1:
        parts[-1] += f" (pipeline stage {plan.binding_stage} decides)"
    parts.append(text_table(_rows(plan), ["per GPU", "bytes", "share"], markdown=markdown))
    parts.append(text_table(_answer_rows(plan), ["answer", "value"], markdown=markdown))
    if plan.suggestions:
        parts.append("What would fit:\n" + "\n".join(f"  - {s}" for s in plan.suggestions))
    elif vllm_command(model, plan):
        parts.append(f"As a vLLM command: {vllm_command(model, plan)}")
    if explain:
        lines = ["Formulas (this model's numbers substituted):"]
        for term in [*plan.per_gpu.values(), *(t for t in plan.answers.values() if t is not None)]:
            if not term.formula:
                continue
            lines.append(f"  {term.label}\n      = {term.formula}\n      = {term.substituted}")
        lines.append("Parallelism rules applied:")
        lines += [f"  - {r}" for r in plan.rules]
        lines.append("Assumptions:")
        lines += [f"  - {a}" for a in plan.assumptions]
        parts.append("\n".join(lines))
    else:
        parts.append("Assumptions: " + plan.assumptions[0] + ". --explain shows every formula.")
    parts.append(
        f"GPU memory source: {plan.hardware.source}" + (f" ({plan.hardware.note})" if plan.hardware.note else "")
    )
    return "\n\n".join(parts)


def fit_plot(spec, plan, req, hw, par, path: str) -> None:
    """Memory per GPU against context (stacked), the budget line and where it stops fitting."""
    from ..families.planning import memory_vs_context
    from .plots import memory_vs_context as draw

    curve = memory_vs_context(spec, hw, par, req)
    capacity = plan.answers["kv_capacity_tokens"]
    output = draw(
        curve["context"],
        {"weights": curve["weights"], "runtime overhead": curve["overhead"], f"KV cache ({req.kv_dtype})": curve["kv"]},
        budget=curve["budget"],
        budget_label=f"budget: {req.utilization:g} × {nbytes(hw.memory_bytes)}",
        stops={"it": capacity.value / req.batch if capacity is not None and capacity.value else None},
        title=f"Memory per GPU vs context on {hw.name} (batch {req.batch}, tp={par.tp})",
        stacked=True,
    )
    Path(path).write_text(output.svg, encoding="utf-8")


def run(args: argparse.Namespace) -> str:
    from ..families.planning import plan_json

    spec, model, hw, par, plan, req = build_plan(args)
    if args.plot:
        if plan.mode != "serve":
            raise ModelkinError("--plot", "draws serving memory against context; drop --finetune")
        fit_plot(spec, plan, req, hw, par, args.plot)
    if args.format == "json":
        out = plan_json(plan, model)
        out["vllm_command"] = vllm_command(model, plan)
        return json.dumps(out, indent=2, ensure_ascii=False)
    return render_text(model, plan, args.format, args.explain)
