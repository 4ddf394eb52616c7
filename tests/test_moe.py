"""Mixture of experts and mixed layers (Qwen2-MoE, Qwen3-MoE, GLM-4.5, Llama 4) against truth
we did not compute: transformers' own classes built from the *published* config.json on the
meta device (total, and active = all but the routed experts + k/E of them), the counts the
vendors publish, transformers' own saved config form (5.x keys) and its routers at tiny size.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from modelkin.configs import get  # noqa: E402
from modelkin.families import read_hf_config, spec_from_hf, spec_to_hf  # noqa: E402
from modelkin.families.accounting import (  # noqa: E402
    accounting,
    active_conventions,
    params_active,
    params_outside_model,
    params_total,
)

MOE_IDS = [
    "qwen1.5-moe-a2.7b",
    "qwen2-57b-a14b",
    "qwen3-30b-a3b",
    "qwen3-235b-a22b",
    "glm-4.5",
    "glm-4.5-air",
    "llama-4-scout-17b-16e",
    "llama-4-maverick-17b-128e",
]


@pytest.fixture(autouse=True, scope="module")
def _quiet():
    transformers.utils.logging.set_verbosity_error()


def transformers_model_from_published(config: dict):
    """transformers' class for the published file (Llama 4: the text model), on the meta device."""
    from transformers import AutoConfig, AutoModelForCausalLM, Llama4ForCausalLM, Llama4TextConfig

    config = json.loads(json.dumps(config))
    with torch.device("meta"):
        if config["model_type"] == "llama4":
            text = config["text_config"]
            # Scout publishes attn_temperature_tuning as the integer 4, which transformers 5's
            # strict config class refuses; it means "on".
            text["attn_temperature_tuning"] = bool(text.get("attn_temperature_tuning", True))
            return Llama4ForCausalLM(Llama4TextConfig(**text)), Llama4TextConfig(**text)
        hf_config = AutoConfig.for_model(**config)
        return AutoModelForCausalLM.from_config(hf_config), hf_config


def count_total_and_active(model, hf_config) -> tuple[int, int]:
    experts = getattr(hf_config, "num_local_experts", None) or hf_config.num_experts
    total = routed = 0
    for name, p in model.named_parameters():
        total += p.numel()
        if ".experts." in name:
            routed += p.numel()
    return total, total - routed + routed * hf_config.num_experts_per_tok // experts


@pytest.mark.parametrize("model_id", MOE_IDS)
def test_total_and_active_equal_transformers_built_from_the_published_config(model_id):
    entry = get(model_id)
    model, hf_config = transformers_model_from_published(entry.config)
    total, active = count_total_and_active(model, hf_config)
    assert (params_total(entry.spec), params_active(entry.spec)) == (total, active)


def test_qwen3_30b_a3b_counts_as_stated_in_the_issue():
    spec = get("qwen3-30b-a3b").spec
    assert params_total(spec) == 30_532_122_624
    assert params_active(spec) == 3_353_032_704


@pytest.mark.parametrize("model_id", MOE_IDS)
def test_published_counts_under_the_vendors_convention(model_id):
    """Published totals and active counts are rounded; GLM counts active parameters without
    the embedding and the head, the others everything a token passes through."""
    entry = get(model_id)
    spec = entry.spec
    if entry.published_params is not None:
        assert abs(params_total(spec) - entry.published_params.value) <= 0.03 * entry.published_params.value
    if entry.published_active_params is not None:
        conventions = active_conventions(spec)
        ours = conventions["without_embedding_and_head" if spec.generation == "glm-4.5" else "all_a_token_uses"]
        assert abs(ours - entry.published_active_params.value) <= 0.06 * entry.published_active_params.value


def test_glm_4_5_checkpoint_holds_the_mtp_layer_beside_the_model():
    spec = get("glm-4.5").spec
    h, v, e, w = 5120, 151552, 160, 1536
    attention = h * 96 * 128 + 96 * 128 + 2 * (h * 8 * 128 + 8 * 128) + 96 * 128 * h + 2 * 128
    moe_block = attention + 2 * h + e * 3 * h * w + 3 * h * w + e * h  # norms, experts, shared, router
    # enorm, hnorm, shared_head.norm, eh_proj, and copies of the embedding and of the head
    mtp = moe_block + 3 * h + 2 * h * h + 2 * v * h
    assert params_outside_model(spec) == {"mtp": mtp, "buffer": e * 90}  # 89 MoE layers + the MTP one


