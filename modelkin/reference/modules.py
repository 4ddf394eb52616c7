"""The reference model's building blocks, each configured by one choice of the spec.

Attribute names are the Hugging Face checkpoint keys (`q_proj`, `gate_up_proj`,
`input_layernorm`, ...) so that `state_dict()` equals `layout(spec)` with no
translation table for the transformers-native conventions; ChatGLM's names are
the single mapping in `checkpoint.py`.

Numerics follow transformers 5.24 where it matters for a 1e-5 comparison:
RMSNorm in fp32 then cast, softmax scale 1/sqrt(head_dim), GeGLU with the tanh
GELU (`gelu_pytorch_tanh`, the activation name modelkin writes for GeGLU).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..families.spec import ArchSpec
from .rope import Rope, apply_rope


class RMSNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        # Normalise in fp32 and cast back before the weight, as transformers does,
        # so half-precision runs round the same way.
        dtype = x.dtype
        x32 = x.to(torch.float32)
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(dtype)


def make_norm(spec: ArchSpec, width: int | None = None) -> nn.Module:
    """The spec's norm over `width` features (default: the hidden size)."""
    width = width or spec.hidden_size
    if spec.norm.kind == "rmsnorm":
        return RMSNorm(width, spec.norm.eps)
    return nn.LayerNorm(width, eps=spec.norm.eps)  # weight + bias, as layout() expects


# --- MLP ---------------------------------------------------------------------------

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "swiglu": F.silu,
    "geglu": lambda x: F.gelu(x, approximate="tanh"),
    "gelu": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


class Mlp(nn.Module):
    """Gated (SwiGLU/GeGLU: act(gate) * up), fused or not, or plain (GELU/ReLU: act(up))."""

    def __init__(self, spec: ArchSpec) -> None:
        super().__init__()
        h, inter, bias = spec.hidden_size, spec.mlp.intermediate_size, spec.mlp.bias
        self.gated, self.fused = spec.mlp.gated, spec.mlp.fused_gate_up
        self.act = ACTIVATIONS[spec.mlp.kind]
        if self.fused:
            # One matmul; the first half of the output rows is the gate (GLM and ChatGLM alike).
            self.gate_up_proj = nn.Linear(h, 2 * inter, bias=bias)
        elif self.gated:
            self.gate_proj = nn.Linear(h, inter, bias=bias)
            self.up_proj = nn.Linear(h, inter, bias=bias)
        else:
            self.up_proj = nn.Linear(h, inter, bias=bias)
        self.down_proj = nn.Linear(inter, h, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.fused:
            gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
            return self.down_proj(self.act(gate) * up)
        if self.gated:
            return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))
        return self.down_proj(self.act(self.up_proj(x)))


# --- KV cache ----------------------------------------------------------------------


