"""`modelkin inspect` on mixture-of-experts GGUF files (qwen2moe, qwen3moe, glm4moe, llama4).

Truth, none of it computed by modelkin: the files are written as llama.cpp's convert_hf_to_gguf
writes them (tests/gguf_files.py: transformers' own model for the config on the meta device, its
experts split or stacked as the converter's model classes do, renamed by `gguf.TensorNameMap`,
metadata as their `set_gguf_parameters` writes it, `gguf.GGUFWriter`); parameter counts are
transformers' `sum(p.numel())`; Qwen3-30B-A3B's is the published 30,532,122,624 (tests/test_moe.py).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

gguf = pytest.importorskip("gguf")
pytest.importorskip("transformers")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gguf_files import (  # noqa: E402  (helper next to this file)
    hf_tensors,
    inspect_json,
    inspect_loads,
    q4_k_m_like,
    write_gguf,
    write_tiny_files,
)

from modelkin.configs import get  # noqa: E402
from modelkin.families import spec_to_hf  # noqa: E402
from modelkin.families.tiny import tiny  # noqa: E402


def tiny_config(model_id: str) -> dict:
    config = spec_to_hf(tiny(get(model_id).spec))
    if config["model_type"] == "llama4_text":
        # What llama.cpp's llama4 architecture fixes (no GGUF key): chunks of 8192 and a temperature
        # floor of 8192, as the published Llama 4 configs have them. Llama4Model reads
        # interleave_moe_layer_step, as the published configs state it (every layer MoE here).
        assert config["moe_layers"] == list(range(config["num_hidden_layers"]))
        config.update(attention_chunk_size=8192, floor_scale=8192, interleave_moe_layer_step=1)
    return config


CASES = {
    "qwen1.5-moe": ("qwen1.5-moe-a2.7b", "qwen2moe"),
    "qwen3-moe": ("qwen3-30b-a3b", "qwen3moe"),
    "glm-4.5": ("glm-4.5-air", "glm4moe"),
    "llama-4": ("llama-4-scout-17b-16e", "llama4"),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, tuple[Path, int, dict]]:
    import transformers

    transformers.utils.logging.set_verbosity_error()
    root = tmp_path_factory.mktemp("gguf-moe")
    return write_tiny_files(
        root, {case: (model_id, tiny_config(model_id), {"dtype": "F16"}) for case, (model_id, _) in CASES.items()}
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_converted_files_are_consistent_and_count_as_transformers(case, files, cli):
    path, count, config = files[case]
    code, report, err = inspect_json(cli, str(path), "--against", str(path.parent / "config.json"))
    assert code == 0, (err, report.get("findings"))
    assert report["gguf"]["architecture"] == CASES[case][1]
    assert report["missing"] == report["unexpected"] == report["shape_mismatches"] == []
    beside = sum(report.get("params_beside_model", {}).values())
    assert report["params_expected"] == count  # transformers' own count for the same config
    assert report["params_checkpoint"] == count + beside
    names = {t.name for t in gguf.GGUFReader(path).tensors}
    assert "blk.1.ffn_gate_inp.weight" in names and "blk.1.ffn_down_exps.weight" in names
    # Field by field against the config it was converted from: nothing but llama3 RoPE scaling
    # (stored as rope_freqs.weight, not as metadata) may differ.
    rows = report["gguf"]["reference"]["differences"]
    assert all(r["field"].startswith("positions.scaling.") and r["severity"] == "info" for r in rows), rows


def test_stacked_experts_have_the_converters_shapes(files):
    """ggml dims of one layer's experts: gate/up {hidden, width, experts}, down {width, hidden, experts}."""
    path, _, config = files["qwen3-moe"]
    dims = {t.name: list(t.shape) for t in gguf.GGUFReader(path).tensors}
    h, w, e = config["hidden_size"], config["moe_intermediate_size"], config["num_experts"]
    assert dims["blk.0.ffn_gate_exps.weight"] == dims["blk.0.ffn_up_exps.weight"] == [h, w, e]
    assert dims["blk.0.ffn_down_exps.weight"] == [w, h, e] and dims["blk.0.ffn_gate_inp.weight"] == [h, e]


def test_qwen2_moe_shared_expert_and_its_gate(files, cli):
    path, _, config = files["qwen1.5-moe"]
    code, report, _ = inspect_json(cli, str(path))
    assert code == 0, report["findings"]
    hf = report["gguf"]["hf_config"]
    assert hf["model_type"] == "qwen2_moe" and hf["qkv_bias"] is True
    assert hf["shared_expert_intermediate_size"] == config["shared_expert_intermediate_size"]
    assert report["spec"]["moe"]["shared_expert"]["gate"] is True
    assert report["spec"]["moe"]["router"]["normalize"] is False  # llama.cpp's qwen2moe graph
    names = {t.name for t in gguf.GGUFReader(path).tensors}
    assert {"blk.0.ffn_gate_inp_shexp.weight", "blk.0.ffn_up_shexp.weight"} <= names


