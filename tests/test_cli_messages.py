"""What the command line says to a user: one test per message of issue 17.

Truths: importlib.metadata (version), argparse's own choices, the accounting of the catalog
spec (counts with suffixes), files written by the `tokenizers` library (a real tokenizer.json),
transformers loading what build wrote, and safetensors reading its dtypes.
"""

from __future__ import annotations

import json
import re
from importlib.metadata import version

import pytest

from modelkin.commands import COMMANDS
from modelkin.configs import get
from modelkin.families.accounting import kv_cache_bytes


def one_line_error(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, result
    return err.strip()


# --- the bare command, --version, parser errors ------------------------------------------------


def test_bare_modelkin_prints_help_not_an_error(cli):
    code, out, err = cli()
    assert code == 0 and err == ""
    assert out.startswith("usage: modelkin") and "examples:" in out
    assert all(name in out for name in COMMANDS)


def test_version(cli):
    code, out, err = cli("--version")
    assert (code, out.strip(), err) == (0, f"modelkin {version('modelkin')}", "")


@pytest.mark.parametrize(
    "argv, line",
    [
        (["explode"], "modelkin: argument command: invalid choice: 'explode'"),
        (["show"], "modelkin show: the following arguments are required: id"),
    ],
)
def test_parser_errors_name_the_command_once(cli, argv, line):
    message = one_line_error(cli(*argv))
    assert message.startswith(line) and "modelkin: modelkin" not in message


# --- counts: one parser for --context, --batch, --tokens --------------------------------------


@pytest.mark.parametrize(
    "text, value", [("128k", 128_000), ("1M", 1_000_000), ("1e6", 1_000_000), ("128Ki", 131_072), ("131,072", 131_072)]
)
def test_context_takes_suffixes(cli, text, value):
    code, out, err = cli("show", "llama-3.1-8b", "--context", text, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["accounting"]["kv_cache"]["context"] == value
    assert doc["accounting"]["kv_cache"]["bytes"] == kv_cache_bytes(get("llama-3.1-8b").spec, value)


def test_tokens_and_context_share_the_parser(cli):
    code, out, _ = cli("show", "llama-3-8b", "--tokens", "15T", "--context", "8Ki", "--format", "json")
    acc = json.loads(out)["accounting"]
    assert acc["tokens"] == 15e12 and acc["kv_cache"]["context"] == 8192
    assert "not a whole number" in one_line_error(cli("show", "llama-3-8b", "--context", "1.5"))
    assert "e.g. 4096, 128k" in one_line_error(cli("show", "llama-3-8b", "--context", "lots"))


# --- formats -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv", [["list"], ["show", "qwen2-7b"], ["compare", "llama-3-8b", "glm-4-9b"], ["rope", "glm-4-9b"]]
)
@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json"])
def test_table_commands_take_every_format(cli, argv, fmt):
    code, out, err = cli(*argv, "--format", fmt)
    assert code == 0 and out.strip(), err
    if fmt == "json":
        json.loads(out)


def test_schema_takes_format_json_and_inspect_says_its_formats(cli):
    code, out, _ = cli("schema", "--format", "json")
    assert code == 0 and {"family", "generation", "layers"} <= set(json.loads(out)["properties"])
    message = one_line_error(cli("inspect", "x", "--format", "csv"))
    assert "invalid choice: 'csv'" in message and "'table', 'markdown', 'json', 'html'" in message
    code, out, _ = cli("inspect", "--help")
    assert "no csv" in out


# --- build: the size limit, files that are not models, the renamed --format --------------------


def test_full_size_build_names_tiny_the_limit_and_meta(cli, tmp_path):
    message = one_line_error(cli("build", "llama-3-8b", "--out", str(tmp_path / "x")))
    assert message == (
        "modelkin: llama-3-8b: 8,030,261,248 parameters, above the 200,000,000 that build writes at full size; "
        "add --tiny for the tiny variant, or use --meta to count it without writing"
    )
    assert not (tmp_path / "x").exists()
    code, out, _ = cli("build", "--help")
    assert "200 M" in out


def test_build_of_a_tokenizer_file_says_what_it_is(cli, tmp_path):
    from tokenizers import Tokenizer, models

    path = tmp_path / "tokenizer.json"
    Tokenizer(models.BPE()).save(str(path))  # a real tokenizer.json, written by the tokenizers library
    message = one_line_error(cli("build", str(path), "--tiny", "--out", str(tmp_path / "x")))
    assert "is a tokenizer file (tokenizer.json)" in message and 'config.json (with "model_type")' in message
    assert "discriminator" not in message and "Unable" not in message
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"family": "falcon"}))
    message = one_line_error(cli("build", str(spec), "--tiny", "--out", str(tmp_path / "x")))
    assert message == f"modelkin: {spec}: family 'falcon' is not one of 'llama', 'qwen2', 'glm'"


