"""Quantized checkpoints, inspected against checkpoints the quantization libraries write themselves.

Truth:
- bitsandbytes 8-bit and 4-bit (NF4, FP4, double quant) through transformers' `BitsAndBytesConfig` and
  `save_pretrained`, on CPU (bitsandbytes >= 0.48 has a CPU backend);
- compressed-tensors' own `apply_quantization_config` + `ModelCompressor` (the path llm-compressor
  takes after calibration): W4A16 symmetric and asymmetric (pack-quantized), W8A8 (int-quantized),
  FP8 (float-quantized), NVFP4A16 (nvfp4-pack-quantized). Scales come from a min/max observer written
  here (llm-compressor is not installed); the layout is the library's.
- GPTQ, AWQ, transformers' fine-grained FP8, ModelOpt and MLX need a GPU or Apple silicon to produce:
  those checkpoints are written here from each format's public description (shapes computed below,
  not by modelkin); for FP8 also from transformers' own FP8Linear modules built on CPU;
- configs published on the Hugging Face Hub (`tests/published_quantized/`, sources in its SOURCES.md):
  full-size header sets around them hold the published parameter counts (a bnb-4bit Llama-3.1-8B
  has 8,030,261,248 logical parameters, as the bf16 one);
- the logical count of the transformers model (its `num_parameters()`, on the meta device at full size).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from safetensors.torch import save_file  # noqa: E402

from modelkin.families import read_hf_config  # noqa: E402
from modelkin.families.quantization import SCHEME_NAMES, weight_bytes_by_scheme  # noqa: E402
from tests.conftest import run_cli  # noqa: E402

HIDDEN, INTER, LAYERS, HEADS, KV, HEAD_DIM, VOCAB = 128, 256, 2, 4, 2, 32, 512


def _config():
    return transformers.LlamaConfig(
        hidden_size=HIDDEN,
        intermediate_size=INTER,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV,
        head_dim=HEAD_DIM,
        vocab_size=VOCAB,
        max_position_embeddings=256,
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, int]:
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(_config())
    folder = tmp_path_factory.mktemp("q") / "base"
    model.save_pretrained(folder)
    return folder, model.num_parameters()


def _inspect(folder: Path) -> tuple[int, dict, str]:
    code, out, err = run_cli("inspect", str(folder), "--format", "json")
    assert "Traceback" not in err
    return code, json.loads(out), err


def _assert_consistent(folder: Path, params: int) -> dict:
    code, report, err = _inspect(folder)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert code == 0 and not errors, (errors, report["missing"][:3], report["unexpected"][:3], err)
    assert report["params_checkpoint"] == params == report["params_expected"]
    assert not any("quantization" in f["message"] and "unknown key" in f["message"] for f in report["findings"])
    q = report["quantization"]
    assert q["params_logical"] == params
    assert set(q["bytes_by_role"]) == {"weights", "scales_zeros", "full_precision"}
    assert sum(q["bytes_by_role"].values()) == sum(s["size"] for s in report["shards"]) - _header_bytes(folder)
    return report


def _header_bytes(folder: Path) -> int:
    total = 0
    for shard in folder.glob("*.safetensors"):
        with open(shard, "rb") as f:
            total += 8 + int.from_bytes(f.read(8), "little")
    return total


# --- bitsandbytes through transformers -------------------------------------------------------


BNB = {
    "bnb-int8": {"load_in_8bit": True},
    "bnb-nf4": {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"},
    "bnb-nf4-dq": {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True},
    "bnb-fp4": {"load_in_4bit": True, "bnb_4bit_quant_type": "fp4"},
    "bnb-nf4-bf16-storage": {
        "load_in_4bit": True,
        "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": True,
        "bnb_4bit_quant_storage": torch.bfloat16,  # four 4-bit values per stored bf16 element
    },
    # A published skip list replaces transformers' default (the head): down_proj stays, the head is quantized.
    "bnb-int8-skip": {"load_in_8bit": True, "llm_int8_skip_modules": ["mlp.down_proj"]},
}
QUANTIZED_MODULES = {"bnb-int8-skip": LAYERS * 6 + 1}


@pytest.mark.parametrize("name", list(BNB))
def test_bitsandbytes_checkpoint_made_by_transformers(base, tmp_path, name):
    pytest.importorskip("bitsandbytes")
    folder, params = base
    model = transformers.AutoModelForCausalLM.from_pretrained(
        folder, quantization_config=transformers.BitsAndBytesConfig(**BNB[name]), device_map="cpu"
    )
    model.save_pretrained(tmp_path / name)
    report = _assert_consistent(tmp_path / name, params)
    q = report["quantization"]
    assert q["method"] == "bitsandbytes" and q["bits"] == (8 if "int8" in name else 4)
    # q, k, v, o, gate, up, down; the head stays (library default)
    assert q["quantized_modules"] == QUANTIZED_MODULES.get(name, LAYERS * 7)
    kept = {"bnb-int8-skip": [f"model.layers.{i}.mlp.down_proj" for i in range(LAYERS)]}
    assert q["full_precision_modules"] == ["model.embed_tokens", *kept.get(name, [])] + (
        [] if name in kept else ["lm_head"]
    )
    if name == "bnb-nf4-dq":  # the page shows the same table as the text report
        code, html, _ = run_cli("inspect", str(tmp_path / name), "--format", "html")
        assert code == 0 and "bits per quantized param" in html and "blocks of 64, double-quantized" in html
    # The memory model predicts the bytes transformers wrote (the rest is fp32 here: 4 bytes a value).
    if name in SCHEME_NAMES:
        spec = read_hf_config(json.loads((tmp_path / name / "config.json").read_text())).spec
        predicted = weight_bytes_by_scheme(spec, name, rest_bytes=4)
        assert predicted["weights"] == q["bytes_by_role"]["weights"]
        assert predicted["full_precision"] == q["bytes_by_role"]["full_precision"]
        # quant_state.* is JSON of a varying length: the model takes an estimate per module.
        assert abs(predicted["scales_zeros"] - q["bytes_by_role"]["scales_zeros"]) <= 10 * q["quantized_modules"]


# --- compressed-tensors, its own compressor --------------------------------------------------


def _compressed_tensors_checkpoint(
    base_folder: Path, out: Path, preset: str, fmt: str, ignore: tuple[str, ...] = ("lm_head",)
) -> None:
    ct = pytest.importorskip("compressed_tensors")
    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.quantization import (
        QuantizationConfig,
        QuantizationStatus,
        apply_quantization_config,
        preset_name_to_scheme,
    )
    from compressed_tensors.quantization.utils import calculate_qparams, generate_gparam

    assert ct
    model = transformers.AutoModelForCausalLM.from_pretrained(base_folder, dtype=torch.bfloat16)
    config = QuantizationConfig(
        config_groups={"group_0": preset_name_to_scheme(preset, ["Linear"])}, ignore=list(ignore)
    )
    apply_quantization_config(model, config)
    for module in model.modules():
        scheme = getattr(module, "quantization_scheme", None)
        if scheme is None:
            continue
        w, args = module.weight.data.float(), scheme.weights
        if args.strategy in ("group", "tensor_group"):  # a min/max observer, as llm-compressor's default
            groups = w.reshape(w.shape[0], -1, args.group_size)
            lo, hi = groups.amin(-1), groups.amax(-1)
        elif args.strategy == "channel":
            lo, hi = w.amin(-1, keepdim=True), w.amax(-1, keepdim=True)
        elif args.strategy == "block":  # one range for every block keeps the test short
            lo = w.amin().expand(module.weight_scale.shape).clone()
            hi = w.amax().expand(module.weight_scale.shape).clone()
        else:
            lo, hi = w.amin().reshape(1), w.amax().reshape(1)
        global_scale = None
        if args.strategy == "tensor_group":
            global_scale = generate_gparam(w.amin(), w.amax())
            module.weight_global_scale.data.copy_(global_scale)
        scale, zero = calculate_qparams(lo, hi, args, global_scale=global_scale)
        module.weight_scale.data = scale.to(module.weight_scale.dtype)
        if hasattr(module, "weight_zero_point"):
            module.weight_zero_point.data = zero.to(module.weight_zero_point.dtype)
        if hasattr(module, "input_scale"):
            module.input_scale.data = torch.ones_like(module.input_scale)
        module.quantization_status = QuantizationStatus.FROZEN
    compressor = ModelCompressor.from_pretrained_model(model, quantization_format=fmt)
    compressor.compress_model(model)
    model.save_pretrained(out)
    compressor.update_config(out)


CT = {
    "W4A16": "pack-quantized",
    "W4A16_ASYM": "pack-quantized",
    "W8A8": "int-quantized",
    "FP8": "float-quantized",
    "NVFP4A16": "nvfp4-pack-quantized",
    "MXFP4": "mxfp4-pack-quantized",
    "FP8_BLOCK": "float-quantized",
}


@pytest.mark.parametrize("preset", list(CT))
def test_compressed_tensors_checkpoint_made_by_the_library(base, tmp_path, preset):
    folder, params = base
    _compressed_tensors_checkpoint(folder, tmp_path / preset, preset, CT[preset])
    report = _assert_consistent(tmp_path / preset, params)
    q = report["quantization"]
    assert q["method"] == "compressed-tensors" and q["not_converted"] == ["lm_head"]
    assert q["quantized_modules"] == LAYERS * 7
    memory_preset = {"W4A16": "w4a16", "MXFP4": "mxfp4"}.get(preset)
    if memory_preset:  # the memory model's preset is this scheme: it predicts the file byte for byte
        spec = read_hf_config(json.loads((tmp_path / preset / "config.json").read_text())).spec
        assert weight_bytes_by_scheme(spec, memory_preset) == q["bytes_by_role"]


def test_compressed_tensors_ignore_patterns_match_as_the_library_does(base, tmp_path):
    """`ignore` entries are module names or `re:` regexes (compressed_tensors.utils.match_name)."""
    folder, params = base
    out = tmp_path / "w4a16-down-kept"
    _compressed_tensors_checkpoint(folder, out, "W4A16", "pack-quantized", ignore=("lm_head", "re:.*down_proj$"))
    config = json.loads((out / "config.json").read_text())
    # The library writes the matched names out; published configs often keep the regex: try both.
    assert "model.layers.0.mlp.down_proj" in config["quantization_config"]["ignore"]
    report = _assert_consistent(out, params)
    assert report["quantization"]["quantized_modules"] == LAYERS * 6
    config["quantization_config"]["ignore"] = ["lm_head", "re:.*down_proj$"]
    (out / "config.json").write_text(json.dumps(config))
    assert _assert_consistent(out, params)["quantization"]["quantized_modules"] == LAYERS * 6
    config["quantization_config"]["ignore"] = ["lm_head"]  # now the config claims down_proj is packed
    (out / "config.json").write_text(json.dumps(config))
    code, report, _ = _inspect(out)
    assert code == 1 and "model.layers.0.mlp.down_proj.weight_packed" in report["missing"]
    assert "model.layers.0.mlp.down_proj.weight" in report["unexpected"]


# --- formats written from their public description -------------------------------------------

LINEARS = [
    ("self_attn.q_proj", HEADS * HEAD_DIM, HIDDEN),
    ("self_attn.k_proj", KV * HEAD_DIM, HIDDEN),
    ("self_attn.v_proj", KV * HEAD_DIM, HIDDEN),
    ("self_attn.o_proj", HIDDEN, HEADS * HEAD_DIM),
    ("mlp.gate_proj", INTER, HIDDEN),
    ("mlp.up_proj", INTER, HIDDEN),
    ("mlp.down_proj", HIDDEN, INTER),
]


def _gptq(out_f, in_f, group=128, bits=4):
    # AutoGPTQ / GPTQModel: 32/bits values per int32, packed along the input dimension.
    groups = in_f // group
    return {
        "qweight": torch.zeros(in_f * bits // 32, out_f, dtype=torch.int32),
        "qzeros": torch.zeros(groups, out_f * bits // 32, dtype=torch.int32),
        "scales": torch.zeros(groups, out_f, dtype=torch.float16),
        "g_idx": torch.arange(in_f, dtype=torch.int32) // group,
    }


def _awq(out_f, in_f, group=128, bits=4):
    # AutoAWQ GEMM: packed along the output dimension.
    return {
        "qweight": torch.zeros(in_f, out_f * bits // 32, dtype=torch.int32),
        "qzeros": torch.zeros(in_f // group, out_f * bits // 32, dtype=torch.int32),
        "scales": torch.zeros(in_f // group, out_f, dtype=torch.float16),
    }


def _fp8_block(out_f, in_f):
    # transformers' FP8Linear / DeepSeek-V3: float8_e4m3fn weight, fp32 inverse scale per 128×128 block.
    return {
        "weight": torch.zeros(out_f, in_f, dtype=torch.float8_e4m3fn),
        "weight_scale_inv": torch.ones(math.ceil(out_f / 128), math.ceil(in_f / 128), dtype=torch.float32),
    }


def _modelopt_fp8(out_f, in_f):
    return {
        "weight": torch.zeros(out_f, in_f, dtype=torch.float8_e4m3fn),
        "weight_scale": torch.tensor(1.0),
        "input_scale": torch.tensor(1.0),
    }


def _modelopt_nvfp4(out_f, in_f):
    # Two e2m1 values per byte, an fp8 scale per 16 values, a per-tensor fp32 second-level scale.
    return {
        "weight": torch.zeros(out_f, in_f // 2, dtype=torch.uint8),
        "weight_scale": torch.zeros(out_f, in_f // 16, dtype=torch.float8_e4m3fn),
        "weight_scale_2": torch.tensor(1.0),
        "input_scale": torch.tensor(1.0),
    }


def _mlx(out_f, in_f, group=64, bits=4):
    # mlx.nn.QuantizedLinear: uint32 words along the input, a scale and a bias per group.
    return {
        "weight": torch.zeros(out_f, in_f * bits // 32, dtype=torch.uint32),
        "scales": torch.zeros(out_f, in_f // group, dtype=torch.bfloat16),
        "biases": torch.zeros(out_f, in_f // group, dtype=torch.bfloat16),
    }


SPEC_WRITTEN = {
    "gptq": (
        _gptq,
        {"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": False, "sym": True}},
    ),
    "awq": (
        _awq,
        {
            "quantization_config": {
                "quant_method": "awq",
                "bits": 4,
                "group_size": 128,
                "zero_point": True,
                "version": "gemm",
            }
        },
    ),
    "fp8": (
        _fp8_block,
        {
            "quantization_config": {
                "quant_method": "fp8",
                "activation_scheme": "dynamic",
                "fmt": "e4m3",
                "weight_block_size": [128, 128],
            }
        },
    ),
    "modelopt-fp8": (
        _modelopt_fp8,
        {
            "hf_quant_config": {
                "producer": {"name": "modelopt"},
                "quantization": {"quant_algo": "FP8", "kv_cache_quant_algo": "FP8", "exclude_modules": ["lm_head"]},
            }
        },
    ),
    "modelopt-nvfp4": (
        _modelopt_nvfp4,
        {
            "hf_quant_config": {
                "producer": {"name": "modelopt"},
                "quantization": {"quant_algo": "NVFP4", "group_size": 16, "exclude_modules": ["lm_head"]},
            }
        },
    ),
    "mlx": (
        _mlx,
        {"quantization": {"group_size": 64, "bits": 4}, "quantization_config": {"group_size": 64, "bits": 4}},
    ),
}


def _write_from_spec(base_folder: Path, out: Path, kind: str) -> None:
    make, extra = SPEC_WRITTEN[kind]
    shutil.copytree(base_folder, out)
    config = json.loads((out / "config.json").read_text())
    from safetensors import safe_open

    tensors = {}
    with safe_open(out / "model.safetensors", "pt") as f:
        for name in f.keys():
            tensors[name] = f.get_tensor(name).to(torch.bfloat16)
    for i in range(LAYERS):
        for module, out_f, in_f in LINEARS:
            prefix = f"model.layers.{i}.{module}"
            del tensors[prefix + ".weight"]
            tensors.update({f"{prefix}.{k}": v for k, v in make(out_f, in_f).items()})
    if kind == "mlx":  # MLX quantizes the embedding and the head as well
        for prefix in ("model.embed_tokens", "lm_head"):
            del tensors[prefix + ".weight"]
            tensors.update({f"{prefix}.{k}": v for k, v in _mlx(VOCAB, HIDDEN).items()})
    if kind == "modelopt-fp8":  # an FP8 KV cache: ModelOpt stores its scales on k_proj / v_proj
        for i in range(LAYERS):
            tensors[f"model.layers.{i}.self_attn.k_proj.k_scale"] = torch.tensor(1.0)
            tensors[f"model.layers.{i}.self_attn.v_proj.v_scale"] = torch.tensor(1.0)
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    if "hf_quant_config" in extra:
        (out / "hf_quant_config.json").write_text(json.dumps(extra["hf_quant_config"]))
    else:
        config.update(extra)
    (out / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("kind", list(SPEC_WRITTEN))
def test_formats_written_from_their_specification(base, tmp_path, kind):
    folder, params = base
    _write_from_spec(folder, tmp_path / kind, kind)
    report = _assert_consistent(tmp_path / kind, params)
    assert report["quantization"]["quantized_modules"] == LAYERS * 7 + (2 if kind == "mlx" else 0)
    if kind == "modelopt-fp8":
        assert report["quantization"]["kv_cache"] == "fp8"
    # The memory model's preset of the same scheme predicts these files byte for byte.
    preset = {"gptq": "gptq-4bit", "awq": "awq-4bit", "fp8": "fp8", "modelopt-nvfp4": "nvfp4", "mlx": "mlx-4bit"}
    if kind in preset:
        spec = read_hf_config(json.loads((tmp_path / kind / "config.json").read_text())).spec
        assert weight_bytes_by_scheme(spec, preset[kind]) == report["quantization"]["bytes_by_role"]


# --- broken copies ---------------------------------------------------------------------------


def _rewrite(folder: Path, edit) -> None:
    from safetensors import safe_open

    with safe_open(folder / "model.safetensors", "pt") as f:
        tensors = {n: f.get_tensor(n) for n in f.keys()}
    edit(tensors)
    save_file(tensors, folder / "model.safetensors")


def test_broken_gptq_copies_give_precise_findings(base, tmp_path):
    folder, _ = base
    target = "model.layers.1.mlp.down_proj"
    cases = {
        # qweight packed along the output (AWQ's direction) under a GPTQ config
        "packed": (
            lambda t: t.__setitem__(f"{target}.qweight", torch.zeros(INTER, HIDDEN // 8, dtype=torch.int32)),
            "packed-shape",
        ),
        "missing-scale": (lambda t: t.pop(f"{target}.scales"), "tensor-missing"),
        # scales of group size 64 under a config that says 128
        "group": (
            lambda t: t.__setitem__(f"{target}.scales", torch.zeros(INTER // 64, HIDDEN, dtype=torch.float16)),
            "group-size-disagrees",
        ),
    }
    for name, (edit, code) in cases.items():
        copy = tmp_path / name
        _write_from_spec(folder, copy, "gptq")
        _rewrite(copy, edit)
        exit_code, report, err = _inspect(copy)
        codes = {f["code"]: f["message"] for f in report["findings"] if f["severity"] == "error"}
        assert exit_code == 1 and code in codes, (name, codes)
        assert target in codes[code] or target in json.dumps(report["missing"]), codes[code]
        assert "inconsistent" in err
    assert "group size of 64" in codes.get("group-size-disagrees", "")
    _, report, _ = _inspect(tmp_path / "packed")
    assert any("AWQ's packing direction" in f["message"] for f in report["findings"])


def test_unknown_method_is_named_and_the_rest_still_checked(base, tmp_path):
    folder, params = base
    copy = tmp_path / "hqq"
    _write_from_spec(folder, copy, "gptq")
    config = json.loads((copy / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "hqq", "nbits": 4, "group_size": 64}
    (copy / "config.json").write_text(json.dumps(config))
    code, report, _ = _inspect(copy)
    messages = " ".join(f["message"] for f in report["findings"])
    assert "'hqq' is not known" in messages
    assert code == 0 and report["params_checkpoint"] == params
    _rewrite(copy, lambda t: t.pop("model.norm.weight"))
    code, report, _ = _inspect(copy)
    assert code == 1 and report["missing"] == ["model.norm.weight"]


# --- memory by scheme in show/compare --------------------------------------------------------


def test_show_and_compare_weights_by_scheme():
    code, out, _ = run_cli("show", "llama-3.1-70b", "--weights", "awq-4bit,bnb-nf4,bf16", "--format", "json")
    assert code == 0
    rows = {r["scheme"]: r for r in json.loads(out)["weights_by_scheme"]}
    assert set(rows) == {"awq-4bit", "bnb-nf4", "bf16"}
    assert rows["bf16"]["bytes"] == 2 * 70_553_706_496  # Llama-3.1-70B's published parameter count
    # AWQ: 4 bits a weight, an fp16 scale and a 4-bit zero per 128 inputs of every output
    assert 4.25 < rows["awq-4bit"]["bits_per_param"] < 4.6
    assert rows["bnb-nf4"]["scales_overhead"] == pytest.approx(
        32 / 4 / 64, rel=1e-4
    )  # an fp32 absmax per 64 4-bit values
    code, out, _ = run_cli("compare", "llama-3.1-8b", "qwen2.5-7b", "--weights", "all")
    assert code == 0 and "weights mlx-4bit" in out and "weights nvfp4" in out
    code, _, err = run_cli("show", "llama-3.1-8b", "--weights", "q9")
    assert code == 2 and "unknown scheme 'q9'" in err


# --- reading configs: which modules each library quantizes -----------------------------------


def test_module_selection_follows_each_library():
    from modelkin.families.quantization import read_quantization

    gptq = read_quantization(
        {
            "quantization_config": {
                "quant_method": "gptq",
                "bits": 4,
                "group_size": 128,
                "lm_head": True,
                # GPTQModel's per-module overrides: "-:" skips, "+:" changes bits
                "dynamic": {"-:model\\.layers\\.0\\..*": {}, "+:.*down_proj": {"bits": 8}},
            }
        }
    )
    assert gptq.scheme_for("model.layers.0.mlp.up_proj", "linear") is None
    assert gptq.scheme_for("model.layers.1.mlp.down_proj", "linear").bits == 8
    assert gptq.scheme_for("model.layers.1.mlp.up_proj", "linear").bits == 4
    assert gptq.scheme_for("lm_head", "head").bits == 4
    assert gptq.scheme_for("model.embed_tokens", "embedding") is None

    # transformers' should_convert_module: a prefix up to a module boundary, a regex, or a suffix.
    bnb = read_quantization(
        {
            "quantization_config": {
                "quant_method": "bitsandbytes",
                "load_in_8bit": True,
                "llm_int8_skip_modules": ["model.layers.1", "o_proj"],
            }
        }
    )
    assert bnb.scheme_for("model.layers.1.mlp.up_proj", "linear") is None
    assert bnb.scheme_for("model.layers.11.mlp.up_proj", "linear") is not None
    assert bnb.scheme_for("model.layers.2.self_attn.o_proj", "linear") is None

    mlx = read_quantization(
        {
            "quantization": {
                "group_size": 64,
                "bits": 4,
                "model.layers.0.mlp.down_proj": {"group_size": 32, "bits": 8},
                "lm_head": False,
            }
        }
    )
    assert mlx.scheme_for("model.layers.0.mlp.down_proj", "linear").bits == 8
    assert mlx.scheme_for("lm_head", "head") is None
    assert mlx.scheme_for("model.embed_tokens", "embedding").bits == 4

    ct = read_quantization(
        {
            "quantization_config": {
                "quant_method": "compressed-tensors",
                "format": "pack-quantized",
                "ignore": ["lm_head", "re:.*mlp.gate$"],
                "config_groups": {
                    "g": {"targets": ["Linear"], "weights": {"num_bits": 4, "strategy": "group", "group_size": 128}}
                },
            }
        }
    )
    assert ct.scheme_for("model.layers.0.mlp.gate", "linear") is None
    assert ct.scheme_for("model.layers.0.mlp.gate_proj", "linear") is not None
    assert ct.scheme_for("lm_head", "head") is None

    modelopt = read_quantization(
        {}, {"quantization": {"quant_algo": "NVFP4", "exclude_modules": ["lm_head", "model.layers.0.*"]}}
    )
    assert modelopt.scheme_for("model.layers.0.self_attn.q_proj", "linear") is None
    assert modelopt.scheme_for("model.layers.1.self_attn.q_proj", "linear").layout == "modelopt-nvfp4"


def test_quantization_keys_are_read_not_reported_unknown():
    from modelkin.configs import get
    from modelkin.families import spec_to_hf

    config = spec_to_hf(get("llama-3.1-8b").spec)
    config["quantization_config"] = {"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemm"}
    config["quantization"] = {"group_size": 64, "bits": 4}
    read = read_hf_config(config)
    assert not any("quantization" in w for w in read.warnings), read.warnings


def test_convert_states_the_quantization(tmp_path):
    from modelkin.configs import get
    from modelkin.families import spec_to_hf

    config = spec_to_hf(get("llama-3.1-8b").spec)
    config["quantization_config"] = {"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": True}
    (tmp_path / "config.json").write_text(json.dumps(config))
    code, out, err = run_cli("convert", str(tmp_path / "config.json"), "--weights", "gptq-4bit", "--format", "json")
    assert code == 0 and "quantization" not in err
    data = json.loads(out)
    assert data["quantization"]["method"] == "gptq" and data["quantization"]["group_size"] == 128
    assert data["weights_by_scheme"][0]["scheme"] == "gptq-4bit"


# --- published configs, full size ------------------------------------------------------------

PUBLISHED = Path(__file__).parent / "published_quantized"
_DTYPE = {"uint8": "U8", "bfloat16": "BF16", "float16": "F16", "float32": "F32"}
_BITS = {"U8": 8, "BF16": 16, "F16": 16, "F32": 32}


def _bnb_4bit(name, n, qc):
    """bitsandbytes Params4bit as transformers saves it: packed values, then the quant state."""
    storage = _DTYPE[qc.get("bnb_4bit_quant_storage", "uint8")]
    blocks = -(-n // 64)
    out = [(name, storage, (n * 4 // _BITS[storage], 1))]
    if qc.get("bnb_4bit_use_double_quant"):
        out += [
            (name + ".absmax", "U8", (blocks,)),
            (name + ".nested_absmax", "F32", (-(-blocks // 256),)),
            (name + ".nested_quant_map", "F32", (256,)),
        ]
    else:
        out.append((name + ".absmax", "F32", (blocks,)))
    kind = qc["bnb_4bit_quant_type"]
    return out + [(name + ".quant_map", "F32", (16,)), (name + f".quant_state.bitsandbytes__{kind}", "U8", (169,))]


def _packed(layout):
    def tensors(name, out_f, in_f):
        module = name.removesuffix(".weight")
        groups = in_f // 128
        if layout == "gptq":
            return [
                (module + ".qweight", "I32", (in_f // 8, out_f)),
                (module + ".qzeros", "I32", (groups, out_f // 8)),
                (module + ".scales", "F16", (groups, out_f)),
                (module + ".g_idx", "I32", (in_f,)),
            ]
        if layout == "awq":
            return [
                (module + ".qweight", "I32", (in_f, out_f // 8)),
                (module + ".qzeros", "I32", (groups, out_f // 8)),
                (module + ".scales", "F16", (groups, out_f)),
            ]
        if layout == "nvfp4":
            return [
                (name, "U8", (out_f, in_f // 2)),
                (name + "_scale", "F8_E4M3", (out_f, in_f // 16)),
                (name + "_scale_2", "F32", ()),
                (module + ".input_scale", "F32", ()),
            ]
        if layout == "fp8":
            return [
                (name, "F8_E4M3", (out_f, in_f)),
                (name + "_scale", "F32", ()),
                (module + ".input_scale", "F32", ()),
            ]
        raise AssertionError(layout)

    return tensors


def _full_size(folder: Path, config: dict, quantize, hf_quant_config: dict | None = None) -> int:
    """Headers of every tensor transformers' model of `config` holds (meta device), the linear layers
    inside the decoder stored by `quantize(name, numel or shape)`; returns the model's parameter count."""
    from modelkin.inspect.sparse import write_sparse_file

    plain = {k: v for k, v in config.items() if k != "quantization_config"}
    with torch.device("meta"):
        model = (
            transformers.LlamaForCausalLM(transformers.LlamaConfig(**plain))
            if config["model_type"] == "llama"
            else (transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**plain)))
        )
    tensors = []
    for name, p in model.named_parameters():
        if p.dim() == 2 and ".layers." in name:
            tensors += quantize(name, *p.shape)
        else:
            tensors.append((name, "BF16", tuple(p.shape)))
    if hf_quant_config and hf_quant_config["quantization"].get("kv_cache_quant_algo"):
        for i in range(model.config.num_hidden_layers):  # ModelOpt's FP8 KV-cache scales
            tensors += [
                (f"model.layers.{i}.self_attn.k_proj.k_scale", "F32", ()),
                (f"model.layers.{i}.self_attn.v_proj.v_scale", "F32", ()),
            ]
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    if hf_quant_config:
        (folder / "hf_quant_config.json").write_text(json.dumps(hf_quant_config))
    write_sparse_file(folder / "model.safetensors", tensors)
    return model.num_parameters()


