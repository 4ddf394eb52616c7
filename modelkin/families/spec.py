"""`ArchSpec`: one validated description of a decoder-only LLM architecture.

Every other view in modelkin (Hugging Face configs, tensor layouts, parameter
counts, KV-cache and FLOP estimates, tiny variants, reports) is a function of
this object. Each architectural choice is its own small model; values that
follow from others (head group size, rotary dims, effective RoPE base) are
properties computed here and nowhere else.

Families and generations are names from the registry (`registry.py`); what a
generation allows is what one of its config formats can express, checked here
once (`registry.check_generation`) rather than restated per family.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from .moe import Moe
from .registry import FAMILY_NAMES, GENERATION_NAMES, check_generation
from .strict import Field, PositiveFloat, PositiveInt, Strict, ValidationInfo, model_validator

# --- tokenizer -------------------------------------------------------------------

TokenizerKind = Literal["sentencepiece-bpe", "byte-level-bpe", "tiktoken-bpe"]


class Tokenizer(Strict):
    """The tokenizer's kind and the ids the model reserves for control tokens.

    `vocab_size` is the number of ids the tokenizer can emit (base vocabulary
    plus added tokens) when known; the embedding may have more rows (padding),
    see `ArchSpec.vocab_size` and `ArchSpec.padding_rows`.
    """

    kind: TokenizerKind
    vocab_size: PositiveInt | None = None
    bos_token_id: int | None = Field(default=None, ge=0)
    eos_token_ids: list[Annotated[int, Field(ge=0)]] = []
    pad_token_id: int | None = Field(default=None, ge=0)


# --- attention -------------------------------------------------------------------


class Attention(Strict):
    """Multi-head attention with `num_kv_heads` key/value heads.

    MHA: kv == heads; MQA: kv == 1; GQA: anything between (each kv head serves
    `group_size` query heads, shrinking the KV cache by that factor).
    """

    num_heads: PositiveInt = Field(le=65_536)
    num_kv_heads: PositiveInt = Field(le=65_536)
    head_dim: PositiveInt = Field(le=65_536)
    qkv_bias: bool = False
    out_bias: bool = False
    qk_norm: bool = Field(
        default=False, description="RMSNorm over head_dim on each query and key head before RoPE (Qwen3)"
    )
    qk_l2_norm: bool = Field(
        default=False,
        description="Llama 4's weightless L2 norm on each query and key head, after RoPE, on the layers that rotate",
    )

    @model_validator(mode="after")
    def _heads_divide(self) -> Attention:
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"attention.num_heads ({self.num_heads}) must be a multiple of "
                f"attention.num_kv_heads ({self.num_kv_heads})"
            )
        return self

    @property
    def kind(self) -> Literal["MHA", "GQA", "MQA"]:
        if self.num_kv_heads == self.num_heads:
            return "MHA"
        return "MQA" if self.num_kv_heads == 1 else "GQA"

    @property
    def group_size(self) -> int:
        return self.num_heads // self.num_kv_heads


# --- positions -------------------------------------------------------------------


class NoScaling(Strict):
    type: Literal["none"] = "none"


class LinearScaling(Strict):
    """Position interpolation: every position is divided by `factor`."""

    type: Literal["linear"] = "linear"
    factor: PositiveFloat


class DynamicScaling(Strict):
    """Dynamic NTK: the base grows with the sequence once it exceeds the original length."""

    type: Literal["dynamic"] = "dynamic"
    factor: PositiveFloat
    original_max_position_embeddings: PositiveInt | None = None


class YarnScaling(Strict):
    """YaRN (Peng et al. 2023): per-frequency blend of interpolation and extrapolation
    plus an attention temperature. `None` means "the implementation's default"
    (beta_fast 32, beta_slow 1, attention_factor 0.1·ln(factor)+1)."""

    type: Literal["yarn"] = "yarn"
    factor: float
    original_max_position_embeddings: PositiveInt | None = None
    beta_fast: PositiveFloat | None = None
    beta_slow: PositiveFloat | None = None
    attention_factor: PositiveFloat | None = None
    mscale: PositiveFloat | None = None
    mscale_all_dim: PositiveFloat | None = None
    truncate: bool | None = None

    @model_validator(mode="after")
    def _factor(self) -> YarnScaling:
        if not self.factor > 1:
            raise ValueError(f"positions.scaling.factor must be > 1 for YaRN, got {self.factor}")
        if self.beta_fast is not None and self.beta_slow is not None and self.beta_fast <= self.beta_slow:
            raise ValueError("positions.scaling.beta_fast must be larger than beta_slow")
        return self


class Llama3Scaling(Strict):
    """Llama 3.1's rule: long wavelengths are divided by `factor`, short ones kept,
    a smooth ramp between `low_freq_factor` and `high_freq_factor`."""

    type: Literal["llama3"] = "llama3"
    factor: PositiveFloat
    low_freq_factor: PositiveFloat
    high_freq_factor: PositiveFloat
    original_max_position_embeddings: PositiveInt

    @model_validator(mode="after")
    def _ramp(self) -> Llama3Scaling:
        if self.high_freq_factor <= self.low_freq_factor:
            raise ValueError("positions.scaling.high_freq_factor must exceed low_freq_factor")
        return self


RopeScaling = Annotated[
    Union[NoScaling, LinearScaling, DynamicScaling, YarnScaling, Llama3Scaling],
    Field(discriminator="type"),
]

PairLayout = Literal["half-split", "interleaved"]


class Positions(Strict):
    """Rotary position embedding.

    `theta` is the base as the config states it; ChatGLM configs state a base of
    10000 and multiply it by `rope_ratio` (GLM-4-9B-Chat: 500), so the base the
    rotation really uses is `base = theta * rope_ratio`. `layout` says which
    dimensions form a rotating pair: `half-split` pairs i with i + d/2
    (Llama, Qwen2), `interleaved` pairs 2i with 2i+1 (GLM).
    """

    theta: PositiveFloat
    rope_ratio: PositiveFloat = 1.0
    rotary_fraction: float = Field(default=1.0, gt=0, le=1)
    layout: PairLayout = "half-split"
    scaling: RopeScaling = NoScaling()

    @property
    def base(self) -> float:
        return self.theta * self.rope_ratio


# --- long context ----------------------------------------------------------------


class DualChunkAttention(Strict):
    """Dual Chunk Attention (An et al. 2024), as Qwen2.5-1M configures it."""

    chunk_size: PositiveInt
    local_size: PositiveInt
    original_max_position_embeddings: PositiveInt

    @model_validator(mode="after")
    def _sizes(self) -> DualChunkAttention:
        if self.local_size >= self.chunk_size:
            raise ValueError(
                f"long_context.dual_chunk.local_size ({self.local_size}) must be smaller "
                f"than chunk_size ({self.chunk_size})"
            )
        if self.chunk_size > self.original_max_position_embeddings:
            raise ValueError(
                "long_context.dual_chunk.chunk_size must not exceed original_max_position_embeddings "
                "(RoPE would see distances it was never trained on)"
            )
        return self


class SlidingWindow(Strict):
    """A sliding window of `window` tokens, used by the layers whose attention kind is
    "sliding" (see `ArchSpec.attention_kind`). Qwen2 configures it with a rule: when
    `enabled`, layers with index >= `max_window_layers` slide. Qwen2 configs carry the
    numbers even when the window is off (and transformers saves `max_window_layers` with
    its class default, which may exceed the layer count), so they are kept as stated to
    convert losslessly; a value with no effect is no error."""

    enabled: bool
    window: PositiveInt | None = None
    max_window_layers: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _window(self) -> SlidingWindow:
        if self.enabled and self.window is None:
            raise ValueError("long_context.sliding_window.window is required when the window is enabled")
        return self


class ChunkedAttention(Strict):
    """Llama 4's chunked attention: a "chunked" layer attends only to the earlier tokens
    of its own `chunk_size`-token chunk, so its KV cache never holds more than a chunk."""

    chunk_size: PositiveInt


class TemperatureTuning(Strict):
    """Llama 4's attention temperature on NoPE layers: the query at position p is scaled
    by 1 + attn_scale · log(1 + floor((p + 1) / floor_scale))."""

    floor_scale: PositiveInt
    attn_scale: PositiveFloat


class LongContext(Strict):
    dual_chunk: DualChunkAttention | None = None
    sliding_window: SlidingWindow | None = None
    chunked: ChunkedAttention | None = None
    temperature_tuning: TemperatureTuning | None = None


# --- MLP, norm, embeddings ---------------------------------------------------------

MlpKind = Literal["swiglu", "geglu", "gelu", "relu"]
GATED_MLPS = ("swiglu", "geglu")


class Mlp(Strict):
    """Feed-forward block. Gated kinds (SwiGLU, GeGLU) have a gate and an up
    projection; `fused_gate_up` says whether the checkpoint stores them as one
    tensor (GLM's `gate_up_proj`, ChatGLM's `dense_h_to_4h`)."""

    kind: MlpKind
    intermediate_size: PositiveInt = Field(le=16_777_216)
    bias: bool = False
    fused_gate_up: bool = False

    @model_validator(mode="after")
    def _fused(self) -> Mlp:
        if self.fused_gate_up and not self.gated:
            raise ValueError(f"mlp.fused_gate_up needs a gated MLP kind, not {self.kind!r}")
        return self

    @property
    def gated(self) -> bool:
        return self.kind in GATED_MLPS


class Norm(Strict):
    """Normalisation: `pre` normalises each sublayer's input (Llama, Qwen2, ChatGLM),
    `post` the residual sum (original Transformer), `sandwich` both the input and
    the sublayer output (GLM-4-0414)."""

    kind: Literal["rmsnorm", "layernorm"]
    eps: PositiveFloat
    placement: Literal["pre", "post", "sandwich"] = "pre"
    final_norm: bool = True


class Embeddings(Strict):
    tied: bool = False


# --- per-layer structure ---------------------------------------------------------

# full: causal attention over every earlier token; sliding: only the last
# `long_context.sliding_window.window` tokens; chunked: only the tokens of the same
# `long_context.chunked.chunk_size` chunk; nope: full attention without RoPE.
AttentionKind = Literal["full", "sliding", "chunked", "nope"]
# What follows attention in a layer: the `mlp` block, or the experts of `moe`.
LayerMlpKind = Literal["dense", "moe"]


def window_rule(num_layers: int, window: SlidingWindow | None) -> list[AttentionKind]:
    """Qwen2's rule: with the window enabled, layers >= max_window_layers slide."""
    first = (window.max_window_layers or 0) if window and window.enabled else num_layers
    return ["full" if i < first else "sliding" for i in range(num_layers)]