class KVCache:
    """Keys and values of every layer for the tokens seen so far, grown in place.

    Plain models cache rotated keys (RoPE at absolute positions never changes);
    DCA models cache unrotated keys, because DCA rotates each key at a
    position that depends on the query's chunk.
    """

    def __init__(self, num_layers: int) -> None:
        self.keys: list[Tensor | None] = [None] * num_layers
        self.values: list[Tensor | None] = [None] * num_layers

    @property
    def length(self) -> int:
        k = self.keys[0]
        return 0 if k is None else k.shape[2]

    def update(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        old_k, old_v = self.keys[layer], self.values[layer]
        if old_k is not None and old_v is not None:
            k, v = torch.cat([old_k, k], dim=2), torch.cat([old_v, v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v


# --- attention ---------------------------------------------------------------------


# A layer's mask: None (causal), ("window", n) or ("chunk", n).
MaskKey = tuple[str, int] | None


class AttentionContext:
    """What every layer of one forward call shares: positions, cos/sin, masks."""

    def __init__(self, rope: Rope, positions: Tensor, past: int, masks: set[MaskKey], dtype: torch.dtype) -> None:
        self.positions = positions  # [B, T] absolute positions of the new tokens
        self.past = past
        self.rope = rope
        self.cos, self.sin = rope.cos_sin(positions, dtype=dtype)
        t = positions.shape[1]
        self.masks: dict[MaskKey, Tensor | None] = {key: _mask(t, past, key, positions.device) for key in masks}


def _mask(t: int, past: int, key: MaskKey, device: torch.device) -> Tensor | None:
    """Boolean [T, past+T] "may attend" mask, or None when SDPA's own causal flag suffices.

    Window semantics of transformers' Qwen2: key j is visible from query i iff
    i - window < j <= i, so a token sees `window` tokens including itself.
    Chunk semantics of Llama 4: key j is visible from query i iff j <= i and both
    lie in the same `chunk`-token block (j // chunk == i // chunk).
    """
    total = past + t
    kind, size = key if key is not None else ("window", None)
    if kind == "window" and (size is None or size >= total) or kind == "chunk" and size >= total:
        if past == 0 or t == 1:
            return None  # is_causal (past 0) or no mask at all (one new token sees everything)
        size = None
    q = torch.arange(past, total, device=device)[:, None]
    k = torch.arange(total, device=device)[None, :]
    allowed = k <= q
    if size is not None and kind == "window":
        allowed &= k > q - size
    elif size is not None:
        allowed &= (k // size) == (q // size)
    return allowed


class Attention(nn.Module):
    """MHA / GQA / MQA with optional q/k/v and output bias, RoPE, an optional sliding
    window (`window` tokens) or Dual Chunk Attention."""

    def __init__(self, spec: ArchSpec, layer: int) -> None:
        super().__init__()
        att = spec.attention
        h = spec.hidden_size
        self.layer = layer
        self.num_heads, self.num_kv_heads, self.head_dim = att.num_heads, att.num_kv_heads, att.head_dim
        self.q_proj = nn.Linear(h, att.num_heads * att.head_dim, bias=att.qkv_bias)
        self.k_proj = nn.Linear(h, att.num_kv_heads * att.head_dim, bias=att.qkv_bias)
        self.v_proj = nn.Linear(h, att.num_kv_heads * att.head_dim, bias=att.qkv_bias)
        if att.qk_norm:  # over each head's head_dim features, before RoPE (Qwen3)
            self.q_norm = make_norm(spec, att.head_dim)
            self.k_norm = make_norm(spec, att.head_dim)
        self.qk_norm = att.qk_norm
        self.o_proj = nn.Linear(att.num_heads * att.head_dim, h, bias=att.out_bias)
        self.scale = att.head_dim**-0.5
        self.pair_layout = spec.positions.layout
        self.rotary_dim = spec.rotary_dim
        self.dual_chunk = spec.long_context.dual_chunk
        kind = spec.attention_kind(layer)
        self.use_rope = kind != "nope"
        self.mask_key: MaskKey = None
        if kind == "sliding":
            window = spec.long_context.sliding_window
            assert window is not None and window.window is not None
            self.mask_key = ("window", window.window)
        elif kind == "chunked":
            assert spec.long_context.chunked is not None
            self.mask_key = ("chunk", spec.long_context.chunked.chunk_size)
        # Llama 4's weightless L2 norm of q and k, after RoPE, on the layers that rotate only.
        self.qk_l2_norm = att.qk_l2_norm and self.use_rope
        self.norm_eps = spec.norm.eps
        tuning = spec.long_context.temperature_tuning
        self.temperature = tuning if tuning is not None and not self.use_rope else None

    def forward(self, x: Tensor, ctx: AttentionContext, cache: KVCache | None) -> Tensor:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.num_kv_heads, self.head_dim).transpose(1, 2)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        if self.dual_chunk is not None:
            out = self._dual_chunk(q, k, v, ctx, cache)
        else:
            if self.use_rope:
                q = apply_rope(q, ctx.cos, ctx.sin, self.pair_layout, self.rotary_dim)
                k = apply_rope(k, ctx.cos, ctx.sin, self.pair_layout, self.rotary_dim)
            if self.qk_l2_norm:
                q, k = _l2_norm(q, self.norm_eps), _l2_norm(k, self.norm_eps)
            if self.temperature is not None:
                # Llama 4: NoPE layers sharpen attention with the query's position.
                pos = ctx.positions[:, None, :, None].to(torch.float32)
                floor = torch.floor((pos + 1.0) / self.temperature.floor_scale)
                q = (q * (torch.log1p(floor) * self.temperature.attn_scale + 1.0)).to(q.dtype)
            if cache is not None:
                k, v = cache.update(self.layer, k, v)
            mask = ctx.masks[self.mask_key]
            causal = mask is None and ctx.past == 0 and t > 1
            out = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=mask,
                is_causal=causal,
                scale=self.scale,
                enable_gqa=self.num_kv_heads != self.num_heads,
            )
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.num_heads * self.head_dim))

    def _dual_chunk(self, q: Tensor, k: Tensor, v: Tensor, ctx: AttentionContext, cache: KVCache | None) -> Tensor:
        from .dca import dca_attention  # only DCA specs need it

        if cache is not None:
            k, v = cache.update(self.layer, k, v)  # unrotated: DCA picks each key's position per query chunk
        total = k.shape[2]
        return dca_attention(
            q,
            k,
            v,
            q_positions=ctx.positions[0],
            k_positions=torch.arange(total, device=q.device),
            rope=ctx.rope,
            layout=self.pair_layout,
            rotary_dim=self.rotary_dim,
            config=self.dual_chunk,
            scale=self.scale,
            total_length=total,
        )


