"""`modelkin inspect` on GGUF files written by llama.cpp's own `gguf` package.

Truth, none of it computed by modelkin: tensor names and shapes come from
transformers' model for each config (meta device) renamed by llama.cpp's
`gguf.TensorNameMap`; the files are written by `gguf.GGUFWriter` (F32, F16 and
Q8_0 through `gguf.quants.quantize`); parameter counts are transformers'
`sum(p.numel())`; bytes and offsets are read back by `gguf.GGUFReader`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

gguf = pytest.importorskip("gguf")
pytest.importorskip("transformers")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gguf_files import inspect_json, inspect_loads, q4_k_m_like, write_gguf, write_tiny_files  # noqa: E402  (helper next to this file)

from modelkin.configs import get  # noqa: E402
from modelkin.families import spec_to_hf  # noqa: E402
from modelkin.families.tiny import tiny  # noqa: E402
from modelkin.inspect.gguf_file import read_gguf_header  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def tiny_config(model_id: str) -> dict:
    config = spec_to_hf(tiny(get(model_id).spec))
    if config["model_type"] == "glm":
        # llama.cpp's chatglm takes the head width from embedding_length / head_count (the converter
        # writes no key_length), as the published GLM-4-9B has it; the tiny rule keeps 32 heads of 16.
        config["hidden_size"] = config["num_attention_heads"] * config["head_dim"]
    return config


# (catalog model to shrink, writer options): every architecture (Qwen3 with its QK-norm tensors), F32 / F16 / Q8_0, tied and untied,
# ChatGLM with fused query_key_value (THUDM's files) and with q/k/v (transformers' GlmForCausalLM).
CASES = {
    "llama-3.1-8b-f32": ("llama-3.1-8b", {"dtype": "F32"}),
    "llama-3.2-1b-q8_0": ("llama-3.2-1b", {"dtype": "Q8_0"}),
    "qwen2.5-7b-f16": ("qwen2.5-7b", {"dtype": "F16"}),
    "qwen3-0.6b-q8_0": ("qwen3-0.6b", {"dtype": "Q8_0"}),
    "qwen3-8b-f16": ("qwen3-8b", {"dtype": "F16"}),
    "glm-4-9b-chatglm-qkv": ("glm-4-9b", {"fuse_qkv": True}),
    "glm-4-9b-chatglm-split-qkv": ("glm-4-9b", {"dtype": "F16"}),
    "glm-4-9b-0414-q8_0": ("glm-4-9b-0414", {"dtype": "Q8_0"}),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, tuple[Path, int, dict]]:
    import transformers

    transformers.utils.logging.set_verbosity_error()
    root = tmp_path_factory.mktemp("gguf")
    return write_tiny_files(
        root, {case: (model_id, tiny_config(model_id), options) for case, (model_id, options) in CASES.items()}
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_consistent_files_count_exactly(case, files, cli):
    path, count, config = files[case]
    code, report, err = inspect_json(cli, str(path))
    assert code == 0, (err, report.get("findings"))
    assert report["format"] == "gguf"
    assert report["missing"] == report["unexpected"] == report["shape_mismatches"] == []
    assert report["params_checkpoint"] == report["params_expected"] == count  # transformers' own count
    assert report["family"] == get(CASES[case][0]).spec.family
    # Bytes per type as llama.cpp's own reader computes them from the same header.
    reader = gguf.GGUFReader(path)
    by_type: dict[str, int] = {}
    for t in reader.tensors:
        by_type[t.tensor_type.name] = by_type.get(t.tensor_type.name, 0) + int(t.n_bytes)
    assert {q["type"]: q["bytes"] for q in report["gguf"]["quantization"]} == by_type
    assert (
        report["gguf"]["files"][0]["header_bytes"]
        <= reader.data_offset
        < report["gguf"]["files"][0]["header_bytes"] + reader.alignment
    )
    assert report["gguf"]["files"][0]["bytes_read"] == report["gguf"]["files"][0]["header_bytes"]
    tok = report["gguf"]["tokenizer"]
    assert tok["tokens"] == tok["embedding_rows"] == config["vocab_size"] and tok["chat_template"] is True


def test_quantized_bits_per_weight(files, cli):
    _, report, _ = inspect_json(cli, str(files["llama-3.2-1b-q8_0"][0]))
    q8 = next(q for q in report["gguf"]["quantization"] if q["type"] == "Q8_0")
    assert q8["bits_per_weight"] == 8.5  # 34 bytes per block of 32 (gguf.GGML_QUANT_SIZES)
    assert q8["bytes"] * 32 == q8["params"] * 34


def test_llama3_rope_freqs_is_what_gguf_adds(files, cli):
    path, count, config = files["llama-3.1-8b-f32"]
    code, report, _ = inspect_json(cli, str(path), "--against", str(path.parent / "config.json"))
    assert code == 0, report["findings"]
    assert report["buffers"] == ["rope_freqs.weight"]
    added = report["gguf"]["params"]["added"]
    assert [a["what"] for a in added] == ["rope_freqs.weight"] and added[0]["values"] == config["head_dim"] // 2
    assert {d["field"] for d in report["gguf"]["reference"]["differences"]} >= {"positions.scaling.type"}
    assert all(d["severity"] == "info" for d in report["gguf"]["reference"]["differences"])


def test_against_the_full_catalog_entry_lists_every_difference(files, cli):
    path = files["qwen2.5-7b-f16"][0]
    code, report, err = inspect_json(cli, str(path), "--against", "qwen2.5-7b")
    assert code == 1
    fields = {d["field"]: d for d in report["gguf"]["reference"]["differences"]}
    assert fields["num_layers"]["reference"] == 28 and fields["num_layers"]["severity"] == "error"
    assert fields["attention.num_kv_heads"]["reference"] == 4
    assert "inconsistent" in err


def test_kv_head_count_in_metadata_disagreeing_with_shapes(tmp_path, cli):
    config = tiny_config("qwen2.5-7b")
    path = tmp_path / "tiny-qwen2.5-lies.gguf"
    wrong = 1  # MQA: a valid architecture, just not the one the weights have
    assert config["num_key_value_heads"] != wrong
    write_gguf(path, config, metadata={"{arch}.attention.head_count_kv": wrong})
    code, report, err = inspect_json(cli, str(path))
    assert code == 1
    codes = {f["code"]: f["message"] for f in report["findings"]}
    assert "shape-mismatch" in codes
    assert f"the metadata says {wrong}" in codes["kv-heads-disagree"]
    assert f"have {config['num_key_value_heads']} key/value heads" in codes["kv-heads-disagree"]


def test_qwen3_head_dim_and_qk_norm_come_from_the_file(tmp_path, cli):
    # As in the published Qwen3-0.6B (16 heads × 128 ≠ 1024), head_dim is not hidden / heads: only
    # qwen3.attention.key_length can say it.
    config = tiny_config("qwen3-8b")
    config["head_dim"] = 2 * config["hidden_size"] // config["num_attention_heads"]
    path = tmp_path / "tiny-qwen3-wide-heads.gguf"
    count = write_gguf(path, config)
    (tmp_path / "config.json").write_text(json.dumps(config))
    code, report, err = inspect_json(cli, str(path), "--against", str(tmp_path / "config.json"))
    assert code == 0, (err, report.get("findings"))
    assert report["params_checkpoint"] == report["params_expected"] == count  # transformers' Qwen3ForCausalLM
    hf = report["gguf"]["hf_config"]
    assert hf["model_type"] == "qwen3" and hf["head_dim"] == config["head_dim"]
    assert report["spec"]["attention"]["qk_norm"] is True and report["generation"] == "qwen3"
    names = [t.name for t in gguf.GGUFReader(path).tensors]
    assert "blk.0.attn_q_norm.weight" in names and "blk.0.attn_k_norm.weight" in names  # TensorNameMap's
    # A file missing one layer's K-norm (llama.cpp refuses to load it) is a finding, not a pass.
    broken = tmp_path / "tiny-qwen3-no-k-norm.gguf"
    write_gguf(broken, config, drop=("blk.1.attn_k_norm.weight",))
    code, report, err = inspect_json(cli, str(broken))
    assert code == 1 and report["missing"] == ["blk.1.attn_k_norm.weight"]
    assert report["params_checkpoint"] == count - config["head_dim"]


def test_full_size_qwen3_q4_k_m_matches_transformers(tmp_path, cli):
    """Qwen3-0.6B at full size (16 heads × 128 on a 1024-wide model, tied head), header over a sparse hole."""
    config = spec_to_hf(get("qwen3-0.6b").spec)
    path = tmp_path / "Qwen3-0.6B-Q4_K_M.gguf"
    count = write_gguf(path, config, name="Qwen3 0.6B", sparse_types=q4_k_m_like)
    code, report, err = inspect_json(cli, str(path), "--against", "qwen3-0.6b")
    assert code == 0, (err, report.get("findings"))
    assert report["params_checkpoint"] == report["params_expected"] == count  # Qwen3ForCausalLM on meta
    assert report["gguf"]["hf_config"]["head_dim"] == 128 != config["hidden_size"] // config["num_attention_heads"]
    assert report["gguf"]["reference"]["id"] == "catalog qwen3-0.6b" and report["unexpected"] == []


def test_missing_output_head_of_an_untied_model(files, tmp_path, cli):
    path0, _, config = files["llama-3.1-8b-f32"]
    path = tmp_path / "tiny-llama-3.1-headless.gguf"
    write_gguf(path, config, drop=("output.weight",))
    code, report, err = inspect_json(cli, str(path), "--against", str(path0.parent / "config.json"))
    assert code == 1
    assert report["missing"] == ["output.weight"]
    assert any(f["code"] == "head-missing" for f in report["findings"]), report["findings"]


def test_token_count_must_equal_embedding_rows(tmp_path, cli):
    config = tiny_config("llama-3.2-1b")
    path = tmp_path / "tiny-llama-3.2-short-vocab.gguf"
    write_gguf(path, config, tokens=config["vocab_size"] - 24)
    code, report, _ = inspect_json(cli, str(path))
    assert code == 1
    assert any(f["code"] == "gguf-tokenizer-rows" for f in report["findings"])


def test_split_parts_are_one_model(tmp_path, cli):
    config = tiny_config("qwen2.5-7b")
    folder = tmp_path / "split"
    folder.mkdir()
    count = write_gguf(folder / "tiny-qwen2.5.gguf", config, split=3)
    parts = sorted(p.name for p in folder.iterdir())
    assert parts == [f"tiny-qwen2.5-0000{i}-of-00003.gguf" for i in (1, 2, 3)]  # gguf's own naming
    code, report, err = inspect_json(cli, str(folder))
    assert code == 0, report["findings"]
    assert report["params_checkpoint"] == count and len(report["shards"]) == 3
    code, report, err = inspect_json(cli, str(folder / parts[1]))  # naming one part inspects them all
    assert code == 0 and len(report["shards"]) == 3
    (folder / parts[2]).unlink()
    code, report, err = inspect_json(cli, str(folder))
    assert code == 1 and any(f["code"] == "gguf-part-missing" for f in report["findings"])


def test_folder_with_two_models_asks_which(files, tmp_path, cli):
    folder = tmp_path / "two"
    folder.mkdir()
    for case in ("qwen2.5-7b-f16", "llama-3.2-1b-q8_0"):
        (folder / files[case][0].name).write_bytes(files[case][0].read_bytes())
    code, out, err = cli("inspect", str(folder))
    assert code == 2 and "holds 2 GGUF models; pick one with --file" in err
    code, out, err = cli("inspect", str(folder), "--file", files["qwen2.5-7b-f16"][0].name)
    assert code == 0, err


def test_text_output_shows_the_gguf_part(files, cli):
    code, out, err = cli("inspect", str(files["glm-4-9b-0414-q8_0"][0]))
    assert code == 0, err
    for text in ("GGUF", "glm4", "Stored by type", "Q8_0", "chat template"):
        assert text in out


def test_unknown_architecture_is_counted_not_refused(tmp_path):
    path = tmp_path / "other.gguf"
    w = gguf.GGUFWriter(path, "gpt2")
    w.add_block_count(1)
    import numpy as np

    w.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    from tests.conftest import run_cli

    code, out, err = run_cli("inspect", str(path), "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["params_checkpoint"] == 32
    assert report["findings"][0]["code"] == "gguf-architecture"


def test_reader_agrees_with_gguf_reader(files):
    path = files["glm-4-9b-chatglm-qkv"][0]
    ours = read_gguf_header(path)
    theirs = gguf.GGUFReader(path)
    assert [t.name for t in theirs.tensors] == list(ours.tensors)
    for t in theirs.tensors:
        mine = ours.tensors[t.name]
        assert list(t.shape) == list(mine.dims) and t.tensor_type.name == mine.type_name
        assert t.data_offset == ours.data_offset + mine.offset and t.n_bytes == mine.n_bytes
    assert ours.data_offset == theirs.data_offset
    assert ours.metadata["chatglm.block_count"] == theirs.fields["chatglm.block_count"].contents()


def test_gguf_inspect_imports_neither_numpy_nor_torch(files):
    """The gguf package's tables are read without running its __init__ (numpy, yaml, the writer)."""
    loaded, err = inspect_loads(files["qwen2.5-7b-f16"][0])
    assert loaded == "0 []", err