# Published counts: Llama-3(.1)-8B 8,030,261,248; Llama-2-7B 6,738,415,616; Llama-2-13B 13,015,864,320;
# Llama-3.2-1B 1,235,814,400.
PUBLISHED_COUNTS = {
    "luxllama-bnb-nf4-llama-3.1-8b.json": 8_030_261_248,
    "claudstruct-bnb-nf4-bf16-storage-llama-3-8b.json": 8_030_261_248,
    "sumail-gptq-llama-3.1-8b.json": 8_030_261_248,
    "twhoool02-awq-llama-2-7b-chat.json": 6_738_415_616,
    "casperhansen-awq-llama-3.2-1b-instruct.json": 1_235_814_400,
    "thebloke-gptq-llama-2-13b-chat.json": 13_015_864_320,
}


@pytest.mark.parametrize("name", list(PUBLISHED_COUNTS))
def test_published_configs_at_full_size(tmp_path, name):
    config = json.loads((PUBLISHED / name).read_text())
    qc = config["quantization_config"]
    read = read_hf_config(config)
    assert not any("quantization" in w for w in read.warnings), read.warnings
    if qc["quant_method"] == "bitsandbytes":
        quantize = lambda n, out_f, in_f: _bnb_4bit(n, out_f * in_f, qc)  # noqa: E731
    else:
        quantize = _packed(qc["quant_method"])
    folder = tmp_path / name.removesuffix(".json")
    params = _full_size(folder, config, quantize)
    code, report, _ = _inspect(folder)
    assert code == 0, [f for f in report["findings"] if f["severity"] == "error"][:3]
    assert report["params_checkpoint"] == params == PUBLISHED_COUNTS[name]
    assert report["quantization"]["method"] == qc["quant_method"]
    assert 4.0 < report["quantization"]["bits_per_quantized_param"] < 4.6