def _l2_norm(x: Tensor, eps: float) -> Tensor:
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


# --- block and decoder body ----------------------------------------------------------


class DecoderLayer(nn.Module):
    """One block. `pre`: x + f(norm(x)); `post`: norm(x + f(x)) (the original
    Transformer); `sandwich`: x + norm(f(norm(x))) (GLM-4-0414)."""

    def __init__(self, spec: ArchSpec, layer: int) -> None:
        super().__init__()
        self.placement = spec.norm.placement
        self.input_layernorm = make_norm(spec)
        self.self_attn = Attention(spec, layer)
        if self.placement == "sandwich":
            self.post_self_attn_layernorm = make_norm(spec)
        self.post_attention_layernorm = make_norm(spec)
        # The MLP's module name as the format names it (Llama 4: `feed_forward`).
        self.mlp_name = _names(spec)["down"].split(".")[0]
        setattr(self, self.mlp_name, make_mlp(spec, layer))
        if self.placement == "sandwich":
            self.post_mlp_layernorm = make_norm(spec)

    def forward(self, x: Tensor, ctx: AttentionContext, cache: KVCache | None) -> Tensor:
        if self.placement == "post":
            # input_layernorm / post_attention_layernorm normalise the two residual sums.
            x = self.input_layernorm(x + self.self_attn(x, ctx, cache))
            return self.post_attention_layernorm(x + getattr(self, self.mlp_name)(x))
        a = self.self_attn(self.input_layernorm(x), ctx, cache)
        if self.placement == "sandwich":
            a = self.post_self_attn_layernorm(a)
        x = x + a
        m = getattr(self, self.mlp_name)(self.post_attention_layernorm(x))
        if self.placement == "sandwich":
            m = self.post_mlp_layernorm(m)
        return x + m


def make_mlp(spec: ArchSpec, layer: int) -> nn.Module:
    """Layer `layer`'s MLP: the dense block, or the experts (names as the format stores them)."""
    if spec.mlp_kind(layer) == "dense":
        return Mlp(spec)
    from .moe import MoeBlock

    assert spec.moe is not None
    names = _names(spec)
    fused = "fused_experts" in names
    return MoeBlock(
        spec.moe,
        spec.hidden_size,
        ACTIVATIONS[spec.mlp.kind],
        fused=fused,
        router_name=names["router"].split(".")[-1],
        shared_name=names.get("shared_expert", "shared_expert").split(".")[-1],
    )


def _names(spec: ArchSpec) -> dict[str, str]:
    """The tensor names of the reference's naming (module attribute names follow them)."""
    from ..families.layout import NAMES
    from ..families.registry import native_format

    return NAMES[native_format(spec)]


class MtpLayer(nn.Module):
    """GLM-4.5's multi-token-prediction layer as the checkpoint stores it: held so that the
    state dict equals the layout, not used by the forward pass (transformers has no MTP)."""

    def __init__(self, spec: ArchSpec, layer: int) -> None:
        super().__init__()
        block = DecoderLayer(spec, spec.num_layers - 1)  # a block like the last one (MoE)
        for name, module in block.named_children():
            setattr(self, name, module)
        self.enorm = make_norm(spec)
        self.hnorm = make_norm(spec)
        self.eh_proj = nn.Linear(2 * spec.hidden_size, spec.hidden_size, bias=False)
        self.embed_tokens = nn.Embedding(spec.vocab_size, spec.hidden_size)
        self.shared_head = nn.Module()
        self.shared_head.norm = make_norm(spec)
        self.shared_head.head = nn.Linear(spec.hidden_size, spec.vocab_size, bias=False)


class DecoderBody(nn.Module):
    """Embedding, blocks and final norm: transformers' `model.` prefix."""

    def __init__(self, spec: ArchSpec) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(spec.vocab_size, spec.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(spec, i) for i in range(spec.num_layers))
        for j in range(spec.layers.mtp):
            self.layers.append(MtpLayer(spec, spec.num_layers + j))
        if spec.norm.final_norm:
            self.norm = make_norm(spec)
        else:
            self.norm = None

    def forward(self, input_ids: Tensor, ctx: AttentionContext, cache: KVCache | None) -> Tensor:
        x = self.embed_tokens(input_ids)
        for layer in self.layers:
            if isinstance(layer, MtpLayer):
                break  # MTP layers come last and take no part in the forward pass
            x = layer(x, ctx, cache)
        return x if self.norm is None else self.norm(x)