def beside_the_model(config: dict) -> dict[str, int]:
    """What a GLM-4.5 checkpoint stores beside transformers' model, counted from the HF tensors
    themselves: the routers' correction-bias buffers and the MTP layers."""
    shapes, _ = hf_tensors(config)
    n = config["num_hidden_layers"]
    bias = ".mlp.gate.e_score_correction_bias"
    layer = {k: int(k.split(".")[2]) for k in shapes if k.startswith("model.layers.")}
    return {
        "buffer": sum(math.prod(s) for k, s in shapes.items() if k.endswith(bias)),
        "mtp": sum(math.prod(shapes[k]) for k, i in layer.items() if i >= n and not k.endswith(bias)),
    }


def test_shared_expert_gate_as_llama_cpp_accepts_it(tmp_path, files, cli):
    """llama.cpp creates ffn_gate_inp_shexp as {n_embd} and pads dimensions with ones: a file holding
    it as ggml [hidden] instead of the converter's [hidden, 1] loads; [hidden, 2] does not."""
    _, _, config = files["qwen1.5-moe"]
    h = config["hidden_size"]
    for rows, consistent in ((None, True), (2, False)):
        path = tmp_path / f"tiny-qwen1.5-moe-gate-{rows}.gguf"
        shape = (h,) if rows is None else (rows, h)
        write_gguf(path, config, reshape={"blk.0.ffn_gate_inp_shexp.weight": shape})
        code, report, _ = inspect_json(cli, str(path))
        assert (code == 0) is consistent, report["findings"]
        if not consistent:
            assert report["shape_mismatches"] == [
                {"tensor": "blk.0.ffn_gate_inp_shexp.weight", "expected": [h, 1], "actual": [h, 2], "order": "ggml"}
            ]


def test_glm_4_5_mtp_layer_and_correction_bias_are_beside_the_model(files, cli):
    path, count, config = files["glm-4.5"]
    code, report, _ = inspect_json(cli, str(path))
    assert code == 0, report["findings"]
    n, mtp = config["num_hidden_layers"], config["num_nextn_predict_layers"]
    assert report["spec"]["num_layers"] == n and report["spec"]["layers"]["mtp"] == mtp
    hf = report["gguf"]["hf_config"]
    assert hf["first_k_dense_replace"] == config["first_k_dense_replace"] and hf["n_shared_experts"] == 1
    assert report["params_beside_model"] == beside_the_model(config)
    names = {t.name for t in gguf.GGUFReader(path).tensors}
    assert {f"blk.{n}.nextn.eh_proj.weight", f"blk.{n}.nextn.embed_tokens.weight", "blk.1.exp_probs_b.bias"} <= names
    assert "blk.0.post_attention_norm.weight" in names and "blk.0.ffn_gate.weight" in names  # dense layer 0


def test_glm_4_5_without_mtp_layers_is_a_warning(tmp_path, files, cli):
    """convert_hf_to_gguf --no-mtp: block_count without the MTP layer, no nextn_predict_layers."""
    _, _, config = files["glm-4.5"]
    folder = tmp_path / "no-mtp"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    trunk = {**config, "num_nextn_predict_layers": 0}
    path = folder / "tiny-glm-4.5-no-mtp.gguf"
    write_gguf(path, trunk)
    code, report, _ = inspect_json(cli, str(path), "--against", str(folder / "config.json"))
    assert code == 0, report["findings"]
    (row,) = report["gguf"]["reference"]["differences"]
    assert row["field"] == "layers.mtp" and row["severity"] == "warning"


def test_llama_4_nope_and_chunked_layers(files, cli):
    path, _, config = files["llama-4"]
    code, report, _ = inspect_json(cli, str(path))
    assert code == 0, report["findings"]
    kinds = ["nope" if flag == 0 else "chunked" for flag in config["no_rope_layers"]]
    assert (report["spec"]["layers"]["attention"] or kinds) == kinds
    assert report["spec"]["long_context"]["chunked"]["chunk_size"] == 8192
    hf = report["gguf"]["hf_config"]
    assert hf["intermediate_size"] == config["intermediate_size"]  # one expert's width
    assert hf["intermediate_size_mlp"] == config["intermediate_size_mlp"]
    assert report["buffers"] == ["rope_freqs.weight"]


