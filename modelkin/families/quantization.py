"""Quantized checkpoints: the scheme a config states, the tensors it puts on disk, and what they weigh.

One model serves three users:
- the inspector (`modelkin/inspect/quantized.py`) asks `read_quantization` for the scheme of a folder
  and `QuantConfig.scheme_for` + `linear_tensors` for the tensors each module must hold;
- `show`/`compare --weights` and the `fit` planner ask `weight_bytes_by_scheme(spec, name)` for the
  bytes by role of a model under one of `SCHEME_NAMES`;
- reports tabulate the same.

A preset in `SCHEMES` is written as the config a library publishes (a GPTQ `quantization_config`, an
MLX `quantization` block ...) and read through the same `read_quantization`, so the memory figures and
the inspector cannot drift apart.

On-disk layouts (checked against each library's source; see `linear_tensors`):
- GPTQ (AutoGPTQ/GPTQModel v1/v2 format): qweight int32 [in·bits/32, out], qzeros int32
  [groups, out·bits/32], scales fp16 [groups, out], g_idx int32 [in]. Packed along the input dim.
- AWQ GEMM (AutoAWQ, also its exllama/ipex versions): qweight int32 [in, out·bits/32], qzeros int32
  [groups, out·bits/32], scales fp16 [groups, out]. Packed along the output dim.
- bitsandbytes int8: weight int8 [out, in], SCB fp32 [out] (row absmax), weight_format uint8 [].
- bitsandbytes 4-bit (NF4/FP4): weight packed two per byte, flat [⌈n/2⌉, 1]; absmax per 64 values
  (fp32, or uint8 with nested_absmax fp32 per 256 absmax and nested_quant_map [256] when double
  quantized), quant_map fp32 [16], quant_state.bitsandbytes__nf4|fp4 (the state as JSON bytes).
- FP8 as transformers writes it (quant_method "fp8", DeepSeek-V3 style): weight float8_e4m3fn [out, in],
  weight_scale_inv fp32 [⌈out/128⌉, ⌈in/128⌉] per block (a scalar without blocks).
- compressed-tensors: pack-quantized (weight_packed int32 [out, ⌈in·bits/32⌉], weight_scale,
  weight_shape int64 [2], weight_zero_point packed along out when asymmetric), int-/float-quantized
  (weight int8/float8 [out, in], weight_scale per tensor/channel/group/block, input_scale when
  activations are static), nvfp4-pack-quantized (weight_packed uint8 [out, in/2], weight_scale fp8
  per 16, weight_global_scale), mxfp4-pack-quantized (weight_packed uint8 [out, in/2], weight_scale
  uint8 per 32).
- NVIDIA ModelOpt (`hf_quant_config.json`): FP8 weight + scalar weight_scale/input_scale; NVFP4
  weight uint8 [out, in/2], weight_scale fp8 [out, in/16], weight_scale_2 and input_scale scalars.
- MLX (`quantization: {group_size, bits}`): weight uint32 [out, in·bits/32], scales and biases
  [out, in/group]; embeddings are quantized too.
"""

from __future__ import annotations

import fnmatch
import functools
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .layout import TensorSlot, layout, layout_outline
from .spec import ArchSpec

Role = Literal["weights", "scales_zeros", "full_precision"]
ROLES: tuple[Role, ...] = ("weights", "scales_zeros", "full_precision")
Kind = Literal["linear", "head", "embedding"]

# Bytes of one stored element, by safetensors dtype name (what the math assumes a tensor is stored in).
_DTYPE_BYTES = {"I32": 4, "U32": 4, "F32": 4, "I64": 8, "F16": 2, "BF16": 2, "U8": 1, "I8": 1, "F8_E4M3": 1}
_FLOATS = ("F16", "BF16", "F32")
# bitsandbytes' 4-bit block size (its `quantize_4bit` default) and the nested block of double quant.
BNB_BLOCK = 64
BNB_NESTED_BLOCK = 256
# quant_state.bitsandbytes__* holds the state as JSON: its length varies, so it is never shape-checked and
# the memory math takes what bitsandbytes 0.50 wrote for tiny models (~79 bytes, ~169 with double quant).
BNB_STATE_BYTES = {False: 79, True: 169}


@dataclass(frozen=True)
class QTensor:
    """One tensor a quantized module stores: `suffix` is appended to the module name."""

    suffix: str
    shape: tuple[int, ...] | None  # None: the format does not fix it; () a scalar ([1] accepted too)
    dtypes: tuple[str, ...]  # accepted dtypes, the first is what the memory math assumes
    role: Role
    optional: bool = False
    logical: int = 0  # parameters this tensor represents (only the packed weight has any)
    one_of: str | None = None  # alternatives: one tensor of each such group must be present
    estimate: int = 0  # bytes, for a tensor whose shape the format does not fix

    @property
    def nbytes(self) -> int:
        if self.shape is None:
            return self.estimate
        return math.prod(self.shape) * _DTYPE_BYTES.get(self.dtypes[0], 2)


