"""Dual Chunk Attention proofs.

The truth for the chunked implementation is a slow version written directly from the
three position-index matrices of /work/shared/notes/dual-chunk-attention.md (served
semantics): one Tq × Tk matrix of query positions, each pair rotated on its own, one
softmax. It does not use modelkin's position function.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from modelkin.configs import get  # noqa: E402
from modelkin.errors import InvalidSpec  # noqa: E402
from modelkin.families import validate_spec  # noqa: E402
from modelkin.families.rope_math import dca_exact_limit, dca_max_distance, dca_positions  # noqa: E402
from modelkin.families.spec import DualChunkAttention  # noqa: E402
from modelkin.families.tiny import tiny  # noqa: E402
from modelkin.reference.builder import check_one_chunk  # noqa: E402
from modelkin.reference.dca import dca_attention  # noqa: E402
from modelkin.reference.rope import Rope, apply_rope  # noqa: E402

HEAD_DIM = 16


def make_spec(layout: str = "half-split", fraction: float = 1.0, scaling: dict | None = None):
    """A tiny Qwen2.5-1M spec (DCA configured) with the given RoPE layout; GLM for interleaved."""
    source = "qwen2.5-7b-instruct-1m" if layout == "half-split" else "glm-4-9b-chat"
    data = tiny(get(source).spec).model_dump()
    data["positions"].update(layout=layout, rotary_fraction=fraction, scaling=scaling or {"type": "none"})
    return validate_spec(data, "test")


# --- the obviously-correct slow version ------------------------------------------------


def slow_dca(q, k, v, dca: DualChunkAttention, rope: Rope, layout: str, rotary_dim: int, total_length: int):
    """Causal DCA over absolute positions 0..Tk−1, queries at the last Tq of them."""
    b, hq, tq, d = q.shape
    tk, group = k.shape[2], hq // k.shape[1]
    cs, ls = dca.chunk_size, dca.local_size
    L = cs - ls
    qi = torch.arange(tk - tq, tk)[:, None]
    kj = torch.arange(tk)[None, :]
    delta = qi // L - kj // L
    # The notes' table: query position per (i, j) pair; keys always at r(j).
    intra = (qi % L).expand(tq, tk)
    successive = torch.clamp(L + qi % L, max=cs).expand(tq, tk)
    inter = torch.full((tq, tk), min(2 * L - 1, cs))
    query_pos = torch.where(delta == 0, intra, torch.where(delta == 1, successive, inter))
    key_pos = kj[0] % L
    cos, sin = rope.cos_sin(query_pos.flatten(), seq_len=total_length, dtype=torch.float64)
    cos, sin = cos.view(1, 1, tq, tk, -1), sin.view(1, 1, tq, tk, -1)
    q_pairs = apply_rope(q[:, :, :, None, :].expand(b, hq, tq, tk, d), cos, sin, layout, rotary_dim)
    k_cos, k_sin = rope.cos_sin(key_pos, seq_len=total_length, dtype=torch.float64)
    k_rot = apply_rope(k, k_cos, k_sin, layout, rotary_dim).repeat_interleave(group, dim=1)
    original = dca.original_max_position_embeddings
    s = max(1.0, 0.1 * math.log(total_length / original) + 1) if total_length > original else 1.0
    scores = (q_pairs * k_rot[:, :, None]).sum(-1) * d**-0.5 * s * s
    scores = scores.masked_fill(kj > qi, float("-inf"))
    return scores.softmax(-1) @ v.repeat_interleave(group, dim=1)


def plain_causal(q, k, v, rope: Rope, layout: str, rotary_dim: int):
    """Ordinary causal RoPE attention at absolute positions (transformers' eager formula)."""
    n, group = k.shape[2], q.shape[1] // k.shape[1]
    cos, sin = rope.cos_sin(torch.arange(n), dtype=torch.float64)
    qr = apply_rope(q, cos, sin, layout, rotary_dim)
    kr = apply_rope(k, cos, sin, layout, rotary_dim).repeat_interleave(group, dim=1)
    scores = qr @ kr.transpose(-1, -2) * q.shape[-1] ** -0.5
    scores = scores.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), float("-inf"))
    return scores.softmax(-1) @ v.repeat_interleave(group, dim=1)


