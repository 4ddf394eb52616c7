"""`modelkin fit`: the planner against published worked examples and logged runtime figures.

Truth used here, none of it computed by modelkin:
- ZeRO (Rajbhandari et al. 2020, Figure 1): 7.5 B parameters, Adam in mixed precision, K = 12:
  120 GB per GPU without ZeRO; with 64 data-parallel GPUs 31.4 GB (stage 1), 16.6 GB (stage 2),
  1.9 GB (stage 3).
- Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large Transformer Models"), Table 2
  (activation bytes per layer under each parallelism/recomputation scheme) and §4.3's worked numbers
  for GPT-3 (a = 96, s = 2048, h = 12288: 5as/h = 80, selective recomputation saves 70%) and MT-NLG
  (a = 128, h = 20480: 65%).
- vLLM 0.19.0 start-up logs on H100 80GB (weights loaded, KV-cache memory, 'GPU KV cache size' in
  tokens), from llm-d-planner's public validation sweep:
  https://github.com/llm-d-incubation/llm-d-planner/blob/d3121e059da88662db39a926a3ead964be97359b/accuracy/results/v0.19.0/results_raw.csv
- transformers models on the meta device (LoRA targets) and accelerate's own estimator functions.
"""

from __future__ import annotations

import json
import math

import pytest

from modelkin.configs import get
from modelkin.families.accounting import params_by_component, params_total
from modelkin.families.planning import (
    GIB,
    FinetuneRequest,
    Hardware,
    LayerShape,
    Parallel,
    ServeRequest,
    activation_terms,
    kv_bytes_per_token,
    lora_params,
    plan_finetune,
    plan_serving,
    split_model,
    zero_model_states,
)

# --- ZeRO, Figure 1 ----------------------------------------------------------------------


@pytest.mark.parametrize(("stage", "published_gb"), [(0, 120.0), (1, 31.4), (2, 16.6), (3, 1.9)])
def test_zero_paper_figure_1(stage, published_gb):
    dp = 1 if stage == 0 else 64
    per_gpu = sum(zero_model_states(7.5e9, dp, stage).values())
    assert round(per_gpu / 1e9, 1) == published_gb


def test_zero_stage_0_is_16_bytes_per_parameter_whatever_the_gpu_count():
    assert sum(zero_model_states(1e9, 64, 0).values()) == 16e9


# --- Korthikanti et al. 2022, Table 2 ---------------------------------------------------

# (h, a) of the paper's models (their Table 3); s = 2048 for all.
PAPER_MODELS = {"22B": (6144, 64), "175B": (12288, 96), "530B": (20480, 128), "1T": (25600, 160)}
S = 2048


def table_2(h: int, a: int, s: int, t: int) -> dict[str, float]:
    """Table 2 as printed, per layer, bytes divided by s·b (one token of one sequence)."""
    return {
        "no parallelism": h * (34 + 5 * a * s / h),
        "tensor parallel (baseline)": h * (10 + 24 / t + 5 * a * s / (h * t)),
        "tensor + sequence parallel": h * (34 / t + 5 * a * s / (h * t)),
        "tensor parallel + selective recompute": h * (10 + 24 / t),
        "tensor + sequence parallel + selective recompute": h * 34 / t,
        "full activation recompute": h * 2,
    }


@pytest.mark.parametrize("model", sorted(PAPER_MODELS))
@pytest.mark.parametrize("t", [1, 2, 8])
def test_korthikanti_table_2(model, t):
    h, a = PAPER_MODELS[model]
    shape = LayerShape.gpt(h, a)
    ours = {
        "no parallelism": activation_terms(shape, S),
        "tensor parallel (baseline)": activation_terms(shape, S, t),
        "tensor + sequence parallel": activation_terms(shape, S, t, sequence_parallel=True),
        "tensor parallel + selective recompute": activation_terms(shape, S, t, recompute="selective"),
        "tensor + sequence parallel + selective recompute": activation_terms(
            shape, S, t, sequence_parallel=True, recompute="selective"
        ),
        "full activation recompute": activation_terms(shape, S, recompute="full"),
    }
    for row, expected in table_2(h, a, S, t).items():
        assert sum(ours[row].values()) == pytest.approx(expected, rel=1e-12), row


