"""GGUF files for tests, made the way llama.cpp's convert_hf_to_gguf.py makes them.

Nothing here comes from modelkin's layout: tensor names and shapes are those of
transformers' own model for the config (instantiated on the meta device), renamed
by llama.cpp's own `gguf.TensorNameMap` (the table convert_hf_to_gguf uses), and
written by `gguf.GGUFWriter`. Metadata follows convert_hf_to_gguf's
`set_gguf_parameters` for each architecture (its public source: ggml-org/llama.cpp,
convert_hf_to_gguf.py, classes LlamaModel, Qwen2Model, Qwen3Model, ChatGLMModel, Glm4Model; for the
mixture-of-experts architectures Qwen2MoeModel, Qwen3MoeModel, Glm4MoeModel, Llama4Model and the
TextModel.set_gguf_parameters they extend). Experts are stacked or split as those classes'
`modify_tensors` do: transformers 5 holds a layer's routed experts as `experts.gate_up_proj` and
`experts.down_proj` (the published checkpoints as one tensor per expert, which the converter stacks
into the same shapes); GLM-4.5's MTP layer, which transformers does not build, is written as the
published checkpoints hold it (a decoder block after the last layer, transformers' own block, plus
`eh_proj`, `enorm`, `hnorm`, `embed_tokens`, `shared_head.norm`, `shared_head.head`).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import gguf
import numpy as np

# HF model_type -> llama.cpp architecture, as convert_hf_to_gguf registers the classes.
ARCH = {
    "llama": gguf.MODEL_ARCH.LLAMA,
    "qwen2": gguf.MODEL_ARCH.QWEN2,
    "qwen3": gguf.MODEL_ARCH.QWEN3,
    "glm": gguf.MODEL_ARCH.CHATGLM,
    "glm4": gguf.MODEL_ARCH.GLM4,
    "qwen2_moe": gguf.MODEL_ARCH.QWEN2MOE,
    "qwen3_moe": gguf.MODEL_ARCH.QWEN3MOE,
    "glm4_moe": gguf.MODEL_ARCH.GLM4_MOE,
    "llama4_text": gguf.MODEL_ARCH.LLAMA4,
}


def hf_tensors(config: dict[str, Any]) -> tuple[dict[str, tuple[int, ...]], int]:
    """(name -> shape of every tensor in transformers' state dict, unique parameter count)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config))
    count = sum(p.numel() for p in model.parameters())  # tied weights once
    shapes = {n: tuple(t.shape) for n, t in model.state_dict().items()}
    if config.get("tie_word_embeddings"):
        shapes.pop("lm_head.weight", None)  # convert_hf_to_gguf writes no output.weight for a tied head
    mtp = config.get("num_nextn_predict_layers", 0) if config["model_type"] == "glm4_moe" else 0
    if mtp:
        shapes.update(_glm_mtp_layers(config, mtp))
    return shapes, count


def _glm_mtp_layers(config: dict[str, Any], mtp: int) -> dict[str, tuple[int, ...]]:
    """GLM-4.5's MTP layers as its checkpoints store them (model.layers.N.*, N >= num_hidden_layers):
    transformers' decoder block for layer N, then the MTP extras (shapes as llama.cpp's glm4moe loader
    creates them: eh_proj {2 n_embd, n_embd}, embed_tokens and shared_head.head {n_embd, n_vocab})."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    n, h, v = config["num_hidden_layers"], config["hidden_size"], config["vocab_size"]
    longer = {**config, "num_hidden_layers": n + mtp}
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**longer))
    out = {}
    for i in range(n, n + mtp):
        prefix = f"model.layers.{i}."
        out.update({k: tuple(t.shape) for k, t in model.state_dict().items() if k.startswith(prefix)})
        out.update(
            {
                prefix + "eh_proj.weight": (h, 2 * h),
                prefix + "enorm.weight": (h,),
                prefix + "hnorm.weight": (h,),
                prefix + "embed_tokens.weight": (v, h),
                prefix + "shared_head.norm.weight": (h,),
                prefix + "shared_head.head.weight": (v, h),
            }
        )
    return out


def converted_tensors(config: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """HF tensor shapes -> GGUF name -> PyTorch-order shape, as convert_hf_to_gguf's modify_tensors
    hands them to the writer: fused experts split (Qwen2MoeModel: gate_up_proj (E, 2w, h) halved on
    dim -2; Llama4Model: gate_up_proj (E, h, 2w) transposed, then halved; down_proj transposed),
    then renamed by gguf's TensorNameMap."""
    arch = ARCH[config["model_type"]]
    blocks = config["num_hidden_layers"] + config.get("num_nextn_predict_layers", 0) * (
        arch == gguf.MODEL_ARCH.GLM4_MOE
    )
    tmap = gguf.get_tensor_name_map(arch, blocks)
    split: dict[str, tuple[int, ...]] = {}
    for name, shape in shapes.items():
        if name.endswith(".rotary_emb.inv_freq"):
            continue
        if name.endswith("experts.gate_up_proj"):
            base = name.removesuffix(".gate_up_proj")
            if arch == gguf.MODEL_ARCH.LLAMA4:
                e, hidden, two_w = shape
                part = (e, two_w // 2, hidden)
            else:
                e, two_w, hidden = shape
                part = (e, two_w // 2, hidden)
            split[base + ".gate_proj.weight"] = split[base + ".up_proj.weight"] = part
        elif name.endswith("experts.down_proj"):
            e, a, b = shape
            split[name + ".weight"] = (e, b, a) if arch == gguf.MODEL_ARCH.LLAMA4 else shape
        else:
            split[name] = shape
    out = {}
    for name, shape in split.items():
        # ModelBase.filter_tensors: "e_score_correction_bias" -> "e_score_correction.bias"
        name = name.replace("e_score_correction_bias", "e_score_correction.bias")
        gguf_name = tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        assert gguf_name is not None, name
        out[gguf_name] = shape
    return out


def _llama3_rope_freqs(config: dict[str, Any], head_dim: int) -> np.ndarray:
    """LlamaModel.generate_extra_tensors: one factor per rotary pair for llama3 scaling."""
    s = config["rope_scaling"]
    base = config.get("rope_theta", 10000.0)
    factor, low, high = s["factor"], s["low_freq_factor"], s["high_freq_factor"]
    old = s["original_max_position_embeddings"]
    freqs = 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
    out = []
    for f in freqs:
        wavelen = 2 * math.pi / f
        if wavelen < old / high:
            out.append(1.0)
        elif wavelen > old / low:
            out.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def write_gguf(
    path: Path,
    config: dict[str, Any],
    *,
    dtype: str = "F32",
    fuse_qkv: bool = False,
    drop: tuple[str, ...] = (),
    metadata: dict[str, Any] | None = None,
    tokens: int | None = None,
    chat_template: str | None = "{% for m in messages %}{{ m.content }}{% endfor %}",
    name: str | None = None,
    split: int = 1,
    sparse_types: Any = None,
    merges: int = 0,
    reshape: dict[str, tuple[int, ...]] | None = None,
) -> int:
    """Write `config`'s model as GGUF; returns transformers' parameter count. `dtype`: F32, F16 or Q8_0
    (2-D weights whose rows hold whole 32-blocks; the rest F32, as llama.cpp's quantizer leaves them).
    `metadata` overrides keys (`{arch}` is replaced by the architecture name; None removes one), `drop`
    removes tensors,
    `reshape` gives tensors (GGUF name) another PyTorch-order shape.
    `sparse_types(name, shape) -> ggml type name`: write only the header, with those types, and extend the
    file to its full size as a sparse hole (full-size models without their gigabytes)."""
    arch = ARCH[config["model_type"]]
    arch_name = gguf.MODEL_ARCH_NAMES[arch]
    shapes, count = hf_tensors(config)
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_dim = config.get("head_dim") or hidden // heads
    layers = config["num_hidden_layers"]
    tensors = converted_tensors(config, shapes)
    if fuse_qkv:  # THUDM's ChatGLM checkpoints hold query_key_value: one tensor per layer
        for i in range(layers):
            for suffix in (".weight", ".bias"):
                parts = [tensors.pop(f"blk.{i}.attn_{x}{suffix}", None) for x in "qkv"]
                if parts[0] is not None:
                    rows = sum(p[0] for p in parts)
                    tensors[f"blk.{i}.attn_qkv{suffix}"] = (rows, *parts[0][1:])
    for name_ in drop:
        tensors.pop(name_)
    for name_, shape_ in (reshape or {}).items():
        assert name_ in tensors, name_
        tensors[name_] = shape_

    writer = gguf.GGUFWriter(None, arch_name, split_max_tensors=math.ceil(len(tensors) / split) if split > 1 else 0)
    w = writer
    if name:
        w.add_name(name)
    mtp = config.get("num_nextn_predict_layers", 0) if config["model_type"] == "glm4_moe" else 0
    w.add_block_count(layers + mtp)  # Glm4MoeModel counts the MTP layers in
    w.add_embedding_length(hidden)
    w.add_head_count(heads)
    w.add_head_count_kv(config.get("num_key_value_heads", heads))
    if config["model_type"] == "glm":  # ChatGLMModel.set_gguf_parameters
        w.add_context_length(config["max_position_embeddings"])
        w.add_feed_forward_length(config["intermediate_size"])
        w.add_layer_norm_rms_eps(config["rms_norm_eps"])
        w.add_rope_dimension_count(int(head_dim * config.get("partial_rotary_factor", 0.5)))
        w.add_rope_freq_base(config.get("rope_theta", 10000.0))
    else:  # TextModel.set_gguf_parameters + the arch's additions
        w.add_context_length(config["max_position_embeddings"])
        # Llama4Model puts intermediate_size_mlp (the dense layers') where intermediate_size was
        w.add_feed_forward_length(config.get("intermediate_size_mlp", config["intermediate_size"]))
        w.add_layer_norm_rms_eps(config["rms_norm_eps"])
        w.add_rope_freq_base(config.get("rope_theta", 10000.0))
        if "head_dim" in config:
            w.add_key_length(head_dim)
            w.add_value_length(head_dim)
        default_partial = 0.5 if config["model_type"] == "glm4_moe" else 1.0  # Glm4MoeModel's default
        w.add_rope_dimension_count(int(head_dim * (config.get("partial_rotary_factor") or default_partial)))
        _moe_metadata(w, config)
        scaling = config.get("rope_scaling") or {}
        kind = scaling.get("rope_type") or scaling.get("type")
        if kind == "yarn":
            w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
            w.add_rope_scaling_factor(scaling["factor"])
            w.add_rope_scaling_orig_ctx_len(scaling["original_max_position_embeddings"])
        if kind == "llama3":
            tensors["rope_freqs.weight"] = (head_dim // 2,)
    vocab = config["vocab_size"]
    n_tokens = vocab if tokens is None else tokens
    # _set_vocab_gpt2 for Qwen, GLM-4.5 (_set_vocab_glm) and Llama 4; byte-level BPE
    byte_level = ("qwen2", "qwen3", "qwen2_moe", "qwen3_moe", "glm4_moe", "llama4_text")
    w.add_tokenizer_model("gpt2" if vocab > 100000 or config["model_type"] in byte_level else "llama")
    if config["model_type"] in ("qwen2", "qwen3", "qwen2_moe", "qwen3_moe"):  # Qwen's tokenizer: pre "qwen2"
        w.add_tokenizer_pre("qwen2")
    w.add_token_list([f"t{i}" for i in range(n_tokens)])
    w.add_token_types([1] * n_tokens)
    if merges:
        w.add_token_merges([f"t{i} t{i + 1}" for i in range(merges)])
    if config.get("bos_token_id") is not None:
        w.add_bos_token_id(config["bos_token_id"])
    eos = config.get("eos_token_id")
    if eos not in (None, []):
        w.add_eos_token_id(eos[0] if isinstance(eos, list) else eos)
    if config.get("pad_token_id") is not None:  # gguf.SpecialVocab writes the checkpoint's pad token
        w.add_pad_token_id(config["pad_token_id"])
    if chat_template:
        w.add_chat_template(chat_template)
    w.add_file_type({"F32": 0, "F16": 1, "Q8_0": 7, "Q4_K_M": 15}[dtype])  # gguf.LlamaFileType
    for key, value in (metadata or {}).items():
        key = key.format(arch=arch_name)
        w.kv_data[0].pop(key, None)
        if value is None:  # None: leave the key out
            continue
        if isinstance(value, bool):
            w.add_bool(key, value)
        elif isinstance(value, float):
            w.add_float32(key, value)
        elif isinstance(value, int):
            w.add_uint32(key, value)
        else:
            w.add_string(key, value)

    if sparse_types is not None:
        return _write_sparse(w, Path(path), tensors, sparse_types, count)
    for tname, shape in tensors.items():
        if tname == "rope_freqs.weight":
            w.add_tensor(tname, _llama3_rope_freqs(config, head_dim))
            continue
        data = np.zeros(shape, dtype=np.float32)
        if dtype == "F16" and len(shape) == 2:
            w.add_tensor(tname, data.astype(np.float16))
        elif dtype == "Q8_0" and len(shape) == 2 and shape[-1] % 32 == 0:
            q = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(tname, q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(tname, data)
    w.write_header_to_file(path=Path(path))
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return count


def _moe_metadata(w: Any, config: dict[str, Any]) -> None:
    """The keys TextModel.set_gguf_parameters and Qwen2MoeModel / Glm4MoeModel / Llama4Model write."""
    kind = config["model_type"]
    if kind not in ("qwen2_moe", "qwen3_moe", "glm4_moe", "llama4_text"):
        return
    # TextModel: num_local_experts / num_experts / n_routed_experts, num_experts_per_tok, n_group, topk_group
    experts = next(config[k] for k in ("num_local_experts", "num_experts", "n_routed_experts") if k in config)
    w.add_expert_count(experts)
    w.add_expert_used_count(config["num_experts_per_tok"])
    if config.get("n_group") is not None:
        w.add_expert_group_count(config["n_group"])
    if config.get("topk_group") is not None:
        w.add_expert_group_used_count(config["topk_group"])
    if kind in ("qwen2_moe", "qwen3_moe"):
        w.add_expert_feed_forward_length(config["moe_intermediate_size"])
        if config.get("shared_expert_intermediate_size") is not None:
            w.add_expert_shared_feed_forward_length(config["shared_expert_intermediate_size"])
    elif kind == "glm4_moe":
        w.add_expert_feed_forward_length(config["moe_intermediate_size"])
        w.add_expert_shared_count(config["n_shared_experts"])
        w.add_leading_dense_block_count(config["first_k_dense_replace"])
        w.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID)
        w.add_expert_weights_scale(config["routed_scaling_factor"])
        w.add_expert_weights_norm(config["norm_topk_prob"])
        w.add_nextn_predict_layers(config["num_nextn_predict_layers"])
    else:  # Llama4Model (a LlamaModel: vocab_size too)
        w.add_vocab_size(config["vocab_size"])
        w.add_interleave_moe_layer_step(config["interleave_moe_layer_step"])
        w.add_expert_feed_forward_length(config["intermediate_size"])


def _write_sparse(w: Any, path: Path, tensors: dict[str, tuple[int, ...]], types: Any, count: int) -> int:
    sizes = gguf.GGML_QUANT_SIZES
    for tname, shape in tensors.items():
        qtype = gguf.GGMLQuantizationType[types(tname, shape)]
        block, size = sizes[qtype]
        n = math.prod(shape)
        w.add_tensor_info(tname, shape, np.dtype(np.float32), n // block * size, raw_dtype=qtype)
    w.write_header_to_file(path=path)
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    header = path.stat().st_size
    data = sum(w.ggml_pad(ti.nbytes, w.data_alignment) for ti in w.tensors[0].values())
    with open(path, "r+b") as f:
        f.truncate(w.ggml_pad(header, w.data_alignment) + data)
    return count


def q4_k_m_like(name: str, shape: tuple[int, ...]) -> str:
    """Types in the spirit of llama.cpp's Q4_K_M mix: Q6_K for the head and for attn_v / ffn_down of
    every other layer, Q4_K for other matrices, F32 for norms and biases. Rows that are not whole
    256-blocks take llama.cpp's fallbacks (Q4_K -> Q5_0, Q6_K -> Q8_0), as GLM-4.5-Air's 1408-wide
    experts do."""
    if len(shape) < 2:
        return "F32"
    if name == "output.weight" or (
        name.endswith(("attn_v.weight", "ffn_down.weight")) and int(name.split(".")[1]) % 2 == 0
    ):
        return "Q6_K" if shape[-1] % 256 == 0 else "Q8_0"
    return "Q4_K" if shape[-1] % 256 == 0 else "Q5_0"


def write_tiny_files(root: Path, cases: dict[str, tuple[str, dict[str, Any], dict[str, Any]]]) -> dict[str, tuple]:
    """case -> (GGUF path, transformers' count, config) for cases of (model id, config, write_gguf
    options), each file in a folder of its own with the config.json it was converted from."""
    out = {}
    for case, (model_id, config, options) in cases.items():
        path = root / case / f"tiny-{case}.gguf"
        path.parent.mkdir()
        count = write_gguf(path, config, name=f"tiny {model_id}", **options)
        (path.parent / "config.json").write_text(json.dumps(config))
        out[case] = (path, count, config)
    return out


def inspect_json(cli, *argv: str) -> tuple[int, dict, str]:
    """`modelkin inspect ARGV --format json` through the tests' `cli` fixture: (exit code, report, stderr)."""
    code, out, err = cli("inspect", *argv, "--format", "json")
    return code, json.loads(out) if out.strip() else {}, err


def inspect_loads(path: Path) -> tuple[str, str]:
    """('0 [heavy modules]', stderr) of `modelkin inspect PATH` run in a fresh interpreter: which of
    numpy, torch, transformers and the gguf package inspecting a GGUF file imported (none should)."""
    code = (
        "import sys, contextlib, io\n"
        "from modelkin.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main(['inspect', {str(path)!r}])\n"
        "heavy = sorted(m for m in ('numpy', 'torch', 'transformers', 'gguf') if m in sys.modules)\n"
        "print(rc, heavy)\n"
    )
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo, timeout=60)
    return out.stdout.strip(), out.stderr[-2000:]