def test_llama_4_keys_ollamas_converter_adds(tmp_path, files, cli):
    """Ollama's llama4 files state llama4.attention.chunk_size and llama4.use_qk_norm, which llama.cpp
    fixes instead; stated, they are read."""
    _, _, config = files["llama-4"]
    path = tmp_path / "tiny-llama-4-ollama.gguf"
    write_gguf(path, config, metadata={"{arch}.attention.chunk_size": 4096, "{arch}.use_qk_norm": False})
    code, report, _ = inspect_json(cli, str(path))
    assert code == 0, report["findings"]
    assert report["spec"]["long_context"]["chunked"]["chunk_size"] == 4096
    assert report["spec"]["attention"]["qk_l2_norm"] is False


def test_split_moe_file(tmp_path, files, cli):
    """Large MoE models ship as split GGUFs (gguf-split's naming); the experts may sit in any part."""
    _, count, config = files["glm-4.5"]
    folder = tmp_path / "split"
    folder.mkdir()
    write_gguf(folder / "tiny-glm-4.5.gguf", config, split=3)
    assert len(list(folder.iterdir())) == 3
    code, report, _ = inspect_json(cli, str(folder))
    assert code == 0, report["findings"]
    assert report["params_expected"] == count and len(report["shards"]) == 3
    assert report["missing"] == report["unexpected"] == []


# --- broken files: each one clear finding ----------------------------------------------------------


def test_wrong_expert_count(tmp_path, files, cli):
    _, _, config = files["qwen3-moe"]
    wrong = config["num_experts"] - 4
    path = tmp_path / "tiny-qwen3-moe-wrong-experts.gguf"
    write_gguf(path, config, metadata={"{arch}.expert_count": wrong})
    code, report, _ = inspect_json(cli, str(path))
    assert code == 1
    said = [f for f in report["findings"] if f["code"] == "experts-disagree"]
    assert [f["message"] for f in said] == [
        f"the weights hold {config['num_experts']} experts per MoE layer, the metadata says {wrong}"
    ]
    assert report["shape_mismatches"] and report["missing"] == report["unexpected"] == []


def test_missing_down_experts(tmp_path, files, cli):
    _, count, config = files["qwen3-moe"]
    path = tmp_path / "tiny-qwen3-moe-no-down.gguf"
    write_gguf(path, config, drop=("blk.1.ffn_down_exps.weight",))
    code, report, _ = inspect_json(cli, str(path))
    assert code == 1
    assert report["missing"] == ["blk.1.ffn_down_exps.weight"] and report["unexpected"] == []
    h, w, e = config["hidden_size"], config["moe_intermediate_size"], config["num_experts"]
    assert report["params_checkpoint"] == count - e * h * w
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert [f["code"] for f in errors] == ["tensor-missing"] and "blk.1.ffn_down_exps.weight" in errors[0]["message"]


def test_wrong_experts_per_token_against_the_original(tmp_path, files, cli):
    """expert_used_count changes no shape: only the comparison with the original can see it."""
    src, _, config = files["qwen3-moe"]
    wrong = config["num_experts_per_tok"] // 2
    path = tmp_path / "tiny-qwen3-moe-top-k.gguf"
    write_gguf(path, config, metadata={"{arch}.expert_used_count": wrong})
    code, report, err = inspect_json(cli, str(path), "--against", str(src.parent / "config.json"))
    assert code == 1
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert len(errors) == 1 and errors[0]["code"] == "gguf-vs-reference"
    assert errors[0]["message"].startswith(f"moe.experts_per_token: GGUF {wrong}, ")


def test_gating_function_other_than_the_architectures(tmp_path, files, cli):
    _, _, config = files["glm-4.5"]
    path = tmp_path / "tiny-glm-4.5-softmax.gguf"
    write_gguf(path, config, metadata={"{arch}.expert_gating_func": int(gguf.ExpertGatingFuncType.SOFTMAX)})
    code, report, _ = inspect_json(cli, str(path))
    assert code == 1
    (finding,) = [f for f in report["findings"] if f["severity"] == "error"]
    assert finding["code"] == "gguf-gating" and "softmax" in finding["message"] and "sigmoid" in finding["message"]


def test_expert_width_from_the_tensors_when_the_metadata_has_none(tmp_path, files, cli):
    """llama.cpp loads a qwen3moe file without expert_feed_forward_length; the width is in ffn_gate_exps."""
    _, count, config = files["qwen3-moe"]
    path = tmp_path / "tiny-qwen3-moe-no-expert-width.gguf"
    write_gguf(path, config, metadata={"{arch}.expert_feed_forward_length": None})
    assert "qwen3moe.expert_feed_forward_length" not in gguf.GGUFReader(path).fields
    code, report, _ = inspect_json(cli, str(path))
    assert code == 0, report["findings"]
    assert report["gguf"]["hf_config"]["moe_intermediate_size"] == config["moe_intermediate_size"]
    assert report["params_checkpoint"] == report["params_expected"] == count