@pytest.mark.parametrize(("model", "saving"), [("175B", 0.70), ("530B", 0.65)])
def test_korthikanti_selective_recompute_savings(model, saving):
    """§4.3: 5as/h = 80 for GPT-3; selective recomputation saves 70% (GPT-3) and 65% (MT-NLG)."""
    h, a = PAPER_MODELS[model]
    shape = LayerShape.gpt(h, a)
    if model == "175B":
        assert activation_terms(shape, S)["scores"] / h == 80
    full = sum(activation_terms(shape, S).values())
    selective = sum(activation_terms(shape, S, recompute="selective").values())
    assert round(1 - selective / full, 2) == saving


def test_gqa_and_gated_mlp_adaptation():
    """Llama-3.1-8B: K and V are a quarter of Q's width; the SwiGLU MLP stores four i-wide tensors."""
    spec = get("llama-3.1-8b").spec
    terms = activation_terms(LayerShape.of(spec), 4096, scores_stored=False)
    assert terms["Q, K, V"] == 2 * 4096 + 4 * 8 * 128
    assert terms["MLP inner"] == 8 * 14336
    assert terms["scores"] == 4 * 32  # FlashAttention keeps its fp32 log-sum-exp only
    # tp beyond the 8 KV heads: each GPU keeps one KV head.
    assert activation_terms(LayerShape.of(spec), 4096, 16, scores_stored=False)["Q, K, V"] == 2 * 4096 / 16 + 4 * 128


# --- vLLM's KV cache on H100 80GB -------------------------------------------------------

H100_REPORTED = 79.19 * GIB  # total_memory in the same logs
# (catalog id [architecture of the served model], tp, pp, weights, kv dtype,
#  logged: weights GiB, KV-cache GiB, GPU KV cache size in tokens)
VLLM_RUNS = [
    ("llama-3.1-8b", 1, 1, "bf16", "bf16", 14.99, 58.11, 476_016),
    ("llama-3.1-8b", 1, 1, "bf16", "fp8", 14.99, 58.11, 952_032),
    ("llama-3.1-8b", 1, 1, "fp8", "bf16", 8.49, 64.61, 529_248),
    ("llama-3.1-8b", 1, 1, "int4", "bf16", 5.38, 67.71, 554_704),
    # RedHatAI's W4A16 checkpoint, sized by the quantization module's own w4a16 layout
    ("llama-3.1-8b", 1, 1, "w4a16", "bf16", 5.38, 67.71, 554_704),
    ("llama-3.1-8b", 2, 1, "bf16", "bf16", 7.51, 63.76, 1_044_688),
    ("llama-3.1-8b", 4, 1, "bf16", "bf16", 3.77, 67.44, 2_209_792),
    # With pp the log's KV memory is one stage's; the token count is the binding stage's.
    ("llama-3.1-8b", 1, 2, "bf16", "bf16", 7.51, None, 1_075_312),
    ("llama-3.1-8b", 1, 4, "bf16", "bf16", 4.26, None, 2_257_264),
    ("qwen2.5-7b", 1, 1, "bf16", "bf16", 14.25, 58.53, 1_096_000),
    ("qwen2.5-7b", 1, 1, "bf16", "fp8", 14.25, 58.53, 2_192_000),
    ("qwen2.5-7b", 1, 1, "fp8", "bf16", 8.14, 64.64, 1_210_304),
    ("qwen2.5-7b", 2, 1, "bf16", "bf16", 7.12, 63.84, 2_390_592),
    ("qwen2.5-7b", 4, 1, "bf16", "bf16", 3.55, 67.34, 5_043_280),
    ("qwen2.5-72b", 2, 1, "bf16", "bf16", 67.80, 3.04, 19_920),
    ("llama-3.1-70b", 2, 1, "fp8", "bf16", 33.88, 37.28, 244_304),  # Llama-3.3-70B fp8-dynamic
    ("llama-3.1-70b", 4, 1, "fp8", "bf16", 16.96, 54.09, 708_992),
]


def _h100_plan(model, tp, pp, weights, kv):
    spec = get(model).spec
    hw = Hardware("H100 80GB", round(H100_REPORTED))
    return plan_serving(spec, hw, Parallel(tp=tp, pp=pp), ServeRequest(8192, 1, weights, kv, utilization=0.95))


@pytest.mark.parametrize(
    "run", [r for r in VLLM_RUNS if r[6] is not None], ids=lambda r: f"{r[0]}-tp{r[1]}-pp{r[2]}-{r[3]}-kv{r[4]}"
)
def test_kv_bytes_per_token_per_gpu_equal_vllms(run):
    """vLLM's KV memory divided by its token count is the per-GPU bytes per token (GiB logged to 2 decimals)."""
    model, tp, pp, weights, kv, _, kv_gib, tokens = run
    plan = _h100_plan(model, tp, pp, weights, kv)
    assert plan.per_gpu["kv_bytes_per_token"].value == pytest.approx(kv_gib * GIB / tokens, rel=2e-3)


