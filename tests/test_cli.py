"""The light CLI: outputs people and scripts rely on, exit codes, and no heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from modelkin.configs import get
from modelkin.families import registry
from modelkin.families.accounting import params_total

from .conftest import REAL_CONFIGS, needs_shared

LIGHT_COMMANDS = [
    ["list"],
    ["show", "llama-3.1-8b"],
    ["show", "qwen2.5-7b-instruct-1m", "--context", "1000000", "--tiny", "--provenance"],
    ["compare", "glm-4-9b", "qwen2-7b", "llama-3-8b"],
    ["schema"],
]


@pytest.mark.parametrize("argv", LIGHT_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_light_commands_import_neither_torch_nor_transformers(argv):
    code = (
        "import sys, io, contextlib\n"
        "from modelkin.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main({argv!r})\n"
        "heavy = [m for m in ('torch', 'transformers', 'accelerate') if m in sys.modules]\n"
        "print(rc, heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "0 []", out.stdout + out.stderr


def test_list_json_contract(cli):
    code, out, _ = cli("list", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert {r["id"] for r in rows} >= {"llama-3.1-405b", "glm-4-9b-chat-1m", "qwen2.5-14b-instruct-1m"}
    for row in rows:
        assert set(row) >= {"id", "family", "generation", "params_total"}
        assert row["family"] in ("llama", "qwen2", "glm")
    assert next(r for r in rows if r["id"] == "llama-3-8b")["params_total"] == 8_030_261_248


def test_show_json_contract(cli):
    code, out, _ = cli("show", "meta-llama/Meta-Llama-3-8B", "--format", "json")  # the repo id is an alias
    assert code == 0
    data = json.loads(out)
    assert data["id"] == "llama-3-8b"
    assert data["spec"]["family"] == "llama"
    acc = data["accounting"]
    assert acc["params_total"] == 8_030_261_248
    assert sum(acc["params_by_component"].values()) == acc["params_total"]
    # 2 (K, V) × 32 layers × 8 kv heads × 128 dims × 2 bytes (bf16), from the published shape.
    assert acc["kv_cache_bytes_per_token"] == 2 * 32 * 8 * 128 * 2
    assert acc["flops_per_token"]["forward"] > 2 * 8e9
    # Llama 3 card: "over 15 trillion tokens".
    assert acc["tokens_per_param"] == pytest.approx(15e12 / 8_030_261_248)
    assert acc["chinchilla_multiple"] == pytest.approx(15e12 / 8_030_261_248 / 20)
    assert acc["training_flops"] == pytest.approx(6 * 8_030_261_248 * 15e12)


def test_gqa_shrinks_the_kv_cache_by_the_group_size(cli):
    _, out, _ = cli("show", "llama-2-70b", "--format", "json", "--context", "4096")
    kv = json.loads(out)["accounting"]["kv_cache"]
    assert kv["bytes_if_mha"] == kv["bytes"] * 8  # 64 query heads share 8 kv heads
    assert kv["bytes"] == 2 * 80 * 8 * 128 * 2 * 4096


def test_compare_marks_differences(cli):
    code, out, _ = cli("compare", "qwen2-7b", "qwen2.5-7b", "--format", "json")
    rows = {r["field"]: r for r in json.loads(out)["rows"]}
    assert not rows["params"]["differs"]  # Qwen2.5-7B kept Qwen2-7B's shape
    assert rows["generation"]["differs"]
    code, out, _ = cli("compare", "llama-2-7b", "llama-3-8b")
    assert code == 0 and "≠ attention" in out and "≠ tokenizer" in out


def test_csv_is_plain_numbers(cli):
    import csv
    import io

    _, out, _ = cli("list", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert int(next(r for r in rows if r["id"] == "qwen2.5-0.5b")["params"]) == params_total(get("qwen2.5-0.5b").spec)


def test_show_context_coverage(cli):
    _, out, _ = cli("show", "llama-3.1-8b", "--context", "100000")
    assert "llama3 RoPE scaling ×8" in out
    _, out, _ = cli("show", "qwen2.5-14b-instruct-1m", "--context", "1000000", "--format", "json")
    cov = json.loads(out)["context_coverage"]
    assert cov["how"] == "dual-chunk-attention" and cov["chunks"] == 4  # ceil(1e6 / (262144 - 8192))
    _, out, _ = cli("show", "llama-7b", "--context", "4096", "--format", "json")
    assert json.loads(out)["context_coverage"]["how"] == "not-covered"


@needs_shared
def test_convert_real_chatglm_config(cli):
    path = str(REAL_CONFIGS / "configs/THUDM__chatglm3-6b/config.json")
    code, out, err = cli("convert", path, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["model_type"] == "chatglm" and data["spec"]["generation"] == "chatglm3"
    assert "auto_map" in err  # reported, never imported
    code, out, _ = cli("convert", path, "--to", "glm")
    assert json.loads(out)["model_type"] == "glm"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["show", "llama-3.1-8bb"], "modelkin: llama-3.1-8bb: not in the catalog; did you mean llama-3.1-8b"),
        (["show"], "modelkin show: the following arguments are required: id"),
        (["convert", "/nonexistent/config.json"], "modelkin: /nonexistent/config.json: no such file"),
        (["compare", "llama-3-8b"], "give at least two IDs"),
        (["show", "llama-3-8b", "--context", "-5"], "must be positive"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, argv, message):
    code, out, err = cli(*argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_bad_config_file(cli, tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text('{"model_type": "llama", "hidden_size": NaN}')
    code, _, err = cli("convert", str(bad))
    assert code == 2 and f"{bad}: not valid JSON" in err
    bad.write_text(json.dumps({**get("llama-3-8b").config, "num_attention_heads": "32"}))
    code, _, err = cli("convert", str(bad))
    assert code == 2 and "key 'num_attention_heads' must be an integer, got '32'" in err


def test_python_dash_m_and_schema():
    out = subprocess.run([sys.executable, "-m", "modelkin", "schema"], capture_output=True, text=True, timeout=60)
    schema = json.loads(out.stdout)
    assert schema["properties"]["family"]["enum"] == list(registry.FAMILY_NAMES)
    assert schema["properties"]["generation"]["enum"] == list(registry.GENERATION_NAMES)


def test_each_command_has_one_home_loaded_only_when_chosen():
    """Every sub-command `--help` lists is a table entry whose module declares and runs it;
    parsing one command imports that command's module and no other's."""
    from modelkin.commands import COMMANDS

    listed = subprocess.run([sys.executable, "-m", "modelkin", "--help"], capture_output=True, text=True, timeout=60)
    assert listed.stdout.split("{", 1)[1].split("}", 1)[0].split(",") == list(COMMANDS)
    code = (
        "import json, sys\n"
        "from modelkin.cli import build_parser\n"
        "from modelkin.commands import COMMANDS\n"
        "modules = {c.module for c in COMMANDS.values()}\n"
        "parser = build_parser()\n"
        "before = sorted(modules & set(sys.modules))\n"
        "parser.parse_args(['show', 'llama-3.1-8b'])\n"
        "print(json.dumps([before, sorted(modules & set(sys.modules))]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout) == [[], [COMMANDS["show"].module]], out.stderr
    import importlib

    for command in COMMANDS.values():
        module = importlib.import_module(command.module)
        assert callable(module.add_arguments) and callable(module.run), command.module