@dataclass(frozen=True)
class Scheme:
    """How one module is stored. `layout` names the on-disk arrangement `linear_tensors` knows."""

    layout: str  # gptq, awq, bnb-int8, bnb-4bit, fp8, ct-pack, ct-int, ct-float, ct-nvfp4, ct-mxfp4,
    # modelopt-fp8, modelopt-nvfp4, mlx, unknown
    bits: int | None = None
    group_size: int | None = None  # None: per channel or per tensor (see strategy)
    symmetric: bool | None = None
    weight_type: str = "int"  # int, float, nf4, fp4
    strategy: str | None = None  # tensor, channel, group, block, tensor_group
    block_size: tuple[int, int] | None = None
    activations: str | None = None  # None: weight-only
    static_input_scale: bool = False
    double_quant: bool = False
    input_global_scale: bool = False

    def describe(self) -> str:
        parts = [f"{self.bits}-bit {self.weight_type}" if self.bits else self.weight_type]
        if self.layout == "bnb-4bit":
            parts.append(f"blocks of {self.group_size}" + (", double-quantized absmax" if self.double_quant else ""))
        elif self.group_size:
            parts.append(f"group {self.group_size}")
        elif self.block_size:
            parts.append(f"block {self.block_size[0]}×{self.block_size[1]}")
        elif self.strategy:
            parts.append(f"per {self.strategy}")
        if self.symmetric is not None:
            parts.append("symmetric" if self.symmetric else "asymmetric")
        parts.append(f"activations {self.activations}" if self.activations else "weight-only")
        return ", ".join(parts)


@dataclass(frozen=True)
class Rule:
    """First matching rule decides a module's scheme; `scheme=None` keeps it in full precision."""

    kinds: frozenset[str]
    match: Any  # callable(name) -> bool
    scheme: Scheme | None
    why: str = ""


@dataclass
class QuantConfig:
    method: str  # as published: gptq, awq, bitsandbytes, fp8, compressed-tensors, modelopt, mlx, mxfp4, ...
    source: str  # which file and key stated it
    rules: list[Rule] = field(default_factory=list)
    kv_cache: str | None = None
    not_converted: tuple[str, ...] = ()  # the published list of modules left in full precision
    notes: list[str] = field(default_factory=list)
    known: bool = True
    storage: str = "U8"  # bitsandbytes 4-bit: the dtype the packed values are stored in

    def scheme_for(self, module: str, kind: Kind) -> Scheme | None:
        for rule in self.rules:
            if kind in rule.kinds and rule.match(module):
                return rule.scheme
        return None

    @property
    def main(self) -> Scheme | None:
        """The scheme most modules use (the first rule that quantizes)."""
        return next((r.scheme for r in self.rules if r.scheme is not None), None)

    def summary(self) -> dict[str, Any]:
        s = self.main
        return {
            "method": self.method,
            "source": self.source,
            "layout": s.layout if s else None,
            "bits": s.bits if s else None,
            "group_size": s.group_size if s else None,
            "symmetric": s.symmetric if s else None,
            "weight_type": s.weight_type if s else None,
            "strategy": s.strategy if s else None,
            "block_size": list(s.block_size) if s and s.block_size else None,
            "activations": s.activations if s else None,
            "kv_cache": self.kv_cache,
            "not_converted": list(self.not_converted),
            "description": s.describe() if s else "nothing quantized",
        }


# --- matching module names as each library does -------------------------------------------------


def transformers_skip(patterns: list[str]) -> Any:
    """transformers' `should_convert_module` (quantizers_utils.py, 5.x): a pattern skips a module when it
    matches from the start up to a module boundary (also as a regex) or is a suffix of the name."""
    boundary = r"(?:(?<=\.)|(?=\.|$))"

    def match(name: str) -> bool:
        for key in patterns:
            try:
                if re.match(rf"(?:{key}){boundary}", name):
                    return True
            except re.error:
                pass
            if name.endswith(key):
                return True
        return False

    return match


def compressed_tensors_match(targets: list[str], kind: Kind) -> Any:
    """compressed-tensors' `match_name`: `re:` prefixes a regex (re.match), anything else equals the
    module name; a class name (`Linear`, `Embedding`) matches modules of that class."""
    classes = {"linear": ("Linear",), "head": ("Linear",), "embedding": ("Embedding",)}[kind]

    def match(name: str) -> bool:
        for target in targets:
            if target in classes or target == name:
                return True
            if target.startswith("re:") and _safe_re_match(target[3:], name):
                return True
        return False

    return match


def modelopt_excluded(patterns: list[str]) -> Any:
    """ModelOpt's `exclude_modules`: names or shell wildcards (`model.layers.0.*`, `*lm_head*`)."""

    def match(name: str) -> bool:
        return any(p == name or fnmatch.fnmatchcase(name, p) or name.startswith(p + ".") for p in patterns)

    return match


def _safe_re_match(pattern: str, name: str) -> bool:
    try:
        return re.match(pattern, name) is not None
    except re.error:
        return False


_ALL = frozenset({"linear", "head", "embedding"})
_LINEAR = frozenset({"linear"})
_LINEAR_HEAD = frozenset({"linear", "head"})


def _always(_: str) -> bool:
    return True


# --- reading a published config ----------------------------------------------------------------