@pytest.mark.parametrize("run", VLLM_RUNS, ids=lambda r: f"{r[0]}-tp{r[1]}-pp{r[2]}-{r[3]}-kv{r[4]}")
def test_weights_and_kv_capacity_close_to_vllm(run):
    """Weights within 0.1 GiB of vLLM's 'Model loading took' (vLLM also holds RoPE caches); KV memory
    within 0.2 GiB (the runtime overhead is the one free term), so the token capacity within 0.35% wherever
    the KV room is more than a few GiB (72B on 2 GPUs leaves 3 GiB: +1.9%)."""
    model, tp, pp, weights, kv, weights_gib, kv_gib, tokens = run
    plan = _h100_plan(model, tp, pp, weights, kv)
    assert abs(plan.per_gpu["weights_bytes"].value / GIB - weights_gib) < 0.1
    capacity = plan.answers["kv_capacity_tokens"].value
    per_token = plan.per_gpu["kv_bytes_per_token"].value
    if kv_gib is not None:
        assert abs(capacity * per_token / GIB - kv_gib) < 0.2
    if capacity * per_token > 10 * GIB:
        assert abs(capacity - tokens) / tokens < 0.0035
    else:
        assert abs(capacity - tokens) / tokens < 0.025


def test_tensor_parallel_rules():
    """70B at tp=4: attention and MLP split four ways, norms whole, the vocab split; KV heads 8 → 2 per GPU."""
    spec = get("llama-3.1-70b").spec
    by = params_by_component(spec)
    (stage,) = split_model(spec, Parallel(tp=4))
    assert stage.params["attention"] == by["attention"] / 4
    assert stage.params["mlp"] == by["mlp"] / 4
    assert stage.params["norm"] == by["norm"]
    assert stage.params["embedding"] == by["embedding"] / 4  # 128256 is a multiple of 64
    assert stage.kv_fraction == 2 / 8
    # tp=16 exceeds the 8 KV heads: each GPU keeps one, so K/V weights are replicated twice over.
    (stage16,) = split_model(spec, Parallel(tp=16))
    kv_weights = 2 * 8 * 128 * 8192 * 80
    assert stage16.params["attention"] == (by["attention"] - kv_weights) / 16 + kv_weights / 8
    assert kv_bytes_per_token(spec, "bf16") * stage16.kv_fraction == 2 * 80 * 1 * 128 * 2


def test_pipeline_partition_is_vllms():
    spec = get("llama-3.1-8b").spec  # 32 layers
    assert [len(s.layers) for s in split_model(spec, Parallel(pp=3))] == [11, 11, 10]
    first, last = split_model(spec, Parallel(pp=2))
    assert first.params["embedding"] and not first.params["head"]
    assert last.params["head"] and not last.params["embedding"]


# --- LoRA targets against transformers' own modules ----------------------------------------


@pytest.mark.parametrize("model_id", ["qwen2.5-7b", "llama-3.2-1b"])
def test_lora_params_equal_rank_times_linear_widths(model_id):
    torch = pytest.importorskip("torch")
    from transformers import AutoConfig, AutoModelForCausalLM

    entry = get(model_id)
    config = AutoConfig.for_model(**entry.config)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    names = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    truth = sum(
        16 * (m.in_features + m.out_features)
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and name.rsplit(".", 1)[-1] in names
    )
    assert lora_params(entry.spec, 16, ("q", "k", "v", "o", "gate", "up", "down")) == truth


# --- accelerate's estimator, side by side ---------------------------------------------------


