"""The reference model equals transformers' classes, weight for weight (issue 3, §3).

Truth: transformers 5.24's LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM,
GlmForCausalLM and Glm4ForCausalLM, built from `spec_to_hf(tiny spec)` with the reference's weights
copied in (or loaded from the folder we save). Compared: fp32 logits (≤ 1e-5) at
a length beyond the tiny original context when RoPE is scaled, 20 greedy tokens,
and incremental decoding against the full forward.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from modelkin.configs import get, ids  # noqa: E402
from modelkin.families import spec_to_hf, validate_spec  # noqa: E402
from modelkin.families.layout import default_convention, layout  # noqa: E402
from modelkin.families.registry import GENERATION_NAMES  # noqa: E402
from modelkin.families.spec import ArchSpec  # noqa: E402
from modelkin.families.tiny import tiny  # noqa: E402
from modelkin.reference.checkpoint import load_reference, save_hf_folder  # noqa: E402
from modelkin.reference.reference import build_reference, reference_convention  # noqa: E402

TOL = 1e-5
# One catalog entry per generation, plus the entries with a distinct choice:
# YaRN (qwen2-7b-instruct), DCA (qwen2.5-7b-instruct-1m), rope_ratio (glm-4-9b-chat-1m), tying (qwen2.5-0.5b).
PER_GENERATION = {
    "llama-1": "llama-7b",
    "llama-2": "llama-2-7b",
    "llama-3": "llama-3-8b",
    "llama-3.1": "llama-3.1-8b",
    "llama-3.2": "llama-3.2-1b",
    "qwen2": "qwen2-7b-instruct",
    "qwen2.5": "qwen2.5-7b",
    "chatglm2": "chatglm2-6b",
    "chatglm3": "chatglm3-6b",
    "glm-4": "glm-4-9b-chat-1m",
    "glm-4-0414": "glm-4-9b-0414",
    "qwen3": "qwen3-0.6b",  # QK-norm, head_dim ≠ hidden / heads, tied
    "qwen2-moe": "qwen1.5-moe-a2.7b",
    "qwen3-moe": "qwen3-30b-a3b",
    "glm-4.5": "glm-4.5-air",
    "llama-4": "llama-4-scout-17b-16e",
}
# Maverick: dense and MoE layers alternate, no QK-norm, no temperature tuning.
EXTRA = ["qwen2.5-7b-instruct-1m", "qwen2.5-0.5b", "llama-4-maverick-17b-128e"]
FIDELITY_IDS = [*PER_GENERATION.values(), *EXTRA]
# tiny() gives llama-3.2-3b 6 heads (group 3) at hidden 128, which LlamaConfig rejects
# (hidden_size must be a multiple of num_attention_heads); the tiny rule is not ours to change.


@pytest.fixture(autouse=True)
def _quiet_seeded_single_thread():
    # Tiny matmuls gain nothing from intra-op threads, and on a busy 2-core machine
    # torch's thread hand-offs make them 20x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    yield
    torch.set_num_threads(threads)


def test_every_generation_is_covered():
    assert {get(i).spec.generation for i in FIDELITY_IDS} == set(PER_GENERATION) == set(GENERATION_NAMES)


def sequence_length(spec) -> int:
    """Beyond the tiny original context when RoPE is scaled; inside one chunk for DCA
    (transformers has no DCA: only there must the two agree)."""
    n = spec.original_context + 40 if spec.positions.scaling.type != "none" else 48
    dca = spec.long_context.dual_chunk
    if dca is not None:
        n = min(n, dca.chunk_size - dca.local_size)
    return n  # RoPE has no hard limit at max_position_embeddings (tiny YaRN specs stop at the original length)


def model_state(spec, model):
    """The reference's state dict less GLM-4.5's MTP layers (stored beside the model;
    transformers has none)."""
    mtp = {
        s.name
        for s in layout(spec, default_convention(spec))
        if s.component == "mtp" or s.layer is not None and s.layer >= spec.num_layers
    }
    state = {k: v for k, v in model.state_dict().items() if k not in mtp}
    if spec.moe is not None and spec.generation != "llama-4":
        state = fuse_experts(state)
    return state


def fuse_experts(state):
    """transformers 5 holds one expert per tensor on disk but fused in memory
    (`experts.gate_up_proj` [E, 2w, h], `experts.down_proj` [E, h, w]); its loader maps
    them. Done here by hand for `load_state_dict`; the saved-folder test goes through
    transformers' own loader instead."""
    out, groups = {}, {}
    for name, tensor in state.items():
        head, sep, tail = name.partition(".experts.")
        if not sep:
            out[name] = tensor
            continue
        j, proj = tail.split(".", 1)
        groups.setdefault(head, {}).setdefault(int(j), {})[proj.removesuffix(".weight")] = tensor
    for head, experts in groups.items():
        order = [experts[j] for j in sorted(experts)]
        out[f"{head}.experts.gate_up_proj"] = torch.stack([torch.cat([e["gate_proj"], e["up_proj"]]) for e in order])
        out[f"{head}.experts.down_proj"] = torch.stack([e["down_proj"] for e in order])
    return out