def read_quantization(
    config: dict[str, Any] | None, hf_quant_config: dict[str, Any] | None = None
) -> QuantConfig | None:
    """The quantization a checkpoint states, or None for an unquantized one.

    `config` is config.json; `hf_quant_config` is ModelOpt's hf_quant_config.json when present.
    Never raises on a published file: what cannot be understood becomes a note and `known=False`.
    """
    config = config or {}
    if isinstance(hf_quant_config, dict) and isinstance(hf_quant_config.get("quantization"), dict):
        return _modelopt(hf_quant_config["quantization"], "hf_quant_config.json")
    qc = config.get("quantization_config") or config.get("compression_config")
    if isinstance(qc, dict):
        key = "quantization_config" if config.get("quantization_config") else "compression_config"
        return _from_quantization_config(qc, f"config.json {key}")
    mlx = config.get("quantization")
    if isinstance(mlx, dict) and ("bits" in mlx or "group_size" in mlx):
        return _mlx(mlx, "config.json quantization")
    return None


def _from_quantization_config(qc: dict[str, Any], source: str) -> QuantConfig:
    method = str(qc.get("quant_method", "unknown")).lower()
    reader = {
        "gptq": _gptq,
        "awq": _awq,
        "bitsandbytes": _bnb,
        "fp8": _fp8,
        "compressed-tensors": _compressed_tensors,
        "modelopt": _modelopt,
        "mxfp4": _mxfp4,
    }.get(method)
    if method == "mlx" or ("bits" in qc and "group_size" in qc and "quant_method" not in qc):
        return _mlx(qc, source)
    if reader is None:
        q = QuantConfig(method=method, source=source, known=False)
        q.rules.append(Rule(_LINEAR, _always, Scheme("unknown", bits=_int(qc.get("bits")))))
        q.notes.append(
            f"quantization method {method!r} is not known to modelkin: the tensors of the linear layers are "
            "listed but not checked; everything else is"
        )
        return q
    return reader(qc, source)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _skip_list(qc: dict[str, Any], *keys: str) -> list[str] | None:
    for key in keys:
        value = qc.get(key)
        if isinstance(value, list):
            return [v for v in value if isinstance(v, str)]
    return None


def _with_skips(q: QuantConfig, skips: list[str] | None, scheme: Scheme, kinds=_LINEAR_HEAD, default_head=True) -> None:
    """Modules listed are kept; when no list is published the head is (transformers' default)."""
    if skips:
        q.not_converted = tuple(skips)
        q.rules.append(Rule(_ALL, transformers_skip(skips), None, "listed in modules_to_not_convert"))
    elif default_head:
        q.rules.append(Rule(frozenset({"head"}), _always, None, "the output head is kept (library default)"))
    q.rules.append(Rule(kinds, _always, scheme))


def _gptq(qc: dict[str, Any], source: str) -> QuantConfig:
    bits = _int(qc.get("bits")) or 4
    group = _int(qc.get("group_size"))
    scheme = Scheme(
        "gptq",
        bits=bits,
        group_size=group if group and group > 0 else None,
        strategy="group" if group and group > 0 else "channel",
        symmetric=qc.get("sym") if isinstance(qc.get("sym"), bool) else True,
    )
    q = QuantConfig("gptq", source)
    fmt = str(qc.get("checkpoint_format", "gptq")).lower()
    if fmt not in ("gptq", "gptq_v2"):
        q.notes.append(f"GPTQ checkpoint_format {fmt!r}: its packing is not checked")
        scheme = replace(scheme, layout="unknown")
    if qc.get("desc_act"):
        q.notes.append("desc_act: columns were quantized in activation order; g_idx maps them to groups")
    dynamic = qc.get("dynamic")
    if isinstance(dynamic, dict):  # GPTQModel per-module overrides: "-:regex" skips, "+:regex"/"regex" overrides
        for pattern, override in dynamic.items():
            if not isinstance(pattern, str):
                continue
            if pattern.startswith("-:"):
                q.rules.append(Rule(_ALL, lambda n, p=pattern[2:]: _safe_re_match(p, n), None, "GPTQ dynamic skip"))
            elif isinstance(override, dict):
                o_bits, o_group = _int(override.get("bits")), _int(override.get("group_size"))
                sub = replace(
                    scheme, bits=o_bits or bits, group_size=o_group if o_group and o_group > 0 else scheme.group_size
                )
                regex = pattern.removeprefix("+:")
                q.rules.append(Rule(_LINEAR, lambda n, p=regex: _safe_re_match(p, n), sub))
    # GPTQ quantizes the linear layers inside the decoder blocks only: never the head or the embedding.
    skips = _skip_list(qc, "modules_to_not_convert")
    if skips:
        q.not_converted = tuple(skips)
        q.rules.insert(0, Rule(_ALL, transformers_skip(skips), None))
    # GPTQModel's `lm_head: true` quantizes the head too.
    q.rules.append(Rule(_LINEAR_HEAD if qc.get("lm_head") is True else _LINEAR, _always, scheme))
    return q


def _awq(qc: dict[str, Any], source: str) -> QuantConfig:
    bits = _int(qc.get("bits")) or _int(qc.get("w_bit")) or 4
    group = _int(qc.get("group_size")) or _int(qc.get("q_group_size")) or 128
    version = str(qc.get("version", "gemm")).lower()
    zero = qc.get("zero_point", True)
    scheme = Scheme("awq", bits=bits, group_size=group, strategy="group", symmetric=not zero)
    q = QuantConfig("awq", source)
    if version not in ("gemm", "exllama", "ipex"):
        q.notes.append(f"AWQ version {version!r}: its packing is not checked (GEMM layout only)")
        scheme = replace(scheme, layout="unknown")
    skips = _skip_list(qc, "modules_to_not_convert")
    if skips:
        q.not_converted = tuple(skips)
        # AutoAWQ skips a module whose name contains an entry; transformers uses should_convert_module: either keeps it.
        listed = transformers_skip(skips)
        q.rules.append(Rule(_ALL, lambda n, s=tuple(skips): any(k in n for k in s) or listed(n), None))
    q.rules.append(Rule(_LINEAR, _always, scheme))
    return q


