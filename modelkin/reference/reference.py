"""The reference model: one decoder class assembled from an `ArchSpec`.

    model = build_reference(spec, seed=0)
    logits = model(input_ids)                      # [B, T, V]
    cache = model.new_cache()
    logits = model(prompt, past=cache)             # fills the cache
    logits = model(next_token, past=cache)         # one step of incremental decoding
    tokens = model.generate_greedy(prompt, 20)

Every family is this class; their differences are spec fields (bias flags,
norm kind and placement, MLP kind and fusion, rotary fraction and layout,
tying, sliding window, DCA). `state_dict()` keys and shapes equal
`layout(spec, reference_convention(spec))`: transformers' names, which is
`default_convention(spec)` for every spec transformers can hold (the whole
catalog). GLM specs only THUDM's format can hold (LayerNorm, linear biases)
keep the same module names and are written as chatglm through the mapping.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..families.registry import native_format
from ..families.spec import ArchSpec
from .modules import AttentionContext, DecoderBody, KVCache
from .rope import Rope


def reference_convention(spec: ArchSpec) -> str:
    """The naming of the reference's state dict: that of the generation's transformers-native format."""
    return native_format(spec)


INIT_STD = 0.02  # transformers' initializer_range default
NORM_INIT_STD = 0.1  # norm weights are 1 + N(0, 0.1): not all ones, so a swapped norm changes the output


class ReferenceModel(nn.Module):
    def __init__(self, spec: ArchSpec) -> None:
        super().__init__()
        self.spec = spec
        self.model = DecoderBody(spec)
        if spec.embeddings.tied:
            self.lm_head = None  # the head multiplies by embed_tokens.weight; no tensor of its own
        else:
            self.lm_head = nn.Linear(spec.hidden_size, spec.vocab_size, bias=False)
        self.rope = Rope(spec)  # no parameters or buffers: not part of the state dict
        self._masks = {layer.self_attn.mask_key for layer in self.model.layers}

    def model_parameters(self) -> int:
        """Parameters of the model proper: without the MTP layers the checkpoint stores beside it."""
        from .modules import MtpLayer

        outside = sum(p.numel() for m in self.model.layers if isinstance(m, MtpLayer) for p in m.parameters())
        return sum(p.numel() for p in self.parameters()) - outside

    def new_cache(self) -> KVCache:
        return KVCache(self.spec.num_layers)

    def forward(self, input_ids: Tensor, past: KVCache | None = None) -> Tensor:
        """Logits [B, T, V] for `input_ids` [B, T] following the `past.length` tokens
        already in `past` (which is extended in place)."""
        start = past.length if past is not None else 0
        b, t = input_ids.shape
        positions = torch.arange(start, start + t, device=input_ids.device).expand(b, t)
        ctx = AttentionContext(self.rope, positions, start, self._masks, self.model.embed_tokens.weight.dtype)
        hidden = self.model(input_ids, ctx, past)
        weight = self.model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return nn.functional.linear(hidden, weight)

    @torch.no_grad()
    def generate_greedy(self, input_ids: Tensor, n: int) -> Tensor:
        """`input_ids` followed by `n` greedily chosen tokens (no stop at eos), via the KV cache."""
        cache = self.new_cache()
        logits = self(input_ids, past=cache)
        out = [input_ids]
        for _ in range(n):
            token = logits[:, -1].argmax(-1, keepdim=True)
            out.append(token)
            logits = self(token, past=cache)
        return torch.cat(out, dim=1)

    @torch.no_grad()
    def init_weights(self, seed: int = 0) -> None:
        """Deterministic random weights: N(0, 0.02) for matrices and biases, 1 + N(0, 0.1)
        for norm weights. Biases are not zero so that a dropped bias shows in the logits."""
        generator = torch.Generator().manual_seed(seed)
        norm_params = {
            f"{name}.{p}"
            for name, module in self.named_modules()
            if isinstance(module, nn.LayerNorm) or type(module).__name__ == "RMSNorm"
            for p in ("weight", "bias")
        }
        for name, param in self.named_parameters():
            noise = torch.randn(param.shape, generator=generator, dtype=torch.float32)
            if name in norm_params and name.endswith(".weight"):
                value = 1.0 + NORM_INIT_STD * noise
            else:
                value = INIT_STD * noise
            param.copy_(value.to(param.dtype))
        for name, buffer in self.named_buffers():
            if name.endswith("e_score_correction_bias"):
                # Not zero, so that a router that ignores the bias picks other experts.
                noise = torch.randn(buffer.shape, generator=generator, dtype=torch.float32)
                buffer.copy_((0.1 * noise).to(buffer.dtype))


def build_reference(spec: ArchSpec, seed: int = 0, dtype: torch.dtype = torch.float32) -> ReferenceModel:
    """The reference model for `spec` with deterministic random weights (`seed`), in eval mode."""
    model = ReferenceModel(spec)
    model.init_weights(seed)
    return model.to(dtype).eval()