def test_kv_cache_per_layer_kind_llama_4_scout_at_1m_tokens():
    config = get("llama-4-scout-17b-16e").config["text_config"]
    context = 1_000_000
    per_token_layer = 2 * config["num_key_value_heads"] * config["head_dim"] * 2  # K and V, bf16
    nope = config["no_rope_layers"].count(0)
    chunked = config["num_hidden_layers"] - nope
    acc = accounting(get("llama-4-scout-17b-16e").spec, context=context)
    kv = acc["kv_cache"]
    assert kv["layers_by_attention_kind"] == {"chunked": chunked, "nope": nope} == {"chunked": 36, "nope": 12}
    assert kv["bytes_by_attention_kind"] == {
        "chunked": chunked * config["attention_chunk_size"] * per_token_layer,
        "nope": nope * context * per_token_layer,
    }
    assert kv["bytes"] == sum(kv["bytes_by_attention_kind"].values())


@pytest.mark.parametrize("model_id", MOE_IDS)
def test_round_trip_through_our_writer_and_transformers_saved_form(model_id):
    entry = get(model_id)
    spec = entry.spec
    written = spec_to_hf(spec)
    assert spec_from_hf(written) == spec
    # transformers' own form of the same file (5.x keys: rope_parameters, layer_types, ...)
    model, hf_config = transformers_model_from_published(entry.config)
    saved = hf_config.to_dict()
    if entry.config["model_type"] == "llama4":
        saved = {**saved, "model_type": "llama4_text"}
    read = read_hf_config(saved, generation=spec.generation)
    ignored = {"tokenizer"}
    if saved.get("sliding_window") == 0:
        ignored.add("long_context")  # Qwen2MoeConfig itself replaces an unused window by 0
        assert read.spec.long_context.sliding_window.window is None
    assert read.spec.model_dump(exclude=ignored) == spec.model_dump(exclude=ignored)


def test_multimodal_wrapper_is_read_through_its_text_config():
    read = read_hf_config(get("llama-4-scout-17b-16e").config)
    assert read.model_type == "llama4" and read.spec.generation == "llama-4"
    assert not any("unknown key" in w for w in read.warnings), read.warnings
    assert any("attn_temperature_tuning" in w for w in read.warnings)  # the published integer 4


def _tiny_check(spec, tmp_path):
    from modelkin.reference.builder import export

    torch.set_num_threads(1)
    lines, ok = export(spec, tmp_path / "m", check=True, tiny=True)
    assert ok, "\n".join(lines)
    return lines


def test_group_limited_routing_equals_transformers(tmp_path):
    """GLM-4.5's grouped router (n_group / topk_group) is not used by the published entries:
    checked at tiny size with 4 groups of which 2 are kept, 3 experts per token."""
    from modelkin.families.tiny import tiny
    from modelkin.reference.builder import apply_overrides

    spec = apply_overrides(
        tiny(get("glm-4.5").spec),
        ["moe.router.num_groups=4", "moe.router.groups_per_token=2", "moe.experts_per_token=3"],
    )
    _tiny_check(spec, tmp_path)


def test_routing_choices_change_the_output():
    """Each routing field is live: flipping it changes the reference's logits."""
    from modelkin.families.spec import ArchSpec
    from modelkin.families.tiny import tiny
    from modelkin.reference.reference import build_reference

    base = tiny(get("qwen3-30b-a3b").spec)
    ids = torch.randint(0, base.vocab_size, (1, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = build_reference(base, seed=1)(ids)
        for path, value in (("normalize", False), ("scoring", "sigmoid")):
            data = base.model_dump()
            data["moe"]["router"][path] = value
            # sigmoid scoring is no Qwen3-MoE choice: only the schema's own rules apply
            other = ArchSpec.model_validate(data, context={"family_rules": False})
            assert (build_reference(other, seed=1)(ids) - reference).abs().max() > 1e-4, path
