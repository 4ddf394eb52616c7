"""`modelkin build`: folders transformers loads, ablations, bad input, nothing partial.

Truth: transformers loading what we wrote (no missing/unexpected keys, the
config values a flag asked for), and the file system after failures.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from transformers import AutoModelForCausalLM  # noqa: E402

from modelkin.configs import get  # noqa: E402
from modelkin.errors import ModelkinError  # noqa: E402
from modelkin.families.tiny import tiny  # noqa: E402
from modelkin.reference.checkpoint import load_reference  # noqa: E402


@pytest.fixture
def build(cli):
    """`modelkin build ...` in-process."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models; threads only add hand-off overhead on a busy machine
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    yield lambda *argv: cli("build", *argv)
    torch.set_num_threads(threads)


def load_hf(folder):
    model, info = AutoModelForCausalLM.from_pretrained(folder, output_loading_info=True, dtype=torch.float32)
    assert {k: v for k, v in info.items() if v} == {}
    return model


def test_tiny_build_with_check_and_meta(build, tmp_path):
    out = tmp_path / "qwen"
    code, stdout, stderr = build("qwen2.5-7b", "--tiny", "--out", str(out), "--check", "--meta")
    assert code == 0, stderr
    assert "max |Δlogits|" in stdout and "identical ok" in stdout and "equal" in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qwen"]  # no temp folder left beside it
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForCausalLM"] and config["num_hidden_layers"] == 4
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["do_sample"] is False and generation["eos_token_id"] == config["eos_token_id"]
    load_hf(out)


def test_same_seed_same_weights_other_seed_other_weights(build, tmp_path):
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        assert build("llama-2-7b", "--tiny", "--out", str(tmp_path / name), "--seed", seed)[0] == 0
    data = {n: (tmp_path / n / "model.safetensors").read_bytes() for n in "abc"}
    assert data["a"] == data["b"] != data["c"]


def test_set_builds_an_ablation_transformers_sees(build, tmp_path):
    out = tmp_path / "biased"
    code, _, stderr = build(
        "llama-3-8b",
        "--tiny",
        "--out",
        str(out),
        "--set",
        "attention.qkv_bias=true",
        "--set",
        "attention.out_bias=true",
        "--set",
        "num_layers=3",
    )
    assert code == 0, stderr
    model = load_hf(out)
    assert model.config.attention_bias is True and model.config.num_hidden_layers == 3
    assert model.model.layers[2].self_attn.o_proj.bias is not None
    ours = load_reference(out)
    ids = torch.randint(0, 1024, (1, 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (ours(ids) - model(ids).logits).abs().max() <= 1e-5


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("attention.no_such_field=1", "attention.no_such_field"),
        ("nothing.here=1", "nothing"),
        ("attention.num_kv_heads=3", "attention"),  # 4 heads are not a multiple of 3
        ("attention.qkv_bias=false", "attention"),  # qwen2 always has a q/k/v bias
        ("num_layers=zero", "num_layers"),
        ("no-equals-sign", "--set"),
    ],
)
def test_bad_set_exits_2_naming_the_field(build, tmp_path, setting, named):
    out = tmp_path / "x"
    code, stdout, stderr = build("qwen2-7b", "--tiny", "--out", str(out), "--set", setting)
    assert code == 2 and stdout == ""
    assert named in stderr and stderr.count("\n") == 1
    assert not out.exists()