@pytest.mark.parametrize(
    "name, layout",
    [
        ("vipertsniper-deepseek-r1-distill-qwen-32b-nvfp4.hf_quant_config.json", "nvfp4"),
        ("mygitphase-guhan-30b-fp8.hf_quant_config.json", "fp8"),
    ],
)
def test_published_modelopt_configs_at_full_size(tmp_path, name, layout):
    """ModelOpt's hf_quant_config.json beside a Qwen2.5-32B config (DeepSeek-R1-Distill-Qwen-32B's
    architecture): NVFP4 / FP8 weights and the FP8 KV-cache scales it announces."""
    from modelkin.configs import get
    from modelkin.families import spec_to_hf

    hf_quant = json.loads((PUBLISHED / name).read_text())
    config = spec_to_hf(get("qwen2.5-32b").spec)
    params = _full_size(tmp_path / "ckpt", config, _packed(layout), hf_quant)
    code, report, _ = _inspect(tmp_path / "ckpt")
    assert code == 0, [f for f in report["findings"] if f["severity"] == "error"][:3]
    assert report["params_checkpoint"] == params
    q = report["quantization"]
    assert q["method"] == "modelopt" and q["kv_cache"] == "fp8" and q["not_converted"] == ["lm_head"]


def test_a_hub_modelopt_checkpoint_brings_its_hf_quant_config(base, tmp_path, monkeypatch):
    """`inspect org/name` fetches hf_quant_config.json with the other small files (tests/hubserver.py)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from hubserver import FakeHub, hub_environment

    folder, params = base
    _write_from_spec(folder, tmp_path / "repos" / "acme" / "tiny-nvfp4", "modelopt-nvfp4")
    with FakeHub(tmp_path / "repos") as server:
        hub_environment(monkeypatch, server, tmp_path / "hf-home")
        code, out, err = run_cli("inspect", "acme/tiny-nvfp4", "--format", "json")
    report = json.loads(out)
    assert code == 0, err
    assert report["source"] == "hub" and report["params_checkpoint"] == params
    assert report["quantization"]["method"] == "modelopt" and report["quantization"]["layout"] == "modelopt-nvfp4"


def test_memory_model_contract():
    """What `fit` (issue 15) relies on: every scheme name gives bytes for the three roles, the
    unquantized ones in full precision only."""
    from modelkin.configs import get
    from modelkin.families.accounting import params_total

    spec = get("llama-3.1-8b").spec
    for name in SCHEME_NAMES:
        by = weight_bytes_by_scheme(spec, name)
        assert set(by) == {"weights", "scales_zeros", "full_precision"} and all(v >= 0 for v in by.values())
    assert weight_bytes_by_scheme(spec, "bf16") == {
        "weights": 0,
        "scales_zeros": 0,
        "full_precision": 2 * params_total(spec),
    }
    nf4 = weight_bytes_by_scheme(spec, "bnb-nf4")
    assert nf4["full_precision"] == 2 * 2 * 128_256 * 4096 + 2 * (65 * 4096)  # embedding, head, norms stay bf16


@pytest.mark.parametrize("family", ["qwen2", "glm", "glm4"])
def test_other_families_quantized_by_bitsandbytes(tmp_path, family):
    """Qwen2 (q/k/v biases stay beside the packed weights), GLM (fused gate_up_proj) and GLM-4-0414
    (sandwich norms), made by transformers' own classes and quantized to NF4."""
    pytest.importorskip("bitsandbytes")
    common = dict(
        hidden_size=HIDDEN,
        intermediate_size=INTER,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV,
        vocab_size=VOCAB,
        max_position_embeddings=256,
    )
    config = {
        "qwen2": lambda: transformers.Qwen2Config(max_window_layers=LAYERS, **common),
        "glm": lambda: transformers.GlmConfig(head_dim=HEAD_DIM, pad_token_id=0, eos_token_id=1, **common),
        "glm4": lambda: transformers.Glm4Config(head_dim=HEAD_DIM, pad_token_id=0, eos_token_id=1, **common),
    }[family]()
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.save_pretrained(tmp_path / "base")
    quantized = transformers.AutoModelForCausalLM.from_pretrained(
        tmp_path / "base",
        quantization_config=transformers.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4"),
        device_map="cpu",
    )
    quantized.save_pretrained(tmp_path / "nf4")
    report = _assert_consistent(tmp_path / "nf4", model.num_parameters())
    assert report["family"] == ("qwen2" if family == "qwen2" else "glm")