def random_qkv(n: int, heads: int = 4, kv_heads: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    shape_q, shape_kv = (2, heads, n, HEAD_DIM), (2, kv_heads, n, HEAD_DIM)
    return (
        torch.randn(shape_q, generator=g, dtype=torch.float64),
        torch.randn(shape_kv, generator=g, dtype=torch.float64) * 3,  # sharp enough that positions matter
        torch.randn(shape_kv, generator=g, dtype=torch.float64),
    )


def run_dca(q, k, v, dca, rope, layout, rotary_dim, total_length, q_start=None, hook=None, inter_block=None):
    tk = k.shape[2]
    q_start = tk - q.shape[2] if q_start is None else q_start
    return dca_attention(
        q,
        k,
        v,
        q_positions=torch.arange(q_start, q_start + q.shape[2]),
        k_positions=torch.arange(tk),
        rope=rope,
        layout=layout,
        rotary_dim=rotary_dim,
        config=dca,
        scale=HEAD_DIM**-0.5,
        total_length=total_length,
        tile_hook=hook,
        inter_block=inter_block,
    )


LAYOUTS = [("half-split", 1.0), ("interleaved", 0.5)]


# --- proof 1: one chunk = ordinary attention ---------------------------------------------


@pytest.mark.parametrize("layout, fraction", LAYOUTS)
@pytest.mark.parametrize("cs, ls", [(16, 4), (16, 12), (32, 3)])
def test_equals_ordinary_attention_exactly_up_to_the_limit(layout, fraction, cs, ls):
    spec = make_spec(layout, fraction)
    rope, rd = Rope(spec), spec.rotary_dim
    dca = DualChunkAttention(chunk_size=cs, local_size=ls, original_max_position_embeddings=1024)  # s = 1
    limit = min(cs + 1, 2 * (cs - ls))  # the notes' "iff" bound
    assert dca_exact_limit(dca) == limit
    q, k, v = random_qkv(limit + 1)
    for n in (1, cs - ls, limit):  # one token, a full first chunk, the longest exact sequence
        got = run_dca(q[:, :, :n], k[:, :, :n], v[:, :, :n], dca, rope, layout, rd, n)
        want = plain_causal(q[:, :, :n], k[:, :, :n], v[:, :, :n], rope, layout, rd)
        assert float((got - want).abs().max()) <= 1e-6, n
    # One token more and DCA departs from ordinary attention (the bound is tight).
    n = limit + 1
    got = run_dca(q, k, v, dca, rope, layout, rd, n)
    assert float((got - plain_causal(q, k, v, rope, layout, rd)).abs().max()) > 1e-6


def test_length_scale_breaks_equality_within_one_chunk():
    """s > 1 once n exceeds the original length, even inside one chunk."""
    spec = make_spec()
    rope = Rope(spec)
    dca = DualChunkAttention(chunk_size=32, local_size=4, original_max_position_embeddings=32)
    q, k, v = random_qkv(20)
    want = plain_causal(q, k, v, rope, "half-split", 16)
    assert float((run_dca(q, k, v, dca, rope, "half-split", 16, 20) - want).abs().max()) <= 1e-6
    assert float((run_dca(q, k, v, dca, rope, "half-split", 16, 20_000) - want).abs().max()) > 1e-3


def test_check_one_chunk_on_the_tiny_1m_model():
    spec = tiny(get("qwen2.5-7b-instruct-1m").spec)
    assert spec.long_context.dual_chunk is not None
    assert check_one_chunk(spec) <= 1e-5
    with pytest.raises(InvalidSpec, match="dual_chunk"):
        check_one_chunk(tiny(get("qwen2.5-7b").spec))


# --- proof 2: chunked = slow version from the position matrices ---------------------------

CONFIGS = [
    DualChunkAttention(chunk_size=16, local_size=4, original_max_position_embeddings=32),  # L = 12, s > 1
    DualChunkAttention(chunk_size=10, local_size=3, original_max_position_embeddings=1000),  # L = 7, s = 1
]


@pytest.mark.parametrize("inter_block", [None, 5], ids=["one-inter-tile", "inter-tiles-of-5"])
@pytest.mark.parametrize("layout, fraction", LAYOUTS)
@pytest.mark.parametrize("dca", CONFIGS, ids=["cs16-ls4", "cs10-ls3"])
def test_chunked_equals_slow_full_sequence(layout, fraction, dca, inter_block):
    spec = make_spec(layout, fraction, {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64})
    rope, rd = Rope(spec), spec.rotary_dim
    n = 5 * (dca.chunk_size - dca.local_size) - 3  # spans 5 chunks, the last one partial
    q, k, v = random_qkv(n, heads=6, kv_heads=2)
    got = run_dca(q, k, v, dca, rope, layout, rd, n, inter_block=inter_block)
    want = slow_dca(q, k, v, dca, rope, layout, rd, n)
    assert float((got - want).abs().max()) <= 1e-10
    # ... and it is not ordinary attention at this length.
    assert float((got - plain_causal(q, k, v, rope, layout, rd)).abs().max()) > 1e-3


@pytest.mark.parametrize("layout, fraction", LAYOUTS)
def test_token_by_token_decoding_equals_slow(layout, fraction):
    spec = make_spec(layout, fraction)
    rope, rd = Rope(spec), spec.rotary_dim
    dca = CONFIGS[0]
    n = 4 * 12 + 5
    q, k, v = random_qkv(n)
    for i in range(n):  # the cache holds keys 0..i; total length is i + 1 at that step
        got = run_dca(q[:, :, i : i + 1], k[:, :, : i + 1], v[:, :, : i + 1], dca, rope, layout, rd, i + 1)
        want = slow_dca(q[:, :, i : i + 1], k[:, :, : i + 1], v[:, :, : i + 1], dca, rope, layout, rd, i + 1)
        assert float((got - want).abs().max()) <= 1e-10, i


def test_prefill_then_decode_equals_slow():
    spec = make_spec()
    rope = Rope(spec)
    dca = CONFIGS[0]
    n, prefill = 60, 37
    q, k, v = random_qkv(n, seed=3)
    # Prefill: queries 0..36 over keys 0..36 (total 37).
    got = run_dca(q[:, :, :prefill], k[:, :, :prefill], v[:, :, :prefill], dca, rope, "half-split", 16, prefill)
    want = slow_dca(q[:, :, :prefill], k[:, :, :prefill], v[:, :, :prefill], dca, rope, "half-split", 16, prefill)
    assert float((got - want).abs().max()) <= 1e-10
    # Decode the rest in uneven steps (several queries at once cross chunk borders).
    start = prefill
    for step in (1, 5, 12, 4, 1):
        end = start + step
        got = run_dca(q[:, :, start:end], k[:, :, :end], v[:, :, :end], dca, rope, "half-split", 16, end)
        want = slow_dca(q[:, :, start:end], k[:, :, :end], v[:, :, :end], dca, rope, "half-split", 16, end)
        assert float((got - want).abs().max()) <= 1e-10, (start, end)
        start = end
    assert start == n


def test_reference_model_decoding_with_cache_equals_full_forward():
    """Model level: the reference model's DCA path with its KV cache (prefill + decode)
    gives the full forward's logits, on a sequence spanning several chunks (s = 1)."""
    from modelkin.reference import reference

    data = tiny(get("qwen2.5-7b-instruct-1m").spec).model_dump()
    data["long_context"]["dual_chunk"] = {"chunk_size": 16, "local_size": 4, "original_max_position_embeddings": 128}
    spec = validate_spec(data, "test")
    model = reference.build_reference(spec, seed=0)
    ids = torch.randint(0, spec.vocab_size, (2, 60), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full = model(ids)
        cache = model.new_cache()
        steps = [model(ids[:, :30], past=cache)] + [model(ids[:, i : i + 1], past=cache) for i in range(30, 60)]
    assert float((torch.cat(steps, dim=1) - full).abs().max()) <= 1e-5


# --- memory: score tiles are at most L × n ----------------------------------------------------


def test_score_tiles_never_exceed_chunk_by_sequence():
    spec = make_spec()
    rope = Rope(spec)
    dca = CONFIGS[0]
    L = dca.chunk_size - dca.local_size
    n = 8 * L + 5
    q, k, v = random_qkv(n)
    for inter_block in (None, L):
        tiles: list[tuple[str, int, int]] = []
        run_dca(
            q,
            k,
            v,
            dca,
            rope,
            "half-split",
            16,
            n,
            inter_block=inter_block,
            hook=lambda part, rows, cols: tiles.append((part, rows, cols)),  # noqa: B023 (called before the loop moves on)
        )
        assert {part for part, _, _ in tiles} == {"intra", "successive", "inter"}
        assert max(rows for _, rows, _ in tiles) <= L
        assert max(rows * cols for _, rows, cols in tiles) <= L * n
        assert max(rows * cols for _, rows, cols in tiles) < n * n // 4  # far from n × n
    assert max(rows * cols for _, rows, cols in tiles) <= L * L  # with blocks of L keys: L × L


# --- proof 3: distances RoPE sees (pure Python) ---------------------------------------------


def sizes():
    return st.integers(2, 64).flatmap(lambda cs: st.tuples(st.just(cs), st.integers(1, cs - 1)))


@settings(max_examples=150, deadline=None)
@given(sizes=sizes(), n=st.integers(1, 160))
def test_largest_distance_is_bounded_by_chunk_size(sizes, n):
    cs, ls = sizes
    original = cs  # the tightest valid config: chunk_size ≤ original_max_position_embeddings
    largest = max(q - k for i in range(n) for j in range(i + 1) for q, k in [dca_positions(i, j, cs, ls)])
    assert largest == dca_max_distance(n, cs, ls)
    assert largest <= cs <= original
    plain = n - 1  # ordinary RoPE: the distance of the first key from the last query
    assert largest <= plain
    if n > cs + 1:
        assert largest < plain  # plain RoPE's keeps growing with n, DCA's has stopped


@settings(max_examples=300, deadline=None)
@given(data=st.data(), sizes=sizes(), n=st.integers(1, 10**9))
def test_every_pair_distance_bounded_for_huge_sequences(data, sizes, n):
    cs, ls = sizes
    i = data.draw(st.integers(0, n - 1))
    j = data.draw(st.integers(0, i))
    q, k = dca_positions(i, j, cs, ls)
    assert 0 <= k < cs - ls
    assert 0 <= q - k <= cs
    chunks_apart = i // (cs - ls) - j // (cs - ls)
    if chunks_apart == 0 or (chunks_apart == 1 and i - j <= ls):
        assert q - k == i - j  # same chunk, or neighbours within the local window: exact distance
    elif i - j > cs:
        assert q - k < i - j
    assert dca_max_distance(n, cs, ls) <= cs


def test_max_distance_real_config():
    dca = get("qwen2.5-14b-instruct-1m").spec.long_context.dual_chunk
    assert (dca.chunk_size, dca.local_size, dca.original_max_position_embeddings) == (262144, 8192, 262144)
    for n in (1_000, 300_000, 1_010_000):
        assert dca_max_distance(n, dca.chunk_size, dca.local_size) <= dca.original_max_position_embeddings
    assert dca_max_distance(1_010_000, dca.chunk_size, dca.local_size) == dca.chunk_size