def _bnb(qc: dict[str, Any], source: str) -> QuantConfig:
    four = bool(qc.get("load_in_4bit") or qc.get("_load_in_4bit"))
    eight = bool(qc.get("load_in_8bit") or qc.get("_load_in_8bit"))
    q = QuantConfig("bitsandbytes", source)
    if four:
        kind = str(qc.get("bnb_4bit_quant_type", "fp4")).lower()
        storage = {"uint8": "U8", "bfloat16": "BF16", "float16": "F16", "float32": "F32", "int8": "I8"}.get(
            str(qc.get("bnb_4bit_quant_storage", "uint8")), "U8"
        )
        scheme = Scheme(
            "bnb-4bit",
            bits=4,
            group_size=BNB_BLOCK,
            weight_type=kind,
            strategy="block",
            double_quant=bool(qc.get("bnb_4bit_use_double_quant")),
            activations=None,
        )
        q.storage = storage
    elif eight:
        scheme = Scheme("bnb-int8", bits=8, strategy="channel", symmetric=True, weight_type="int")
    else:
        q.known = False
        q.notes.append("bitsandbytes config loads neither 8-bit nor 4-bit: nothing is read as quantized")
        return q
    _with_skips(q, _skip_list(qc, "llm_int8_skip_modules", "modules_to_not_convert"), scheme)
    return q


def _fp8(qc: dict[str, Any], source: str) -> QuantConfig:
    block = qc.get("weight_block_size")
    block_size = tuple(block) if isinstance(block, list) and len(block) == 2 else None
    static = str(qc.get("activation_scheme", "dynamic")).lower() == "static"
    scheme = Scheme(
        "fp8",
        bits=8,
        weight_type="float8_e4m3",
        strategy="block" if block_size else "tensor",
        block_size=block_size,
        symmetric=True,
        activations=f"fp8 {'static' if static else 'dynamic'}",
        static_input_scale=static,
    )
    q = QuantConfig("fp8", source)
    _with_skips(q, _skip_list(qc, "modules_to_not_convert"), scheme)
    return q


def _mxfp4(qc: dict[str, Any], source: str) -> QuantConfig:
    # transformers' Mxfp4 quantizer (gpt-oss) converts only MoE expert weights (`*_blocks`, `*_scales`);
    # the dense linear layers of the families here stay in full precision.
    q = QuantConfig("mxfp4", source)
    q.not_converted = tuple(_skip_list(qc, "modules_to_not_convert") or ())
    q.notes.append("MXFP4 (transformers) quantizes MoE expert weights only; dense layers are full precision")
    return q


def _ct_args_scheme(group: dict[str, Any], fmt: str) -> Scheme:
    w = group.get("weights") if isinstance(group.get("weights"), dict) else {}
    a = group.get("input_activations") if isinstance(group.get("input_activations"), dict) else None
    bits = _int(w.get("num_bits")) or 8
    wtype = str(w.get("type", "int"))
    strategy = str(w.get("strategy", "tensor"))
    block = w.get("block_structure")
    fmt = str(group.get("format") or fmt)
    if fmt == "pack-quantized":
        layout = "ct-pack"
    elif fmt == "nvfp4-pack-quantized":
        layout = "ct-nvfp4"
    elif fmt == "mxfp4-pack-quantized":
        layout = "ct-mxfp4"
    elif fmt in ("int-quantized", "naive-quantized") or (fmt == "" and wtype == "int"):
        layout = "ct-int"
    elif fmt == "float-quantized":
        layout = "ct-float"
    else:
        layout = "unknown"
    activations = None
    if a is not None:
        activations = f"{a.get('type', 'int')}{a.get('num_bits', '')} {'dynamic' if a.get('dynamic') else 'static'} per {a.get('strategy', 'tensor')}"
    return Scheme(
        layout,
        bits=bits,
        group_size=_int(w.get("group_size")),
        symmetric=bool(w.get("symmetric", True)),
        weight_type=wtype,
        strategy=strategy,
        block_size=tuple(block) if isinstance(block, list) and len(block) == 2 else None,
        activations=activations,
        static_input_scale=a is not None and a.get("dynamic") is False and a.get("strategy") != "tensor_group",
        input_global_scale=a is not None and a.get("strategy") == "tensor_group",
    )