def test_build_format_is_now_layout(cli, tmp_path):
    message = one_line_error(cli("build", "glm-4-9b", "--tiny", "--format", "chatglm", "--out", str(tmp_path / "x")))
    assert "--layout chatglm" in message
    assert "needs --out" in one_line_error(cli("build", "glm-4-9b", "--meta", "--check"))


# --- ignored arguments are refused ----------------------------------------------------------------


def test_ignored_arguments_are_refused_or_honoured(cli, tmp_path):
    import os
    import subprocess
    import sys

    # inspect --cache TARGET is honoured: only TARGET's cached revisions (an empty cache has none).
    hub = tmp_path / "hf" / "hub"
    hub.mkdir(parents=True)
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "modelkin", "inspect", "--cache", "myorg/x"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2 and done.stderr.startswith("modelkin: myorg/x: ") and done.stdout == ""
    assert "drop --family" in one_line_error(cli("report", "--family", "glm", "--all", "--out", str(tmp_path / "r")))
    assert "drop the IDs" in one_line_error(cli("report", "llama-3-8b", "--all", "--out", str(tmp_path / "r")))
    config = tmp_path / "config.json"
    config.write_text(json.dumps(get("llama-3-8b").config))
    assert "drop --tokens" in one_line_error(cli("convert", str(config), "--to", "qwen2", "--tokens", "15T"))
    assert not (tmp_path / "r").exists()


# --- help ----------------------------------------------------------------------------------------


def _help(cli, command: str) -> str:
    code, out, _ = cli(command, "--help")
    assert code == 0
    return out


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_help_has_examples(cli, command):
    text = _help(cli, command)
    examples = text.split("examples:\n", 1)[1]
    assert all(line.strip().startswith("modelkin " + command) for line in examples.splitlines() if line.strip())


def test_options_have_help_and_no_help_names_another_command(cli):
    listing = _help(cli, "list")
    assert "only the models of this family" in listing and "output format" in listing
    assert "two or more models: catalog id" in _help(cli, "compare")
    convert = _help(cli, "convert")
    assert "training tokens" in convert and "where every value came from" in convert
    for command in ("compare", "convert"):
        options = _help(cli, command).split("examples:")[0]
        assert not re.search(r"\bshow\b(?! this help)", options), command  # argparse's own -h line aside


# --- ablations, tokenizer kind, generation guesses, dtype ---------------------------------------


def test_llama_qkv_bias_error_says_what_works(cli, tmp_path):
    message = one_line_error(
        cli("build", "llama-3.1-8b", "--tiny", "--set", "attention.qkv_bias=true", "--out", str(tmp_path / "x"))
    )
    # What llama's keys can state, and which formats state a bias on q, k and v only.
    assert "states attention biases 'none' or 'q/k/v/o' only, not 'q/k/v'" in message
    assert "(the qwen2, qwen2_moe, glm4_moe, glm, glm4 formats can)" in message


def test_generation_guess_quotes_the_file(cli, tmp_path):
    config = {
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_attention_heads": 4,
        "num_hidden_layers": 1,
        "vocab_size": 1000,
    }
    path = tmp_path / "m" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(config))
    code, out, _ = cli("convert", str(path), "--provenance", "--format", "json")
    provenance = json.loads(out)["provenance"]
    assert provenance["generation"] == (
        "inferred: vocab_size 1,000 (below Llama 3's 128,000) and max_position_embeddings 2,048 (below Llama 2's 4,096)"
    )
    assert "32k" not in out and "SentencePiece vocabulary" not in out
