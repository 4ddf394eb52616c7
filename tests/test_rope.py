"""RoPE: frequencies, attention factor and rotation against transformers; tiny builds with
YaRN / llama3 scaling and a sliding window against transformers' models."""

from __future__ import annotations

import itertools
import math

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from transformers import LlamaConfig  # noqa: E402
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS  # noqa: E402
from transformers.models.glm import modeling_glm  # noqa: E402
from transformers.models.llama import modeling_llama  # noqa: E402

from modelkin.configs import get  # noqa: E402
from modelkin.families import spec_to_hf, validate_spec  # noqa: E402
from modelkin.families.rope_math import full_turns_within, spec_frequencies, wavelengths  # noqa: E402
from modelkin.families.spec import NoScaling  # noqa: E402
from modelkin.families.tiny import tiny  # noqa: E402
from modelkin.reference.rope import Rope, apply_rope  # noqa: E402

MAX_POS = 4096

SCALINGS = [
    {"type": "none"},
    {"type": "linear", "factor": 2.0},
    {"type": "linear", "factor": 8.0},
    {"type": "dynamic", "factor": 2.0},
    {"type": "dynamic", "factor": 4.0},
    {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024},
    {"type": "yarn", "factor": 32.0, "original_max_position_embeddings": 128, "beta_fast": 16.0, "beta_slow": 2.0},
    {"type": "yarn", "factor": 8.0, "original_max_position_embeddings": 512, "attention_factor": 0.8},
    {"type": "yarn", "factor": 40.0, "original_max_position_embeddings": 4096, "mscale": 1.0, "mscale_all_dim": 0.707},
    {"type": "yarn", "factor": 4.0, "truncate": False},
    {
        "type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    },
    {
        "type": "llama3",
        "factor": 32.0,
        "low_freq_factor": 2.0,
        "high_freq_factor": 8.0,
        "original_max_position_embeddings": 128,
    },
]
HEADS = [(16, 1.0), (64, 0.5), (128, 1.0)]  # (head_dim, rotary_fraction)
BASES = [(10_000.0, 1.0), (1_000_000.0, 1.0), (10_000.0, 500.0)]  # (theta, rope_ratio): GLM-4-9B-Chat's base


def case_id(case) -> str:
    scaling, (head_dim, frac), (theta, ratio) = case
    extra = ",".join(f"{k}={v}" for k, v in scaling.items() if k != "type")
    return f"{scaling['type']}({extra})-hd{head_dim}x{frac}-base{theta:g}x{ratio:g}"


CASES = list(itertools.product(SCALINGS, HEADS, BASES))


def transformers_frequencies(scaling: dict, head_dim: int, frac: float, base: float, seq_len: int | None):
    """transformers' own rope initialisation for the same parameters (the truth)."""
    params = {k: v for k, v in scaling.items() if k != "type"}
    rope_type = {"none": "default"}.get(scaling["type"], scaling["type"])
    config = LlamaConfig(
        hidden_size=4 * head_dim,
        num_attention_heads=4,
        head_dim=head_dim,
        max_position_embeddings=MAX_POS,
        rope_parameters={"rope_type": rope_type, "rope_theta": base, "partial_rotary_factor": frac, **params},
    )
    if rope_type == "default":
        # Llama's default ignores partial rotary; GLM's honours it (same formula otherwise).
        return modeling_glm.GlmRotaryEmbedding.compute_default_rope_parameters(config)
    return ROPE_INIT_FUNCTIONS[rope_type](config, seq_len=seq_len)


def spec_with(scaling: dict, head_dim: int, frac: float, theta: float, ratio: float):
    """A valid GLM-family spec carrying these positions (GLM allows partial rotary and rope_ratio)."""
    data = tiny(get("glm-4-9b-chat").spec).model_dump()
    data["attention"]["head_dim"] = head_dim
    data["max_position_embeddings"] = MAX_POS
    data["positions"] = {
        "theta": theta,
        "rope_ratio": ratio,
        "rotary_fraction": frac,
        "layout": "interleaved",
        "scaling": scaling,
    }
    return validate_spec(data, "test")


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_frequencies_and_attention_factor_equal_transformers(case):
    scaling, (head_dim, frac), (theta, ratio) = case
    spec = spec_with(scaling, head_dim, frac, theta, ratio)
    assert spec.positions.base == theta * ratio
    lengths = [None, 3 * MAX_POS + 5] if scaling["type"] == "dynamic" else [None]
    for seq_len in lengths:
        want, want_factor = transformers_frequencies(scaling, head_dim, frac, theta * ratio, seq_len)
        want = want.double()
        ours, factor = spec_frequencies(spec, seq_len)  # pure Python
        assert len(ours) == spec.rotary_dim // 2 == want.numel()
        assert factor == pytest.approx(want_factor, rel=1e-12)
        # transformers computes in float32: agreement to float32 precision.
        torch.testing.assert_close(torch.tensor(ours, dtype=torch.float64), want, rtol=1e-6, atol=0)
        rope = Rope(spec)  # torch
        torch.testing.assert_close(rope.inv_freq(seq_len), want, rtol=1e-6, atol=0)
        assert rope.attention_factor == pytest.approx(want_factor, rel=1e-12)


def test_scalings_really_change_frequencies():
    """Guard against a grid that passes trivially: each scaling moves some frequency."""
    plain, _ = transformers_frequencies({"type": "none"}, 64, 1.0, 10_000.0, None)
    for scaling in SCALINGS[1:]:
        scaled, _ = transformers_frequencies(scaling, 64, 1.0, 10_000.0, 3 * MAX_POS)
        assert not torch.allclose(plain, scaled), scaling


def test_wavelength_helpers():
    inv = [1.0, 2 * math.pi / 100, 2 * math.pi / 5000]
    assert wavelengths(inv) == pytest.approx([2 * math.pi, 100, 5000])
    assert full_turns_within(inv, 4096) == 2


@pytest.mark.parametrize(
    "module, layout, head_dim, rotary_dim",
    [
        (modeling_llama, "half-split", 16, 16),
        (modeling_llama, "half-split", 64, 64),
        (modeling_glm, "interleaved", 16, 8),
        (modeling_glm, "interleaved", 64, 32),
        (modeling_glm, "interleaved", 16, 16),
    ],
)
def test_apply_rope_equals_transformers(module, layout, head_dim, rotary_dim):
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, 11, head_dim, generator=generator)
    k = torch.randn(2, 3, 11, head_dim, generator=generator)
    angles = torch.rand(2, 11, rotary_dim // 2, generator=generator) * 50
    table = torch.cat((angles, angles), dim=-1)
    cos, sin = table.cos(), table.sin()
    want_q, want_k = module.apply_rotary_pos_emb(q, k, cos, sin)
    torch.testing.assert_close(apply_rope(q, cos, sin, layout, rotary_dim), want_q, atol=1e-6, rtol=0)
    torch.testing.assert_close(apply_rope(k, cos, sin, layout, rotary_dim), want_k, atol=1e-6, rtol=0)
    # The pass-through dims really pass through, and the rotated ones really move.
    assert torch.equal(apply_rope(q, cos, sin, layout, rotary_dim)[..., rotary_dim:], q[..., rotary_dim:])
    assert not torch.allclose(want_q[..., :rotary_dim], q[..., :rotary_dim])


def test_interleaved_differs_from_half_split():
    """Both layouts are exercised: on the same input they disagree."""
    x = torch.randn(1, 1, 5, 16, generator=torch.Generator().manual_seed(1))
    table = torch.rand(1, 5, 8, generator=torch.Generator().manual_seed(2)) * 10
    cos, sin = torch.cat((table, table), -1).cos(), torch.cat((table, table), -1).sin()
    assert not torch.allclose(apply_rope(x, cos, sin, "half-split", 16), apply_rope(x, cos, sin, "interleaved", 16))


@pytest.mark.parametrize("scaling", [s for s in SCALINGS if s["type"] != "none"][:8], ids=lambda s: s["type"])
def test_cos_sin_equal_transformers_rotary_embedding(scaling):
    """Rope.cos_sin vs transformers' LlamaRotaryEmbedding forward, beyond the original length.

    For dynamic NTK this exercises transformers' dynamic update (the base grows with the
    largest position). transformers forms angles in float32, so the tolerance is the
    float32 rounding of the largest angle: positions × 2^-24 radians."""
    head_dim, max_pos = 32, 64
    params = {k: v for k, v in scaling.items() if k != "type"}
    if "original_max_position_embeddings" in params:
        params["original_max_position_embeddings"] = 32
    config = LlamaConfig(
        hidden_size=4 * head_dim,
        num_attention_heads=4,
        head_dim=head_dim,
        max_position_embeddings=max_pos,
        rope_parameters={"rope_type": scaling["type"], "rope_theta": 10_000.0, **params},
    )
    embedding = modeling_llama.LlamaRotaryEmbedding(config)
    spec = spec_with({**scaling, **params}, head_dim, 1.0, 10_000.0, 1.0).model_copy(
        update={"max_position_embeddings": max_pos}
    )
    rope = Rope(spec)
    n = 3 * max_pos
    positions = torch.arange(n)[None].expand(2, n)
    want_cos, want_sin = embedding(torch.zeros(1), positions)
    cos, sin = rope.cos_sin(positions)
    assert cos.shape == want_cos.shape == (2, n, head_dim)
    tol = 4 * n * 2**-24 * max(rope.attention_factor, 1.0)
    torch.testing.assert_close(cos, want_cos, atol=tol, rtol=0)
    torch.testing.assert_close(sin, want_sin, atol=tol, rtol=0)
    if scaling["type"] == "dynamic":
        # transformers' update really happened, and to the same frequencies.
        assert not torch.allclose(embedding.inv_freq, embedding.original_inv_freq)
        torch.testing.assert_close(rope.inv_freq(n), embedding.inv_freq.double(), rtol=1e-6, atol=0)


# --- tiny models against transformers --------------------------------------------------


def _hf_model_from_reference(spec, model):
    """transformers' model for `spec` carrying the reference model's weights."""
    config = transformers.AutoConfig.for_model(**spec_to_hf(spec))
    # Qwen2/Llama exports omit head_dim when the family's files do; the tiny specs need it.
    config.head_dim = spec.attention.head_dim
    config._attn_implementation = "eager"
    hf = transformers.AutoModelForCausalLM.from_config(config).float().eval()
    missing, unexpected = hf.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and all("rotary" in m or "lm_head" in m for m in missing), (missing, unexpected)
    return hf


def _reference():
    from modelkin.reference import reference

    return reference


@pytest.mark.parametrize("model_id, scaling", [("qwen2-7b-instruct", "yarn"), ("llama-3.1-8b", "llama3")])
def test_tiny_scaled_rope_matches_transformers_beyond_original_length(model_id, scaling):
    reference = _reference()
    spec = tiny(get(model_id).spec)
    assert spec.positions.scaling.type == scaling
    # Beyond the tiny original length (Qwen2-7B-Instruct states max_position_embeddings
    # = original = 32768 and reaches 128k only through YaRN's factor 4).
    n = 2 * spec.original_context
    model = reference.build_reference(spec, seed=0)
    hf = _hf_model_from_reference(spec, model)
    ids = torch.randint(0, spec.vocab_size, (2, n), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, theirs = model(ids), hf(ids).logits
    diff = float((ours - theirs).abs().max())
    assert diff <= 1e-5, diff
    # The scaling matters at this length: without it the logits change.
    plain_positions = spec.positions.model_copy(update={"scaling": NoScaling()})
    plain = reference.build_reference(spec.model_copy(update={"positions": plain_positions}), seed=0)
    with torch.no_grad():
        assert float((plain(ids) - ours).abs().max()) > 1e-4


def test_sliding_window_matches_transformers_qwen2():
    reference = _reference()
    base = tiny(get("qwen2.5-7b").spec).model_dump()
    base["long_context"]["sliding_window"] = {"enabled": True, "window": 24, "max_window_layers": 2}
    spec = validate_spec(base, "tiny qwen2.5-7b with a window")
    assert spec.attention_kinds() == ["full", "full", "sliding", "sliding"]
    model = reference.build_reference(spec, seed=0)
    hf = _hf_model_from_reference(spec, model)
    assert hf.config.layer_types == ["full_attention", "full_attention", "sliding_attention", "sliding_attention"]
    assert hf.config.sliding_window == 24
    n = 80  # longer than the window
    ids = torch.randint(0, spec.vocab_size, (2, n), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = model(ids), hf(ids).logits
    diff = float((ours - theirs).abs().max())
    assert diff <= 1e-5, diff
    # The window matters: the same weights without it give other logits.
    unwindowed = spec.model_copy(update={"long_context": spec.long_context.model_copy(update={"sliding_window": None})})
    plain = reference.build_reference(unwindowed, seed=0)
    with torch.no_grad():
        assert float((plain(ids) - ours).abs().max()) > 1e-4


# --- `modelkin rope ID` ------------------------------------------------------------------


def _rope_cmd(*argv: str) -> str:
    import argparse

    from modelkin.rope_view import add_arguments, run

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return run(parser.parse_args(list(argv)))


@pytest.mark.parametrize("model_id", ["llama-3.1-8b", "qwen2-7b-instruct", "glm-4-9b-chat", "chatglm2-6b"])
def test_rope_command_figures_equal_transformers(model_id):
    """Wavelengths and full-turn counts printed by `modelkin rope` follow from transformers'
    inverse frequencies for the same config."""
    import json

    spec = get(model_id).spec
    out = json.loads(_rope_cmd(model_id, "--format", "json", "--all"))
    config = LlamaConfig(
        hidden_size=4 * spec.attention.head_dim,
        num_attention_heads=4,
        head_dim=spec.attention.head_dim,
        max_position_embeddings=spec.max_position_embeddings,
        rope_parameters={
            "rope_type": {"none": "default"}.get(spec.positions.scaling.type, spec.positions.scaling.type),
            "rope_theta": spec.positions.base,
            "partial_rotary_factor": spec.positions.rotary_fraction,
            **spec.positions.scaling.model_dump(exclude_none=True, exclude={"type"}),
        },
    )
    if spec.positions.scaling.type == "none":
        inv, factor = modeling_glm.GlmRotaryEmbedding.compute_default_rope_parameters(config)
    else:
        inv, factor = ROPE_INIT_FUNCTIONS[spec.positions.scaling.type](config)
    lengths = (2 * math.pi / inv.double()).tolist()
    assert out["rotary_dim"] == spec.rotary_dim == 2 * len(lengths)
    assert out["base"] == config.rope_parameters["rope_theta"]
    assert out["attention_factor"] == pytest.approx(factor)
    assert out["shortest_wavelength"] == pytest.approx(min(lengths), rel=1e-6)
    assert out["longest_wavelength"] == pytest.approx(max(lengths), rel=1e-6)
    original = spec.original_context
    assert out["full_turn_pairs_in_original_context"] == sum(1 for w in lengths if w <= original)
    assert [p["wavelength"] for p in out["per_pair"]] == pytest.approx(lengths, rel=1e-6)
    for fmt in ("table", "markdown", "csv"):
        assert "rotary dims" in _rope_cmd(model_id, "--format", fmt)
    assert _rope_cmd(model_id, "--format", "csv", "--all").count("\n") == len(lengths)


def test_rope_command_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import argparse, sys\n"
        "from modelkin.rope_view import add_arguments, run\n"
        "p = argparse.ArgumentParser(); add_arguments(p)\n"
        "text = run(p.parse_args(['qwen2.5-7b-instruct-1m', '--all']))\n"
        "assert 'dual chunk' in text, text\n"
        "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