def _compressed_tensors(qc: dict[str, Any], source: str) -> QuantConfig:
    q = QuantConfig("compressed-tensors", source)
    fmt = str(qc.get("format") or "")
    ignore = [i for i in qc.get("ignore") or [] if isinstance(i, str)]
    q.not_converted = tuple(ignore)
    for kind in ("linear", "head", "embedding"):
        q.rules.append(Rule(frozenset({kind}), compressed_tensors_match(ignore, kind), None, "ignore"))
    groups = qc.get("config_groups") if isinstance(qc.get("config_groups"), dict) else {}
    for group in groups.values():
        if not isinstance(group, dict):
            continue
        targets = [t for t in group.get("targets") or [] if isinstance(t, str)]
        scheme = _ct_args_scheme(group, fmt)
        if scheme.layout == "unknown":
            q.notes.append(f"compressed-tensors format {group.get('format') or fmt!r}: its tensors are not checked")
        for kind in ("linear", "head", "embedding"):
            q.rules.append(Rule(frozenset({kind}), compressed_tensors_match(targets, kind), scheme))
    kv = qc.get("kv_cache_scheme")
    if isinstance(kv, dict):
        q.kv_cache = f"{kv.get('type', 'float')}{kv.get('num_bits', 8)} per {kv.get('strategy', 'tensor')}"
    return q


def _modelopt(qc: dict[str, Any], source: str) -> QuantConfig:
    inner = qc.get("quantization") if isinstance(qc.get("quantization"), dict) else qc
    algo = str(inner.get("quant_algo") or "").upper()
    q = QuantConfig("modelopt", source)
    excluded = [e for e in inner.get("exclude_modules") or inner.get("ignore") or [] if isinstance(e, str)]
    q.not_converted = tuple(excluded)
    q.rules.append(Rule(_ALL, modelopt_excluded(excluded), None, "exclude_modules"))
    if algo == "FP8":
        scheme = Scheme(
            "modelopt-fp8",
            bits=8,
            weight_type="float8_e4m3",
            strategy="tensor",
            symmetric=True,
            activations="fp8 static per tensor",
            static_input_scale=True,
        )
    elif algo == "NVFP4":
        scheme = Scheme(
            "modelopt-nvfp4",
            bits=4,
            weight_type="fp4",
            group_size=_int(inner.get("group_size")) or 16,
            strategy="tensor_group",
            symmetric=True,
            activations="fp4 dynamic per group 16",
            static_input_scale=True,
        )
    else:
        scheme = Scheme("unknown", bits=None)
        q.known = False
        q.notes.append(
            f"ModelOpt quant_algo {algo or '(none)'!r} is not known to modelkin: its tensors are not checked"
        )
    q.rules.append(Rule(_LINEAR_HEAD, _always, scheme))
    kv = inner.get("kv_cache_quant_algo")
    if isinstance(kv, str) and kv:
        q.kv_cache = kv.lower()
    return q


def _mlx(qc: dict[str, Any], source: str) -> QuantConfig:
    bits = _int(qc.get("bits")) or 4
    group = _int(qc.get("group_size")) or 64
    mode = str(qc.get("mode", "affine"))
    q = QuantConfig("mlx", source)
    scheme = Scheme(
        "mlx" if mode == "affine" else "unknown", bits=bits, group_size=group, strategy="group", symmetric=False
    )
    if mode != "affine":
        q.notes.append(f"MLX quantization mode {mode!r}: its tensors are not checked")
    for name, override in qc.items():  # mlx-lm writes per-module choices as entries keyed by module path
        if name in ("bits", "group_size", "mode", "quant_method"):
            continue
        if override is False:
            q.rules.append(Rule(_ALL, lambda n, p=name: n == p, None, "MLX per-module override"))
        elif isinstance(override, dict):
            sub = replace(
                scheme, bits=_int(override.get("bits")) or bits, group_size=_int(override.get("group_size")) or group
            )
            q.rules.append(Rule(_ALL, lambda n, p=name: n == p, sub))
    # mlx.nn.quantize quantizes every Linear and Embedding (mlx-lm: those whose input width divides by the group).
    q.rules.append(Rule(_ALL, _always, scheme))
    return q


# --- the tensors a quantized linear stores -------------------------------------------------------


def linear_tensors(s: Scheme, out_f: int, in_f: int, storage: str = "U8") -> list[QTensor] | None:
    """Every tensor a module with weight [out_f, in_f] stores under scheme `s`, or None when the layout
    is not known (then the module's tensors are listed, not checked)."""
    tensors = _linear_tensors(s, out_f, in_f, storage)
    return None if tensors is None else list(tensors)


@functools.lru_cache(maxsize=4096)  # a 405B model has ~10k linear layers but a handful of shapes
def _linear_tensors(s: Scheme, out_f: int, in_f: int, storage: str) -> tuple[QTensor, ...] | None:
    out = _tensors_of(s, out_f, in_f, storage)
    return None if out is None else tuple(out)