def test_existing_folder_needs_force_and_failures_leave_it_untouched(build, tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, stderr = build("llama-2-7b", "--tiny", "--out", str(out))
    assert code == 2 and "--force" in stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    # A failure during the write (llama cannot be stored in the chatglm layout) keeps the old folder.
    code, _, stderr = build("llama-2-7b", "--tiny", "--out", str(out), "--force", "--layout", "chatglm")
    assert code == 2 and "chatglm" in stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    code, _, stderr = build("llama-2-7b", "--tiny", "--out", str(out), "--force")
    assert code == 0, stderr
    assert not (out / "keep.txt").exists() and (out / "model.safetensors").is_file()


def test_full_size_export_is_refused_but_meta_counts(build, tmp_path):
    code, _, stderr = build("qwen2.5-7b", "--out", str(tmp_path / "big"))
    assert code == 2 and "--tiny" in stderr and not (tmp_path / "big").exists()
    code, stdout, _ = build("glm-4-9b", "--meta")
    assert code == 0 and "9,399,951,360" in stdout and "equal" in stdout


def test_spec_json_and_config_json_sources(build, tmp_path):
    spec = tiny(get("glm-4-9b-0414").spec)
    (tmp_path / "spec.json").write_text(json.dumps(spec.model_dump(mode="json")))
    code, _, stderr = build(str(tmp_path / "spec.json"), "--out", str(tmp_path / "from-spec"))
    assert code == 0, stderr
    assert json.loads((tmp_path / "from-spec" / "config.json").read_text())["model_type"] == "glm4"
    # the folder's own config.json is a valid source too (read through read_hf_config)
    code, _, stderr = build(str(tmp_path / "from-spec" / "config.json"), "--out", str(tmp_path / "again"))
    assert code == 0, stderr
    a = json.loads((tmp_path / "from-spec" / "config.json").read_text())
    b = json.loads((tmp_path / "again" / "config.json").read_text())
    assert {k: v for k, v in a.items() if k != "_name_or_path"} == {k: v for k, v in b.items() if k != "_name_or_path"}
    code, _, stderr = build(str(tmp_path / "missing.json"), "--out", str(tmp_path / "nope"))
    assert code == 2 and "missing.json" in stderr


def test_chatglm_format_check(build, tmp_path):
    out = tmp_path / "glm"
    code, stdout, stderr = build("chatglm3-6b", "--tiny", "--out", str(out), "--layout", "chatglm", "--check")
    assert code == 0, stderr
    config = json.loads((out / "chatglm" / "config.json").read_text())
    assert config["model_type"] == "chatglm" and "auto_map" not in config
    assert "chatglm/ layout read back" in stdout


def test_load_reference_refuses_pickles(tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    config = {
        "model_type": "llama",
        "hidden_size": 64,
        "num_attention_heads": 4,
        "num_hidden_layers": 1,
        "intermediate_size": 128,
        "vocab_size": 256,
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "pytorch_model.bin").write_bytes(b"not even a pickle")
    with pytest.raises(ModelkinError) as err:
        load_reference(folder)
    assert err.value.where == str(folder / "pytorch_model.bin")


def test_load_reference_names_a_missing_tensor(build, tmp_path):
    out = tmp_path / "m"
    assert build("llama-2-7b", "--tiny", "--out", str(out))[0] == 0
    from safetensors.torch import load_file, save_file

    tensors = load_file(out / "model.safetensors")
    del tensors["model.layers.1.mlp.up_proj.weight"]
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelkinError, match="model.layers.1.mlp.up_proj.weight"):
        load_reference(out)


@pytest.mark.parametrize("model_id", ["llama-3.1-8b", "glm-4-9b", "glm-4-9b-0414"])
def test_own_tiny_builds_inspect_without_a_tokenizer_kind_warning(build, cli, tmp_path, model_id):
    from tokenizers import Tokenizer

    out = tmp_path / "tiny"  # a folder named after the catalog model would claim its full size
    code, _, stderr = build(model_id, "--tiny", "--out", str(out))
    assert code == 0, stderr
    # Truth: the tokenizers library splits digits in threes, as tiktoken's cl100k pattern does.
    pieces = Tokenizer.from_file(str(out / "tokenizer.json")).pre_tokenizer.pre_tokenize_str("12345")
    assert [p for p, _ in pieces] == ["123", "45"]
    code, stdout, _ = cli("inspect", str(out), "--format", "json")
    report = json.loads(stdout)
    assert code == 0 and [f for f in report["findings"] if f["code"] == "tokenizer-kind"] == []
    assert report["tokenizer"]["kind"] == "tiktoken-bpe"


def test_every_tiny_build_states_bf16_like_glm4(build, tmp_path):
    from safetensors import safe_open

    out = tmp_path / "glm4"
    code, _, stderr = build("glm-4-9b-0414", "--tiny", "--out", str(out))
    assert code == 0, stderr
    assert json.loads((out / "config.json").read_text())["torch_dtype"] == "bfloat16"
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert {f.get_slice(name).get_dtype() for name in f.keys()} == {"BF16"}


def test_llama_with_qkv_bias_only_is_built_in_qwen2_format(build, tmp_path):
    out = tmp_path / "llama-qkv"
    settings = ["family=qwen2", "generation=qwen2", "attention.qkv_bias=true"]
    code, _, stderr = build("llama-3.1-8b", "--tiny", "--out", str(out), *[a for s in settings for a in ("--set", s)])
    assert code == 0, stderr
    model = load_hf(out)
    attention = model.model.layers[0].self_attn
    assert attention.q_proj.bias is not None and attention.o_proj.bias is None
    assert model.config.rope_parameters["rope_type"] == "llama3"


def test_readme_glm_ablation_drops_the_qkv_bias(build, tmp_path):
    out = tmp_path / "glm-nobias"
    code, _, stderr = build("glm-4-9b", "--tiny", "--set", "attention.qkv_bias=false", "--out", str(out))
    assert code == 0, stderr
    attention = load_hf(out).model.layers[0].self_attn
    assert attention.q_proj.bias is None and attention.k_proj.bias is None