def test_accelerate_estimate_memory_side_by_side():
    """accelerate estimate-memory builds AutoModel (no LM head) on the meta device and sizes it in fp32;
    its 'Training using Adam' is the largest single term, 8 B per parameter. Run its functions offline
    on the same config: the difference to modelkin is exactly the head and 16 − 8 bytes per parameter."""
    torch = pytest.importorskip("torch")
    from accelerate import init_empty_weights
    from accelerate.commands.estimate import estimate_training_usage
    from accelerate.utils import calculate_maximum_sizes
    from transformers import AutoConfig, AutoModel

    entry = get("llama-3.1-8b")
    with init_empty_weights():  # accelerate's create_empty_model, minus the Hub lookup
        model = AutoModel.from_config(AutoConfig.for_model(**entry.config), dtype=torch.float32)
    total_fp32, _ = calculate_maximum_sizes(model)
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    spec = entry.spec
    head = params_by_component(spec)["head"]
    assert total_fp32 - buffers == 4 * (params_total(spec) - head)
    training = max(estimate_training_usage(total_fp32, "bfloat16").values())
    assert training == 2 * total_fp32  # 8 B per parameter of the headless model
    ours = sum(zero_model_states(params_total(spec), 1, 0).values())
    assert ours == 16 * params_total(spec)


# --- the command ------------------------------------------------------------------------------


def test_done_when_serving(cli):
    code, out, err = cli(
        "fit", "llama-3.1-70b", "--gpu", "H100", "--gpus", "4", "--tp", "4", "--context", "128k", "--kv-dtype", "fp8"
    )
    assert code == 0, err
    assert "FITS" in out and "KV cache" in out and "weights: mlp" in out and "128,000" in out


def test_done_when_qlora(cli):
    code, out, err = cli("fit", "qwen2.5-7b", "--gpu", "RTX 4090", "--finetune", "qlora")
    assert code == 0, err
    assert "frozen base" in out and "activations" in out and "adapter optimizer" in out


def test_json_keys(cli):
    code, out, _ = cli("fit", "llama-3.1-8b", "--gpu", "L4", "--context", "32k", "--format", "json")
    data = json.loads(out)
    for key in ("weights_bytes", "kv_bytes_per_token", "total_bytes"):
        assert data["per_gpu"][key] > 0
    for key in ("max_context", "max_batch", "gpus_needed"):
        assert key in data
    assert data["per_gpu"]["kv_bytes_per_token"] == 2 * 32 * 8 * 128 * 2
    code, out, _ = cli("fit", "llama-3.1-8b", "--finetune", "full", "--zero", "3", "--gpus", "8", "--format", "json")
    data = json.loads(out)
    assert data["per_gpu"]["model_states_bytes"] == pytest.approx(16 * params_total(get("llama-3.1-8b").spec) / 8)
    assert data["per_gpu"]["activation_bytes"] > 0


def test_does_not_fit_says_by_how_much_and_what_would(cli):
    code, out, _ = cli("fit", "llama-3.1-70b", "--gpu", "RTX 4090", "--context", "8k", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert not data["fits"] and data["short_by_bytes"] > 100 * GIB
    assert data["gpus_needed"] is not None and data["gpus_needed"] >= 8
    assert any(s.startswith("more GPUs") for s in data["suggestions"])
    code, out, _ = cli("fit", "llama-3.1-8b", "--gpu", "A100 40GB", "--batch", "2")  # 2 × 128k sequences
    assert "DOES NOT FIT" in out and "--kv-dtype fp8 fits" in out and "a shorter context" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["llama-3.1-70b", "--tp", "3"], "tp=3 does not divide the 64 attention heads"),
        (["llama-3.1-8b", "--ep", "2"], "no experts"),
        (["llama-3.1-8b", "--gpus", "6", "--tp", "4"], "cannot be split"),
        (["llama-3.1-8b", "--gpu", "H10"], "did you mean 'H100 80GB SXM'"),
        (["llama-3.1-8b", "--context", "lots"], "is not a count"),
    ],
)
def test_impossible_requests_are_one_line_exit_2(cli, argv, message):
    code, out, err = cli("fit", *argv)
    assert code == 2 and not out
    assert len(err.strip().splitlines()) == 1 and message in err


def test_explain_substitutes_the_numbers(cli):
    code, out, _ = cli("fit", "llama-3.1-8b", "--gpu", "A100 80GB", "--context", "8192", "--explain")
    assert "2 × 32 × 8 × 128 × 2 = 131,072 B" in out
    assert "vocab-parallel" in out