class Layers(Strict):
    """Where layers differ from one another; a field left out (None) means "every layer
    is what the rest of the spec implies", so uniform models stay one line.

    `attention[i]` is layer i's attention kind. Omitted, every layer is "full",
    except that an enabled `long_context.sliding_window` makes layers
    >= `max_window_layers` "sliding" (Qwen2's rule). `mlp[i]` is layer i's MLP kind
    (omitted: every layer "dense"). An explicit list that equals the default is
    refused, so one model has one spec. `mtp` counts the extra multi-token-prediction
    layers a checkpoint stores after the last layer (GLM-4.5's `num_nextn_predict_layers`);
    they take no part in the forward pass.
    """

    attention: list[AttentionKind] | None = None
    mlp: list[LayerMlpKind] | None = None
    mtp: int = Field(default=0, ge=0, le=16)


# --- the architecture ------------------------------------------------------------

Family = Literal[FAMILY_NAMES]
Generation = Literal[GENERATION_NAMES]


class ArchSpec(Strict):
    """One architecture, every family's; `validate_spec` builds it from a dict."""

    family: Family
    generation: Generation
    # Upper bounds reject absurd inputs (a config claiming 10**12 layers) before
    # anything multiplies them; they are far above any published model.
    num_layers: PositiveInt = Field(le=10_000)
    hidden_size: PositiveInt = Field(le=1_048_576)
    vocab_size: PositiveInt = Field(
        le=16_777_216, description="embedding rows (may exceed the tokenizer's size: padding)"
    )
    max_position_embeddings: PositiveInt = Field(le=2**32)
    dtype: Literal["float32", "float16", "bfloat16"] | None = Field(
        default=None, description="dtype of the published weights"
    )
    tokenizer: Tokenizer
    attention: Attention
    positions: Positions
    long_context: LongContext = LongContext()
    mlp: Mlp
    norm: Norm
    embeddings: Embeddings = Embeddings()
    moe: Moe | None = None
    layers: Layers = Layers()

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> ArchSpec:
        rotary = self.attention.head_dim * self.positions.rotary_fraction
        if rotary != int(rotary) or int(rotary) % 2:
            raise ValueError(
                f"positions.rotary_fraction ({self.positions.rotary_fraction}) × attention.head_dim "
                f"({self.attention.head_dim}) must be an even whole number of rotary dims, got {rotary:g}"
            )
        tok = self.tokenizer
        for name, token in (("bos_token_id", tok.bos_token_id), ("pad_token_id", tok.pad_token_id)):
            if token is not None and token >= self.vocab_size:
                raise ValueError(f"tokenizer.{name} ({token}) is not below vocab_size ({self.vocab_size})")
        for token in tok.eos_token_ids:
            if token >= self.vocab_size:
                raise ValueError(f"tokenizer.eos_token_ids ({token}) is not below vocab_size ({self.vocab_size})")
        if tok.vocab_size is not None and tok.vocab_size > self.vocab_size:
            raise ValueError(
                f"tokenizer.vocab_size ({tok.vocab_size}) exceeds the embedding's vocab_size ({self.vocab_size})"
            )
        self._check_layers()
        # Context {"family_rules": False} builds choices no generation has (the reference
        # model can still run them); everything else is checked regardless.
        problem = check_generation(self) if (info.context or {}).get("family_rules", True) else None
        if problem:
            raise ValueError(problem)
        if (
            self.long_context.dual_chunk
            and self.long_context.sliding_window
            and self.long_context.sliding_window.enabled
        ):
            raise ValueError("long_context: dual chunk attention and an enabled sliding window cannot be combined")
        self._check_layers()
        return self

    # Derived values: computed here once, used everywhere.

    @property
    def rotary_dim(self) -> int:
        return int(self.attention.head_dim * self.positions.rotary_fraction)

    @property
    def padding_rows(self) -> int | None:
        """Embedding rows the tokenizer never produces (None when its size is unknown)."""
        if self.tokenizer.vocab_size is None:
            return None
        return self.vocab_size - self.tokenizer.vocab_size

    @property
    def original_context(self) -> int:
        """The context length the model was pre-trained with before any RoPE rescaling."""
        scaling = self.positions.scaling
        original = getattr(scaling, "original_max_position_embeddings", None)
        if original:
            return original
        if self.long_context.dual_chunk:
            return self.long_context.dual_chunk.original_max_position_embeddings
        return self.max_position_embeddings

    # Per-layer structure: `attention_kind`/`mlp_kind` are the only readers of
    # `layers` and of the sliding-window rule; everything else asks them.

    def default_attention_kinds(self) -> list[AttentionKind]:
        """The kinds `layers.attention` stands for when omitted."""
        return window_rule(self.num_layers, self.long_context.sliding_window)

    def attention_kinds(self) -> list[AttentionKind]:
        return list(self.layers.attention) if self.layers.attention is not None else self.default_attention_kinds()

    def attention_kind(self, layer: int) -> AttentionKind:
        return self.attention_kinds()[layer]

    def mlp_kinds(self) -> list[LayerMlpKind]:
        return list(self.layers.mlp) if self.layers.mlp is not None else ["dense"] * self.num_layers

    def mlp_kind(self, layer: int) -> LayerMlpKind:
        return self.mlp_kinds()[layer]

    def rotates(self, layer: int) -> bool:
        """Whether RoPE is applied in this layer (NoPE layers have no positions at all)."""
        return self.attention_kind(layer) != "nope"

    def layer_summary(self) -> str:
        """The layer stack, run-length encoded, a repeating group once:
        "28 × full attention + dense MLP", "3 × full attention + dense MLP, 89 × full attention
        + moe MLP", "12 × [3 × chunked attention + moe MLP, 1 × nope attention + moe MLP]"."""
        kinds = list(zip(self.attention_kinds(), self.mlp_kinds()))
        n = len(kinds)
        period = next(p for p in range(1, n + 1) if n % p == 0 and kinds == kinds[:p] * (n // p))
        if 1 < period < n:
            text = f"{n // period} × [{_runs(kinds[:period])}]"
        else:
            text = _runs(kinds)
        return text + (f" (+{self.layers.mtp} MTP)" if self.layers.mtp else "")

    def _check_layers(self) -> None:
        n = self.num_layers
        for name, given, default in (
            ("attention", self.layers.attention, self.default_attention_kinds()),
            ("mlp", self.layers.mlp, ["dense"] * n),
        ):
            if given is None:
                continue
            if len(given) != n:
                raise ValueError(f"layers.{name} lists {len(given)} layers, num_layers is {n}")
            if list(given) == default:
                raise ValueError(f"layers.{name}: omit it, it equals the default (every layer as the spec implies)")
        kinds = self.attention_kinds()
        if "sliding" in kinds:
            window = self.long_context.sliding_window
            if window is None or not window.enabled:
                raise ValueError("layers.attention: 'sliding' layers need an enabled long_context.sliding_window")
        if ("chunked" in kinds) != (self.long_context.chunked is not None):
            raise ValueError("layers.attention: 'chunked' layers and long_context.chunked go together")
        if self.long_context.temperature_tuning is not None and "nope" not in kinds:
            raise ValueError("long_context.temperature_tuning applies to NoPE layers; this model has none")
        if ("moe" in self.mlp_kinds()) != (self.moe is not None):
            raise ValueError("layers.mlp: 'moe' layers and the moe section go together")


def _runs(kinds: list[tuple[str, str]]) -> str:
    runs: list[list] = []
    for kind in kinds:
        if runs and runs[-1][0] == kind:
            runs[-1][1] += 1
        else:
            runs.append([kind, 1])
    return ", ".join(f"{n} × {attn} attention + {mlp} MLP" for (attn, mlp), n in runs)