@pytest.mark.parametrize("activations", ["dynamic", "static"])
def test_fp8_laid_out_by_transformers_own_fp8linear(base, tmp_path, activations):
    """transformers' FP8 quantizer refuses to run without a GPU, but its FP8Linear modules can be built
    on CPU: `replace_with_fp8_linear` gives the parameters (names, dtypes, block-scale shapes) an FP8
    checkpoint holds; they are written as zeros with the config transformers writes."""
    from transformers.integrations.finegrained_fp8 import replace_with_fp8_linear

    folder, params = base
    model = transformers.LlamaForCausalLM(_config())
    qc = transformers.FineGrainedFP8Config(activation_scheme=activations)
    replace_with_fp8_linear(model, modules_to_not_convert=["lm_head"], quantization_config=qc)
    tensors = {name: torch.zeros(t.shape, dtype=t.dtype) for name, t in model.state_dict().items()}
    out = tmp_path / f"fp8-{activations}"
    out.mkdir()
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    config = json.loads((folder / "config.json").read_text())
    config["quantization_config"] = json.loads(qc.to_json_string())
    (out / "config.json").write_text(json.dumps(config))
    report = _assert_consistent(out, params)
    assert report["quantization"]["block_size"] == [128, 128]


@pytest.mark.parametrize("model_id", ["qwen3-30b-a3b", "glm-4.5-air", "llama-4-scout-17b-16e", "qwen1.5-moe-a2.7b"])
def test_bytes_by_scheme_over_the_outline_equal_the_whole_layout(model_id):
    """weight_bytes_by_scheme sums one layer of each kind times the layers like it; summing every
    module of the whole layout through `plan` (tensor by tensor) must give the same bytes."""
    from modelkin.configs import get
    from modelkin.families.quantization import plan, scheme_config

    spec = get(model_id).spec
    for name in SCHEME_NAMES:
        q = scheme_config(name)
        if q is None:
            continue
        whole = {"weights": 0, "scales_zeros": 0, "full_precision": 0}
        for slot, module in plan(spec, q):
            if not slot.is_parameter:
                continue
            if module is None or module.tensors is None:
                whole["full_precision"] += slot.numel * 2
                continue
            for t in module.tensors:
                if not t.optional:
                    whole[t.role] += t.nbytes
        assert weight_bytes_by_scheme(spec, name) == whole, (model_id, name)