def _tensors_of(s: Scheme, out_f: int, in_f: int, storage: str) -> list[QTensor] | None:
    n = out_f * in_f
    bits = s.bits or 8
    groups = math.ceil(in_f / s.group_size) if s.group_size else 1
    lay = s.layout
    if lay == "gptq":
        return [
            QTensor("qweight", (in_f * bits // 32, out_f), ("I32",), "weights", logical=n),
            QTensor("qzeros", (groups, out_f * bits // 32), ("I32",), "scales_zeros"),
            QTensor("scales", (groups, out_f), ("F16", "BF16", "F32"), "scales_zeros"),
            QTensor("g_idx", (in_f,), ("I32",), "scales_zeros"),
        ]
    if lay == "awq":
        return [
            QTensor("qweight", (in_f, out_f * bits // 32), ("I32",), "weights", logical=n),
            QTensor("qzeros", (groups, out_f * bits // 32), ("I32",), "scales_zeros"),
            QTensor("scales", (groups, out_f), ("F16", "BF16", "F32"), "scales_zeros"),
        ]
    if lay == "bnb-int8":
        return [
            QTensor("weight", (out_f, in_f), ("I8",), "weights", logical=n),
            QTensor("SCB", (out_f,), ("F32",), "scales_zeros"),
            QTensor("weight_format", (), ("U8",), "scales_zeros", optional=True),
        ]
    if lay == "bnb-4bit":
        per = _DTYPE_BYTES[storage] * 8 // 4  # 4-bit values per stored element
        blocks = math.ceil(n / BNB_BLOCK)
        out = [QTensor("weight", (math.ceil(n / per), 1), (storage,), "weights", logical=n)]
        if s.double_quant:
            out += [
                QTensor("weight.absmax", (blocks,), ("U8",), "scales_zeros"),
                QTensor("weight.nested_absmax", (math.ceil(blocks / BNB_NESTED_BLOCK),), ("F32",), "scales_zeros"),
                QTensor("weight.nested_quant_map", (256,), ("F32",), "scales_zeros"),
            ]
        else:
            out.append(QTensor("weight.absmax", (blocks,), ("F32",), "scales_zeros"))
        out += [
            QTensor("weight.quant_map", (16,), ("F32",), "scales_zeros"),
            QTensor(
                f"weight.quant_state.bitsandbytes__{s.weight_type}",
                None,
                ("U8",),
                "scales_zeros",
                estimate=BNB_STATE_BYTES[s.double_quant],
            ),
        ]
        return out
    if lay == "fp8":
        out = [QTensor("weight", (out_f, in_f), ("F8_E4M3",), "weights", logical=n)]
        if s.block_size:
            scale = (math.ceil(out_f / s.block_size[0]), math.ceil(in_f / s.block_size[1]))
            out.append(QTensor("weight_scale_inv", scale, ("F32", "F8_E8M0"), "scales_zeros"))
        else:  # per tensor: transformers writes weight_scale_inv, AutoFP8 and vLLM's fp8 weight_scale
            out += [
                QTensor("weight_scale_inv", (), ("F32",), "scales_zeros", optional=True, one_of="scale"),
                QTensor("weight_scale", (), ("F32",), "scales_zeros", optional=True, one_of="scale"),
            ]
        if s.static_input_scale:
            out += [
                QTensor("input_scale", (), ("F32",), "scales_zeros", optional=True),
                QTensor("activation_scale", (), ("F32",), "scales_zeros", optional=True),
            ]
        return out
    if lay in ("ct-pack", "ct-int", "ct-float"):
        scale_shape = _ct_scale_shape(s, out_f, in_f)
        if lay == "ct-pack":
            out = [
                QTensor("weight_packed", (out_f, math.ceil(in_f * bits / 32)), ("I32",), "weights", logical=n),
                QTensor("weight_scale", scale_shape, _FLOATS, "scales_zeros"),
                QTensor("weight_shape", (2,), ("I64", "I32"), "scales_zeros"),
            ]
            if not s.symmetric and s.strategy in ("group", "channel"):
                zp = (math.ceil(out_f * bits / 32), scale_shape[1] if len(scale_shape) == 2 else 1)
                out.append(QTensor("weight_zero_point", zp, ("I32",), "scales_zeros"))
        else:
            wdtype = "I8" if lay == "ct-int" else "F8_E4M3"
            out = [
                QTensor("weight", (out_f, in_f), (wdtype,), "weights", logical=n),
                QTensor("weight_scale", scale_shape, _FLOATS, "scales_zeros"),
            ]
            if not s.symmetric:
                out.append(
                    QTensor("weight_zero_point", scale_shape, ("I8", "I32", "F16", "BF16", "F32"), "scales_zeros")
                )
        if s.static_input_scale:
            out.append(QTensor("input_scale", (1,), _FLOATS, "scales_zeros"))
            out.append(QTensor("input_zero_point", (1,), ("I8", "I32") + _FLOATS, "scales_zeros", optional=True))
        return out
    if lay in ("ct-nvfp4", "ct-mxfp4", "modelopt-nvfp4"):
        group = s.group_size or (16 if lay != "ct-mxfp4" else 32)
        name = "weight_packed" if lay.startswith("ct") else "weight"
        out = [
            QTensor(name, (out_f, math.ceil(in_f / 2)), ("U8",), "weights", logical=n),
            QTensor(
                "weight_scale",
                (out_f, math.ceil(in_f / group)),
                ("F8_E4M3",) if lay != "ct-mxfp4" else ("U8",),
                "scales_zeros",
            ),
        ]
        if lay == "ct-nvfp4":
            out.append(QTensor("weight_global_scale", (1,), ("F32",), "scales_zeros"))
            if s.input_global_scale:
                out.append(QTensor("input_global_scale", (1,), ("F32",), "scales_zeros"))
        if lay == "modelopt-nvfp4":
            out.append(QTensor("weight_scale_2", (), ("F32",), "scales_zeros"))
            out.append(QTensor("input_scale", (), ("F32",), "scales_zeros"))
        return out
    if lay == "modelopt-fp8":
        return [
            QTensor("weight", (out_f, in_f), ("F8_E4M3",), "weights", logical=n),
            QTensor("weight_scale", (), ("F32",), "scales_zeros"),
            QTensor("input_scale", (), ("F32",), "scales_zeros"),  # ModelOpt FP8 calibrates activations
        ]
    if lay == "mlx":
        return [
            QTensor("weight", (out_f, in_f * bits // 32), ("U32",), "weights", logical=n),
            QTensor("scales", (out_f, groups), ("BF16", "F16", "F32"), "scales_zeros"),
            QTensor("biases", (out_f, groups), ("BF16", "F16", "F32"), "scales_zeros"),
        ]
    return None


def _ct_scale_shape(s: Scheme, out_f: int, in_f: int) -> tuple[int, ...]:
    """compressed-tensors' `initialize_qparams`: tensor [1], channel [out, 1], group [out, ⌈in/g⌉],
    block [⌈out/b0⌉, ⌈in/b1⌉]."""
    if s.strategy == "channel":
        return (out_f, 1)
    if s.strategy in ("group", "tensor_group") and s.group_size:
        return (out_f, math.ceil(in_f / s.group_size))
    if s.strategy == "block" and s.block_size:
        return (math.ceil(out_f / s.block_size[0]), math.ceil(in_f / s.block_size[1]))
    return (1,)


# --- which layout slots are modules a scheme may quantize -----------------------------------------


def module_kind(slot: TensorSlot) -> Kind | None:
    """The kind of module whose `.weight` this slot is, or None for norms, biases and buffers."""
    if not slot.name.endswith(".weight") or len(slot.shape) != 2:
        return None
    if slot.component == "embedding":
        return "embedding"
    if slot.component == "head":
        return "head"
    if slot.component not in ("norm", "buffer"):  # attention, mlp and whatever linear components come later
        return "linear"
    return None


@dataclass(frozen=True)
class PlannedModule:
    module: str
    kind: Kind
    slot: TensorSlot
    scheme: Scheme | None
    tensors: list[QTensor] | None  # None: full precision (scheme None) or unknown layout


def scheme_of(q: QuantConfig, slot: TensorSlot, kind: Kind) -> Scheme | None:
    """How `q` stores the weight matrix `slot` (None: full precision)."""
    scheme = q.scheme_for(slot.name.removesuffix(".weight"), kind)
    if scheme is not None and q.method == "mlx" and scheme.group_size and slot.shape[1] % scheme.group_size:
        return None  # mlx-lm skips modules whose input width does not divide by the group
    return scheme


def plan(
    spec: ArchSpec,
    q: QuantConfig,
    convention: str | None = None,
    storage: str | None = None,
    slots: list[TensorSlot] | None = None,
) -> list[tuple[TensorSlot, PlannedModule | None]]:
    """Each slot of `layout(spec, convention)` (or `slots`, that layout computed once by the caller)
    with how `q` stores it (None: as the unquantized slot)."""
    storage = storage or q.storage
    out: list[tuple[TensorSlot, PlannedModule | None]] = []
    for slot in slots if slots is not None else layout(spec, convention):
        kind = module_kind(slot)
        if kind is None:
            out.append((slot, None))
            continue
        module = slot.name.removesuffix(".weight")
        scheme = scheme_of(q, slot, kind)
        if scheme is None:
            out.append((slot, None))
            continue
        out.append(
            (slot, PlannedModule(module, kind, slot, scheme, linear_tensors(scheme, *slot.shape, storage=storage)))
        )
    return out


# --- memory by scheme ----------------------------------------------------------------------------

# Each preset is the config its library publishes, read by `read_quantization` like any checkpoint's.
SCHEMES: dict[str, dict[str, Any] | None] = {
    "fp32": None,
    "bf16": None,
    "fp16": None,
    "fp8": {
        "quantization_config": {"quant_method": "fp8", "activation_scheme": "dynamic", "weight_block_size": [128, 128]}
    },
    "bnb-int8": {"quantization_config": {"quant_method": "bitsandbytes", "load_in_8bit": True}},
    "gptq-8bit": {"quantization_config": {"quant_method": "gptq", "bits": 8, "group_size": 128, "sym": True}},
    "gptq-4bit": {"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": True}},
    "awq-4bit": {
        "quantization_config": {
            "quant_method": "awq",
            "bits": 4,
            "group_size": 128,
            "zero_point": True,
            "version": "gemm",
        }
    },
    "w4a16": {
        "quantization_config": {
            "quant_method": "compressed-tensors",
            "format": "pack-quantized",
            "ignore": ["lm_head"],
            "config_groups": {
                "group_0": {
                    "targets": ["Linear"],
                    "weights": {
                        "num_bits": 4,
                        "type": "int",
                        "strategy": "group",
                        "group_size": 128,
                        "symmetric": True,
                    },
                }
            },
        }
    },
    "bnb-nf4": {
        "quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}
    },
    "bnb-nf4-dq": {
        "quantization_config": {
            "quant_method": "bitsandbytes",
            "load_in_4bit": True,
            "bnb_4bit_quant_type": "nf4",
            "bnb_4bit_use_double_quant": True,
        }
    },
    "nvfp4": {
        "hf_quant_config": {"quantization": {"quant_algo": "NVFP4", "group_size": 16, "exclude_modules": ["lm_head"]}}
    },
    "mxfp4": {
        "quantization_config": {
            "quant_method": "compressed-tensors",
            "format": "mxfp4-pack-quantized",
            "ignore": ["lm_head"],
            "config_groups": {
                "group_0": {
                    "targets": ["Linear"],
                    "weights": {
                        "num_bits": 4,
                        "type": "float",
                        "strategy": "group",
                        "group_size": 32,
                        "symmetric": True,
                    },
                }
            },
        }
    },
    "mlx-4bit": {"quantization": {"group_size": 64, "bits": 4}},
}
SCHEME_NAMES: tuple[str, ...] = tuple(SCHEMES)
_FULL_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


@functools.cache
def scheme_config(name: str) -> QuantConfig | None:
    """The QuantConfig of a preset (None for the unquantized dtypes); shared, do not modify it."""
    if name not in SCHEMES:
        from ..errors import ModelkinError

        raise ModelkinError("--weights", f"unknown scheme {name!r} (known: {', '.join(SCHEME_NAMES)})")
    preset = SCHEMES[name]
    if preset is None:
        return None
    return read_quantization({k: v for k, v in preset.items() if k != "hf_quant_config"}, preset.get("hf_quant_config"))


def weight_bytes_by_scheme(spec: ArchSpec, scheme: str, rest_bytes: int = 2) -> dict[str, int]:
    """Bytes a model's weights take under one of `SCHEME_NAMES`, by role:
    `weights` (the quantized weights), `scales_zeros` (scales, zero points, g_idx and other
    quantization metadata) and `full_precision` (everything left unquantized, at `rest_bytes` per
    value: 2 for bf16/fp16). Unquantized dtypes put everything in `full_precision`.

    Summed over the layout's outline (one layer of each kind, times the layers like it): the
    presets' rules name modules by kind and name, never by layer index, so every layer of a kind
    is stored alike (tests/test_quantized.py checks this against the whole layout)."""
    out = {role: 0 for role in ROLES}
    q = scheme_config(scheme)
    if q is None:
        out["full_precision"] = (
            sum(s.numel * n for s, n in layout_outline(spec) if s.is_parameter) * _FULL_BYTES[scheme]
        )
        return out
    for slot, count in layout_outline(spec):
        if not slot.is_parameter:
            continue
        kind = module_kind(slot)
        scheme = scheme_of(q, slot, kind) if kind is not None else None
        module_bytes = _module_bytes(scheme, *slot.shape, q.storage) if scheme is not None else None
        if module_bytes is None:
            out["full_precision"] += slot.numel * rest_bytes * count
            continue
        for role, n in module_bytes:
            out[role] += n * count
    return out


@functools.lru_cache(maxsize=4096)
def _module_bytes(s: Scheme, out_f: int, in_f: int, storage: str) -> tuple[tuple[str, int], ...] | None:
    """(role, bytes) of the tensors one module stores, optional ones left out; None for an unknown layout."""
    tensors = _linear_tensors(s, out_f, in_f, storage)
    if tensors is None:
        return None
    by: dict[str, int] = {}
    for t in tensors:
        if not t.optional:
            by[t.role] = by.get(t.role, 0) + t.nbytes
    return tuple(by.items())


def scheme_table(spec: ArchSpec) -> list[dict[str, Any]]:
    """One row per scheme: bytes by role, total, bits per parameter, overhead of the scales."""
    from .accounting import params_total

    params = params_total(spec)
    rows = []
    for name in SCHEME_NAMES:
        by = weight_bytes_by_scheme(spec, name)
        total = sum(by.values())
        q = scheme_config(name)
        rows.append(
            {
                "scheme": name,
                "description": q.main.describe() if q and q.main else f"{name}, unquantized",
                "bytes_by_role": by,
                "bytes": total,
                "bits_per_param": 8 * total / params,
                "scales_overhead": by["scales_zeros"] / by["weights"] if by["weights"] else 0.0,
            }
        )
    return rows


def parse_scheme_list(text: str) -> tuple[str, ...]:
    """`--weights awq-4bit,bnb-nf4` or `--weights all` (an argparse type)."""
    import argparse

    names = SCHEME_NAMES if text == "all" else tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [n for n in names if n not in SCHEMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown scheme {unknown[0] if unknown else text!r} (known: all, {', '.join(SCHEME_NAMES)})"
        )
    return names


def weights_rows(spec: ArchSpec, names: tuple[str, ...], plain: bool = False) -> list[list[Any]]:
    """Rows (label, value) of `show`/`compare --weights`: each scheme's total and its scales' share."""
    from ..units import nbytes

    rows: list[list[Any]] = []
    for row in scheme_table(spec):
        if row["scheme"] not in names:
            continue
        by = row["bytes_by_role"]
        if plain:
            rows.append([f"weights {row['scheme']}", row["bytes"]])
            continue
        detail = f"{row['bits_per_param']:.2f} bits/param"
        if by["weights"]:
            detail += (
                f"; scales/zeros {nbytes(by['scales_zeros'])} (+{100 * row['scales_overhead']:.3g}% on the "
                f"{nbytes(by['weights'])} of quantized weights), full precision {nbytes(by['full_precision'])}"
            )
        rows.append([f"weights {row['scheme']}", f"{nbytes(row['bytes'])} ({detail})"])
    return rows