def test_qwen3_moe_shared_width_of_zero_is_information(tmp_path, files, cli):
    """Qwen3-Coder-30B-A3B states shared_expert_intermediate_size 0, which Qwen2MoeModel writes as
    qwen3moe.expert_shared_feed_forward_length 0; Qwen3-MoE has no shared expert, so it changes nothing."""
    _, count, config = files["qwen3-moe"]
    path = tmp_path / "tiny-qwen3-moe-shared-0.gguf"
    write_gguf(path, config, metadata={"{arch}.expert_shared_feed_forward_length": 0})
    code, report, _ = inspect_json(cli, str(path))
    assert code == 0, report["findings"]
    assert report["spec"]["moe"]["shared_expert"] is None and report["params_expected"] == count


# --- full size -------------------------------------------------------------------------------------


def test_full_size_glm_4_5_air_with_its_mtp_layer(tmp_path, cli):
    """GLM-4.5-Air's config at full size, MTP layer included (as convert_hf_to_gguf keeps it by default),
    1408-wide experts in llama.cpp's Q5_0 / Q8_0 fallbacks; the catalog entry found from the file name."""
    entry = get("glm-4.5-air")
    path = tmp_path / "GLM-4.5-Air-Q4_K_M.gguf"
    count = write_gguf(path, entry.config, name="GLM 4.5 Air", sparse_types=q4_k_m_like, dtype="Q4_K_M")
    code, report, err = inspect_json(cli, str(path))
    assert code == 0, (err, report.get("findings"))
    assert report["gguf"]["reference"] == {"id": "catalog glm-4.5-air", "differences": []}
    assert report["params_expected"] == count  # Glm4MoeForCausalLM on the meta device: no MTP layer
    beside = beside_the_model(entry.config)
    assert report["params_beside_model"] == beside
    assert report["params_checkpoint"] == count + beside["mtp"] + beside["buffer"]
    assert {q["type"] for q in report["gguf"]["quantization"]} >= {"Q5_0", "Q4_K"}


def test_full_size_qwen3_30b_a3b_q4_k_m(tmp_path, cli):
    """Qwen3-30B-A3B's published config, header over a sparse hole, named as GGUF repositories name it:
    the catalog entry is found from the file name and the count is transformers' (and the published)."""
    entry = get("qwen3-30b-a3b")
    path = tmp_path / "Qwen3-30B-A3B-Q4_K_M.gguf"
    count = write_gguf(path, entry.config, name="Qwen3 30B A3B", sparse_types=q4_k_m_like, dtype="Q4_K_M")
    assert count == 30_532_122_624
    code, report, err = inspect_json(cli, str(path))
    assert code == 0, (err, report.get("findings"))
    assert report["gguf"]["reference"] == {"id": "catalog qwen3-30b-a3b", "differences": []}
    assert report["params_checkpoint"] == report["params_expected"] == count
    assert report["generation"] == "qwen3-moe" and report["gguf"]["architecture"] == "qwen3moe"
    experts = next(q for q in report["gguf"]["quantization"] if q["type"] == "Q4_K")
    assert experts["bits_per_weight"] == 4.5  # 144 bytes per 256 (gguf.GGML_QUANT_SIZES)
    code, report, _ = inspect_json(cli, str(path), "--against", "qwen3-30b-a3b")
    assert code == 0 and report["gguf"]["reference"]["differences"] == []


def test_moe_inspect_imports_neither_numpy_nor_torch(files):
    loaded, err = inspect_loads(files["glm-4.5"][0])
    assert loaded == "0 []", err


def test_an_instruct_file_is_compared_with_its_base_models_entry(files, cli, tmp_path):
    """Published GGUF names carry the tune ("Llama-4-Scout-17B-16E-Instruct-Q4_K_M.gguf", as
    unsloth and bartowski name theirs); with no catalog entry of that name, the base model's is the
    reference. The tiny file differs from the full-size entry, which is what the comparison shows."""
    renamed = tmp_path / "Llama-4-Scout-17B-16E-Instruct-Q4_K_M.gguf"
    renamed.write_bytes(files["llama-4"][0].read_bytes())
    _, report, _ = inspect_json(cli, str(renamed))
    assert report["gguf"]["reference"]["id"] == "catalog llama-4-scout-17b-16e"
    fields = {d["field"] for d in report["gguf"]["reference"]["differences"]}
    assert "hidden_size" in fields