def test_hub_gguf_repo_reads_header_ranges_only(files, tmp_path, monkeypatch, cli):
    from hubserver import FakeHub, hub_environment

    root = tmp_path / "repos"
    repo = root / "acme" / "tiny-qwen-GGUF"
    repo.mkdir(parents=True)
    src = files["qwen2.5-7b-f16"][0]
    (repo / src.name).write_bytes(src.read_bytes())
    (repo / "mmproj-tiny-f16.gguf").write_bytes(b"GGUF")  # a vision projector: not the model
    with FakeHub(root) as server:
        hub_environment(monkeypatch, server, tmp_path / "hf-home")
        code, report, err = inspect_json(cli, "acme/tiny-qwen-GGUF")
        served = server.bytes_served[src.name]
    assert code == 0, (err, report.get("findings"))
    assert report["source"] == "hub" and report["bytes_fetched"] == served
    assert served < src.stat().st_size and served >= report["gguf"]["files"][0]["header_bytes"]
    assert "mmproj-tiny-f16.gguf" not in server.bytes_served


def test_compare_puts_a_gguf_beside_its_original(files, cli):
    path, _, config = files["qwen2.5-7b-f16"]
    code, out, err = cli("compare", "qwen2.5-7b", str(path), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["ids"] == ["qwen2.5-7b", str(path)]
    rows = {r["field"]: r for r in data["rows"]}
    assert rows["layers"]["values"] == [28, config["num_hidden_layers"]] and rows["layers"]["differs"]
    assert not rows["QKV bias"]["differs"]


def test_report_puts_a_gguf_beside_its_original(files, tmp_path, cli):
    path = files["glm-4-9b-0414-q8_0"][0]
    code, out, err = cli("report", "glm-4-9b-0414", str(path), "--out", str(tmp_path / "rep"))
    assert code == 0, err
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert path.name in json.dumps(report)


def test_against_is_for_gguf_only(tmp_path, cli):
    from tests.hostile.files import write_tiny_checkpoint

    folder = write_tiny_checkpoint(tmp_path / "ckpt")
    code, out, err = cli("inspect", str(folder), "--against", "llama-3.2-1b")
    assert code == 2 and err.startswith("modelkin: --against: ")


def test_hf_cache_snapshot_of_a_gguf_repo(files, tmp_path, monkeypatch, cli):
    """A GGUF repository downloaded by huggingface_hub itself: `--cache` and offline `inspect org/name`."""
    from hubserver import FakeHub, hub_environment
    from huggingface_hub import hf_hub_download

    root = tmp_path / "repos"
    repo = root / "acme" / "tiny-llama-GGUF"
    repo.mkdir(parents=True)
    src, count, _ = files["llama-3.2-1b-q8_0"]
    (repo / src.name).write_bytes(src.read_bytes())
    with FakeHub(root) as server:
        hub_environment(monkeypatch, server, tmp_path / "hf-home")
        hf_hub_download("acme/tiny-llama-GGUF", src.name, endpoint=server.url, cache_dir=tmp_path / "hf-home" / "hub")
        code, out, err = cli("inspect", "--cache", "--format", "json")
    rows = json.loads(out)
    assert [(r["id"], r["family"], r["verdict"], r["params"]) for r in rows] == [
        ("acme/tiny-llama-GGUF", "llama", "consistent", count)
    ]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, report, err = inspect_json(cli, "acme/tiny-llama-GGUF")
    assert code == 0 and report["params_checkpoint"] == count, err


def test_source_repository_names_the_catalog_reference(tmp_path, cli):
    """convert_hf_to_gguf records where the weights came from; a tiny file claiming Qwen2.5-7B differs from it."""
    path = tmp_path / "renamed.gguf"
    write_gguf(
        path, tiny_config("qwen2.5-7b"), metadata={"general.source.repo_url": "https://huggingface.co/Qwen/Qwen2.5-7B"}
    )
    code, report, err = inspect_json(cli, str(path))
    assert report["gguf"]["reference"]["id"] == "catalog qwen2.5-7b"
    assert code == 1 and "num_layers" in {d["field"] for d in report["gguf"]["reference"]["differences"]}


def test_generation_from_the_name_in_the_metadata(files, tmp_path, cli):
    """general.name as convert_hf_to_gguf writes it, with spaces: 'Meta Llama 3.1 8B Instruct'."""
    config = files["llama-3.1-8b-f32"][2]
    path = tmp_path / "model.gguf"
    write_gguf(path, config, name="Meta Llama 3.1 8B Instruct")
    code, report, _ = inspect_json(cli, str(path))
    assert code == 0 and report["generation"] == "llama-3.1"
    assert "Meta-Llama-3.1-8B-Instruct" in report["generation_how"]


def test_nan_epsilon_is_a_finding_and_the_json_stays_json(tmp_path, cli):
    path = tmp_path / "tiny-nan.gguf"
    write_gguf(path, tiny_config("qwen2.5-7b"), metadata={"{arch}.attention.layer_norm_rms_epsilon": float("nan")})
    code, out, err = cli("inspect", str(path), "--format", "json")
    report = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-JSON literal {c}"))
    assert code == 1 and report["findings"][0]["code"] == "gguf-metadata"
    assert "layer_norm_rms_epsilon must be a positive finite number" in report["findings"][0]["message"]


def test_the_html_page_has_the_gguf_part(files, cli):
    """`inspect --format html` shows what the text shows of a GGUF file: its architecture, the
    tensors stored by type, the tokenizer facts (read here with Python's own HTML parser)."""
    from html.parser import HTMLParser

    class Cells(HTMLParser):
        """Text by table block: the page wraps each table in <div class="table-block" id=...>."""

        def __init__(self) -> None:
            super().__init__()
            self.tables: dict[str, list[str]] = {}
            self.current: str | None = None

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "div" and attrs.get("class") == "table-block":
                self.current = attrs.get("id")
                self.tables[self.current] = []

        def handle_endtag(self, tag):
            if tag == "table":
                self.current = None

        def handle_data(self, data):
            if self.current is not None and data.strip():
                self.tables[self.current].append(data.strip())

    path = files["qwen2.5-7b-f16"][0]
    code, out, err = cli("inspect", str(path), "--format", "html")
    assert code == 0, err
    page = Cells()
    page.feed(out)
    assert "qwen2" in page.tables["gguf-gguf"]
    assert "F16" in page.tables["gguf-stored-by-type"]  # the writer stored the matrices in F16
    assert "gpt2" in " ".join(page.tables["gguf-tokenizer-gguf-metadata"])  # tokenizer.ggml.model