def transformers_twin(spec, model):
    config = AutoConfig.for_model(**spec_to_hf(spec))
    hf = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    result = hf.load_state_dict(model_state(spec, model), strict=False)
    assert result.unexpected_keys == []
    if spec.embeddings.tied:
        assert result.missing_keys == ["lm_head.weight"]
        assert hf.lm_head.weight.data_ptr() == hf.model.embed_tokens.weight.data_ptr()
    else:
        assert result.missing_keys == []
    return hf


def random_ids(spec, batch: int, length: int, seed: int = 1):
    return torch.randint(0, spec.vocab_size, (batch, length), generator=torch.Generator().manual_seed(seed))


def greedy_transformers(hf, prompt, n: int):
    hf.generation_config.eos_token_id = None  # compare all n tokens; ours never stops at eos either
    return hf.generate(
        prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=n, do_sample=False, pad_token_id=0
    )


def incremental_logits(model, ids, prefill: int):
    cache = model.new_cache()
    steps = [model(ids[:, :prefill], past=cache)]
    steps += [model(ids[:, j : j + 1], past=cache) for j in range(prefill, ids.shape[1])]
    return torch.cat(steps, dim=1)


@pytest.mark.parametrize("model_id", FIDELITY_IDS, ids=FIDELITY_IDS)
def test_logits_greedy_and_cache_equal_transformers(model_id):
    spec = tiny(get(model_id).spec)
    model = build_reference(spec, seed=0)
    hf = transformers_twin(spec, model)
    length = sequence_length(spec)
    if spec.positions.scaling.type != "none":
        assert length > spec.original_context  # the scaled frequencies are exercised
    ids_ = random_ids(spec, 2, length)
    with torch.no_grad():
        ours, theirs = model(ids_), hf(ids_).logits
        assert ours.shape == (2, length, spec.vocab_size)
        assert (ours - theirs).abs().max().item() <= TOL

        prompt = ids_[:, :6]
        assert torch.equal(model.generate_greedy(prompt, 20), greedy_transformers(hf, prompt, 20))

        # training view (whole sequence, causal mask) == inference view (KV cache, one token at a time)
        assert (incremental_logits(model, ids_, length // 3) - ours).abs().max().item() <= TOL


@pytest.mark.parametrize("model_id", sorted(set(ids()) - set(FIDELITY_IDS)), ids=lambda i: i)
def test_logits_equal_transformers_for_the_rest_of_the_catalog(model_id):
    spec = tiny(get(model_id).spec)
    model = build_reference(spec, seed=3)
    hf = transformers_twin(spec, model)
    ids_ = random_ids(spec, 2, sequence_length(spec))
    with torch.no_grad():
        assert (model(ids_) - hf(ids_).logits).abs().max().item() <= TOL


def _variant(model_id: str, family_rules: bool = True, **edits) -> object:
    data = tiny(get(model_id).spec).model_dump()
    for path, value in edits.items():
        node = data
        *parents, leaf = path.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    if not family_rules:  # choices no family uses: only the base schema's rules apply
        return ArchSpec.model_validate(data, context={"family_rules": False})
    return validate_spec(data, "test variant")


# Choices the catalog does not exercise but transformers' classes can express.
VARIANTS = {
    "llama-mha-all-biases": lambda: _variant(
        "llama-2-7b", attention__qkv_bias=True, attention__out_bias=True, mlp__bias=True
    ),
    "llama-mqa": lambda: _variant("llama-3-8b", attention__num_kv_heads=1),
    "llama-geglu": lambda: _variant("llama-2-7b", mlp__kind="geglu"),
    "llama-linear-scaling": lambda: _variant("llama-2-7b", positions__scaling={"type": "linear", "factor": 4.0}),
    "llama-dynamic-ntk": lambda: _variant(
        "llama-2-7b", max_position_embeddings=32, positions__scaling={"type": "dynamic", "factor": 2.0}
    ),
    "llama-yarn": lambda: _variant(
        "llama-2-7b", positions__scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64}
    ),
    "qwen2-sliding-window": lambda: _variant(
        "qwen2.5-7b", long_context={"sliding_window": {"enabled": True, "window": 12, "max_window_layers": 2}}
    ),
    "glm4-0414-untied-mqa": lambda: _variant("glm-4-9b-0414", attention__num_kv_heads=1, attention__num_heads=4),
}


@pytest.mark.parametrize("name", sorted(VARIANTS), ids=sorted(VARIANTS))
def test_variants_equal_transformers(name):
    spec = VARIANTS[name]()
    model = build_reference(spec, seed=5)
    hf = transformers_twin(spec, model)
    length = max(48, sequence_length(spec))
    ids_ = random_ids(spec, 2, length)
    with torch.no_grad():
        ours = model(ids_)
        assert (ours - hf(ids_).logits).abs().max().item() <= TOL
        if spec.positions.scaling.type != "dynamic":
            # Dynamic NTK's base depends on the current length, so keys cached at a shorter
            # length were rotated differently: transformers' cache behaves the same way.
            assert (incremental_logits(model, ids_, length // 2) - ours).abs().max().item() <= TOL
        prompt = ids_[:, :6]
        assert torch.equal(model.generate_greedy(prompt, 20), greedy_transformers(hf, prompt, 20))


def test_sliding_window_changes_the_output():
    """The window variant above would pass vacuously if the window never cut in."""
    windowed = VARIANTS["qwen2-sliding-window"]()
    full = windowed.model_copy(
        update={"long_context": windowed.long_context.model_copy(update={"sliding_window": None})}
    )
    a, b = build_reference(windowed, seed=5), build_reference(full, seed=5)
    ids_ = random_ids(windowed, 1, 40)
    with torch.no_grad():
        assert (a(ids_)[:, :12] - b(ids_)[:, :12]).abs().max() <= TOL
        assert (a(ids_)[:, 20:] - b(ids_)[:, 20:]).abs().max() > 1e-3


# Choices with no transformers class: only internal consistency can be checked.
LOCAL_ONLY = {
    "post-norm-layernorm-gelu": lambda: _variant(
        "llama-2-7b", False, norm__kind="layernorm", norm__placement="post", mlp__kind="gelu"
    ),
    "relu-no-final-norm": lambda: _variant("llama-3-8b", False, mlp__kind="relu", norm__final_norm=False),
    "chatglm-layernorm-linear-bias": lambda: _variant(
        "chatglm2-6b", norm__kind="layernorm", attention__out_bias=True, mlp__bias=True
    ),
}


@pytest.mark.parametrize("name", sorted(LOCAL_ONLY), ids=sorted(LOCAL_ONLY))
def test_choices_without_transformers_class_are_consistent(name):
    spec = LOCAL_ONLY[name]()
    model = build_reference(spec, seed=2)
    expected = {s.name: s.shape for s in layout(spec, reference_convention(spec))}
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected
    ids_ = random_ids(spec, 2, 24)
    with torch.no_grad():
        assert (incremental_logits(model, ids_, 10) - model(ids_)).abs().max().item() <= TOL


@pytest.mark.parametrize("model_id", sorted(ids()), ids=lambda i: i)
def test_state_dict_equals_layout(model_id):
    spec = tiny(get(model_id).spec)
    with torch.device("meta"):
        from modelkin.reference.reference import ReferenceModel

        model = ReferenceModel(spec)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert reference_convention(spec) == default_convention(spec)
    assert ours == {s.name: s.shape for s in layout(spec, default_convention(spec))}


# --- saved folders -------------------------------------------------------------------


@pytest.mark.parametrize("model_id", list(PER_GENERATION.values()), ids=list(PER_GENERATION.values()))
def test_saved_folder_loads_in_transformers(model_id, tmp_path):
    spec = tiny(get(model_id).spec)
    saved = save_hf_folder(spec, tmp_path / "m", seed=0, name=model_id)
    hf, info = AutoModelForCausalLM.from_pretrained(tmp_path / "m", output_loading_info=True, dtype=torch.float32)
    mtp = [f"model.layers.{spec.num_layers + j}." for j in range(spec.layers.mtp)]
    info["unexpected_keys"] = [k for k in info["unexpected_keys"] if not k.startswith(tuple(mtp) or ("\0",))]
    assert {k: v for k, v in info.items() if v} == {}
    assert type(hf).__name__ == spec_to_hf(spec)["architectures"][0]
    tok = AutoTokenizer.from_pretrained(tmp_path / "m")
    assert len(tok) == saved.spec.tokenizer.vocab_size <= spec.vocab_size
    enc = tok("Attention is all you need. 注意力机制。 def f(x): return x", return_tensors="pt")
    out = hf.generate(**enc, max_new_tokens=4, do_sample=False)
    assert out.shape[1] >= enc.input_ids.shape[1] + 1
    ours = load_reference(tmp_path / "m")
    assert ours.spec.generation == spec.generation
    ids_ = random_ids(spec, 2, 32)
    with torch.no_grad():
        assert (ours(ids_) - hf(ids_).logits).abs().max().item() <= TOL


@pytest.mark.parametrize("model_id", ["chatglm2-6b", "chatglm3-6b", "glm-4-9b-chat-1m"])
def test_chatglm_layout_round_trip(model_id, tmp_path):
    spec = tiny(get(model_id).spec)
    model = build_reference(spec, seed=4)
    save_hf_folder(model, tmp_path / "m", fmt="chatglm", name=model_id)
    sub = tmp_path / "m" / "chatglm"
    from safetensors import safe_open

    with safe_open(str(sub / "model.safetensors"), framework="pt") as f:
        names = set(f.keys())
        qkv = f.get_tensor("transformer.encoder.layers.0.self_attention.query_key_value.weight")
    assert names == {s.name for s in layout(spec, "chatglm")}
    sd = model.state_dict()
    fused = torch.cat([sd[f"model.layers.0.self_attn.{p}_proj.weight"] for p in "qkv"]).to(qkv.dtype)
    assert torch.equal(qkv, fused)
    back = load_reference(sub)
    assert back.spec.generation == spec.generation
    ids_ = random_ids(spec, 2, 32)
    native = load_reference(tmp_path / "m")  # same weights, rounded to the saved dtype
    with torch.no_grad():
        assert torch.equal(back(ids_), native(ids_))


def test_thudm_only_glm_spec_is_written_as_chatglm_and_read_back(tmp_path):
    """LayerNorm + linear-bias GLM has no transformers class: the folder is ChatGLM-layout."""
    spec = LOCAL_ONLY["chatglm-layernorm-linear-bias"]()
    model = build_reference(spec, seed=6)
    saved = save_hf_folder(model, tmp_path / "m", name="chatglm2-6b")
    assert "chatglm/config.json" not in saved.files
    import json

    assert json.loads((tmp_path / "m" / "config.json").read_text())["model_type"] == "chatglm"
    back = load_reference(tmp_path / "m")
    saved_dtype = getattr(torch, spec.dtype or "float32")  # weights are stored in the spec's dtype
    rounded = build_reference(spec, seed=6)
    rounded.load_state_dict({k: v.to(saved_dtype).float() for k, v in model.state_dict().items()})
    ids_ = random_ids(spec, 2, 20)
    with torch.no_grad():
        assert torch.equal(back(ids_), rounded(ids_))