def test_config_json_target_and_memory_flag(cli, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(get("qwen2.5-0.5b").config), encoding="utf-8")
    code, out, err = cli("fit", str(tmp_path), "--gpu-memory", "8GiB", "--context", "4096", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["hardware"]["memory_bytes"] == 8 * GIB and data["fits"]


def test_plot_marks_where_it_stops_fitting(cli, tmp_path):
    target = tmp_path / "fit.svg"
    code, _, err = cli("fit", "llama-3.1-8b", "--gpu", "RTX 4090", "--batch", "4", "--plot", str(target))
    assert code == 0, err
    svg = target.read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "stops fitting" in svg


def test_max_context_respects_sliding_windows():
    """A sliding-window layer stops growing at its window (accounting's spans), so more context fits."""
    from modelkin.families.spec import SlidingWindow

    spec = get("qwen2-7b").spec
    windowed = spec.model_copy(
        update={
            "long_context": spec.long_context.model_copy(
                update={"sliding_window": SlidingWindow(enabled=True, window=4096, max_window_layers=14)}
            )
        }
    )
    hw = Hardware("24 GiB", 24 * GIB)
    req = ServeRequest(context=4096, batch=1)
    plain = plan_serving(spec, hw, Parallel(), req).answers["max_context"]
    more = plan_serving(windowed, hw, Parallel(), req).answers["max_context"]
    assert more.value > plain.value
    assert math.isfinite(more.value)


def test_finetune_zero_needs_more_gpus_not_less():
    spec = get("llama-3.1-8b").spec
    hw = Hardware("A100 80GB", 80 * GIB)
    one = plan_finetune(spec, hw, Parallel(), FinetuneRequest(method="full"))
    assert not one.fits  # 16 B × 8 B params = 128 GB
    needed = one.answers["gpus_needed"]
    assert needed is None  # ZeRO-0 replicates everything: more GPUs do not help
    z3 = plan_finetune(spec, hw, Parallel(), FinetuneRequest(method="full", zero=3))
    assert z3.answers["gpus_needed"].value == 2


# --- hf-mem, side by side -------------------------------------------------------------------


def test_hf_mem_kv_cache_side_by_side():
    """hf-mem's KV estimate (2 × layers × num_key_value_heads × head_dim × tokens × bytes, read from
    config.json keys) equals modelkin's on every Llama/Qwen config of the catalog. On THUDM's GLM-4
    configs it finds no `num_key_value_heads` (they say `multi_query_group_num`) and assumes MHA:
    heads / KV groups times too much; ChatGLM2/3 configs (`num_layers`) it cannot read at all."""
    kv_cache = pytest.importorskip("hf_mem.safetensors.kv_cache")
    from modelkin.configs import entries
    from modelkin.families.planning import kv_bytes

    for entry in entries():
        spec = entry.spec
        for context, ours_dtype, theirs in ((131072, "bf16", "BF16"), (32768, "fp8", "F8_E4M3")):
            ours = kv_bytes(spec, context, 1, ours_dtype)
            if "num_hidden_layers" not in entry.config:
                with pytest.raises(KeyError):
                    kv_cache.compute_safetensors_kv_cache_size(entry.config, theirs, context)
                continue
            hf_mem = kv_cache.compute_safetensors_kv_cache_size(entry.config, theirs, context)
            if "multi_query_group_num" in entry.config:
                assert hf_mem == ours * spec.attention.group_size, entry.id
            else:
                assert hf_mem == ours, entry.id


# --- argument types and the report's plot ----------------------------------------------------------


def test_context_and_memory_arguments():
    from modelkin.argtypes import memory_size, positive_int, tokens

    # One count parser for every command: k is 1,000, Ki 1,024 (Llama 3.1's "128K" context is 128Ki).
    assert positive_int("128k") == 128_000 and positive_int("128Ki") == 131_072 == positive_int("128ki")
    assert positive_int("1M") == 10**6 and positive_int("8192") == 8192
    assert memory_size("24GiB") == 24 * 2**30 and memory_size("80GB") == 80 * 10**9
    assert tokens("15T") == 15e12  # token counts stay decimal


def test_report_fit_plot_marks_where_each_model_stops():
    from modelkin.reports import build_report as br

    entries = [get(i) for i in ("llama-3.1-8b", "qwen2.5-7b", "llama-2-7b")]
    models = [br._facts(e, entries, 4096) for e in entries]
    function, args, _, name, *_ = br._fit_job(models, "L4")
    xs, series, budget, _, stops = args
    assert (function, name) == ("memory_vs_context", "fit")
    # Llama-3.1-8B's 128 KiB per token no longer fits beside its 15 GiB of weights on an L4 at 64k.
    stop = stops["llama-3.1-8b"]
    assert 32768 < stop < 65536
    line = series["llama-3.1-8b"]
    assert line[xs.index(32768)] < budget < line[xs.index(65536)]
    # Llama 2 ends at its 4096-token limit.
    assert math.isnan(series["llama-2-7b"][xs.index(8192)])


# --- activations against what autograd keeps in transformers -----------------------------------------


def _saved_bytes(attn: str, layers: int, seq: int, checkpointing: bool = False) -> int:
    """Bytes of the distinct tensors autograd saves for backward (parameters excluded) in one
    training forward of a tiny transformers Llama in bf16 (GQA, SwiGLU)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        hidden_size=128,
        num_attention_heads=8,
        num_key_value_heads=2,
        head_dim=16,
        intermediate_size=352,
        num_hidden_layers=layers,
        vocab_size=512,
        max_position_embeddings=4096,
        attn_implementation=attn,
    )
    model = LlamaForCausalLM(config).to(torch.bfloat16).train()
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    params = {p.data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(t):
        if t.data_ptr() not in params:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    ids = torch.randint(0, 512, (1, seq))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(input_ids=ids, labels=ids)
    return sum(storages.values())


@pytest.mark.parametrize(
    ("attn", "recompute", "seq"),
    [("sdpa", "none", 64), ("eager", "none", 64), ("eager", "none", 128), ("sdpa", "full", 64)],
)
def test_activation_bytes_per_layer_equal_what_transformers_saves(attn, recompute, seq):
    """One more layer adds exactly what `activation_terms` counts per token (GQA K/V, SwiGLU's four
    i-wide tensors, RMSNorm's fp32 upcast, eager attention's fp32 softmax), to within RoPE's few bytes."""
    checkpointing = recompute == "full"
    per_layer = (_saved_bytes(attn, 3, seq, checkpointing) - _saved_bytes(attn, 2, seq, checkpointing)) / seq
    shape = LayerShape(128, 8, 2, 16, 352, gated=True)
    ours = sum(activation_terms(shape, seq, recompute=recompute, scores_stored=attn == "eager").values())
    assert abs(per_layer - ours) <= 16, (per_layer, ours)


def test_gpu_table_names_its_sources():
    from modelkin.configs.gpus import get_gpu, gpus

    table = gpus()
    assert len({g.name for g in table}) == len(table)
    for gpu in table:
        assert gpu.source.startswith("https://") and gpu.memory_gib > 0
        assert get_gpu(gpu.name) is gpu
        if gpu.reported_gib is not None:  # what the driver reports is a little under the datasheet's figure
            assert gpu.reported_gib < gpu.memory_gib and gpu.reported_source.startswith("vLLM")
    assert get_gpu("rtx4090").name == get_gpu("RTX 4090").name == "RTX 4090 24GB"


def test_fit_takes_a_gguf_file(cli, tmp_path):
    """Any model target the resolver knows, a llama.cpp GGUF file included (written by gguf's own writer)."""
    from modelkin.families import spec_to_hf
    from modelkin.families.tiny import tiny

    from .gguf_files import write_gguf

    path = tmp_path / "tiny.gguf"
    write_gguf(path, spec_to_hf(tiny(get("qwen2.5-0.5b").spec)), dtype="F16")
    code, out, err = cli("fit", str(path), "--gpu", "L4", "--context", "1024", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["fits"] and data["per_gpu"]["kv_bytes_per_token"] > 0


def test_a_gguf_file_is_sized_as_it_stores_its_weights(cli, tmp_path):
    """Weights come from the file's own tensor types, not from a 16-bit guess: the weights term of
    `fit` equals the bytes of tensor data gguf's own reader finds in the file (tp=1: one GPU holds all)."""
    import gguf

    from modelkin.families import spec_to_hf
    from modelkin.families.tiny import tiny

    from .gguf_files import write_gguf

    path = tmp_path / "tiny-Q8_0.gguf"
    write_gguf(path, spec_to_hf(tiny(get("qwen2.5-0.5b").spec)), dtype="Q8_0")
    stored = sum(int(t.n_bytes) for t in gguf.GGUFReader(path).tensors)
    code, out, err = cli("fit", str(path), "--gpu", "L4", "--context", "1024", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["per_gpu"]["weights_bytes"] == pytest.approx(stored, rel=1e-9)
    assert data["settings"]["weights"] == "Q8_0 as stored"
    # --weights still decides when given
    code, out, _ = cli("fit", str(path), "--gpu", "L4", "--context", "1024", "--weights", "bf16", "--format", "json")
    bf16 = json.loads(out)
    assert bf16["per_gpu"]["weights_bytes"] == 2 * bf16["model"]["params_total"] != stored
