"""The comparison report: JSON shape, CSV, atomic writing, highlights, and a real browser.

Independent truths: the raw published config.json values stored in the catalog (not the
specs our reader derives), published parameter counts, Python's csv/json/XML parsers, matplotlib's
PNG reader for the screenshot's pixels, and headless Chromium.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from modelkin.configs.catalog import get
from modelkin.errors import ModelkinError
from modelkin.reports import write as write_module
from modelkin.reports.build_report import SCHEMA, build_report, select_ids
from modelkin.reports.page import Cell, Table
from modelkin.reports.write import write_report

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chromium  # noqa: E402

needs_chromium = pytest.mark.skipif(
    not chromium.chromium_available(), reason="chromium not installed (/usr/bin/chromium)"
)

IDS = ["llama-2-7b", "llama-3-8b", "qwen2-7b", "qwen2.5-7b", "qwen2.5-0.5b", "glm-4-9b", "glm-4-9b-0414"]
CONTEXT = 8192


@pytest.fixture(scope="module")
def data():
    return build_report(select_ids(IDS), CONTEXT)


@pytest.fixture(scope="module")
def written(data, tmp_path_factory) -> Path:
    return write_report(data, tmp_path_factory.mktemp("report") / "out")


def _cells(data, model_id: str) -> dict[str, Cell]:
    """Every feature-matrix cell of one model, by column header."""
    out = {}
    for table in data.tables:
        if not table.id.startswith("features-"):
            continue
        for row in table.rows:
            if row[0] == model_id:
                out.update({h: c for h, c in zip(table.headers, row) if isinstance(c, Cell)})
    return out


# --- JSON ------------------------------------------------------------------------------------


def test_json_has_the_documented_shape(written):
    doc = json.loads((written / "report.json").read_text(encoding="utf-8"))
    assert doc["schema"] == SCHEMA
    assert set(doc) == {
        "schema",
        "title",
        "generator",
        "context",
        "models",
        "lineage",
        "token_scaling",
        "tables",
        "plots",
        "explanations",
    }
    assert doc["context"] == CONTEXT
    assert [m["id"] for m in doc["models"]] == select_ids(IDS)
    model_keys = {
        "id",
        "repo",
        "family",
        "generation",
        "variant",
        "previous",
        "features",
        "feature_values",
        "changed",
        "accounting",
        "published_params",
        "training_tokens",
        "config_source",
    }
    for m in doc["models"]:
        assert set(m) == model_keys
        assert m["variant"] in ("base", "chat", "1m")
        assert set(m["features"]) == set(m["feature_values"])
        assert all(set(c) == {"feature", "from", "to"} for c in m["changed"])
        assert m["accounting"]["kv_cache"]["context"] == CONTEXT
    for step in doc["lineage"]:
        assert set(step) == {"family", "from", "to", "title", "common_changes", "pairs", "new_sizes"}
        for pair in step["pairs"]:
            assert set(pair) == {"from", "to", "same_size", "changes", "other_changes"}
    for row in doc["token_scaling"]:
        assert set(row) == {
            "id",
            "params",
            "tokens",
            "tokens_per_param",
            "chinchilla_multiple",
            "training_flops",
            "source",
        }
    for table in doc["tables"]:
        assert (written / table["csv"]).is_file()
    assert doc["plots"] and sorted(p["svg"] for p in doc["plots"]) == sorted(
        f"plots/{p.name}" for p in (written / "plots").iterdir()
    )
    for plot in doc["plots"]:
        root = ElementTree.parse(written / plot["svg"]).getroot()  # a well-formed SVG document
        assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox"), plot
    assert doc["explanations"] and all(e["markdown"] for e in doc["explanations"])


def test_json_numbers_match_published_figures(written):
    doc = json.loads((written / "report.json").read_text(encoding="utf-8"))
    by_id = {m["id"]: m for m in doc["models"]}
    # Meta's published count for Llama 3 8B (catalog fact with its source), not our arithmetic.
    assert (
        by_id["llama-3-8b"]["accounting"]["params_total"] == get("llama-3-8b").published_params.value == 8_030_261_248
    )
    # Llama 3 was trained on 15T tokens: 15e12 / 8.03e9 ≈ 1868 tokens per parameter.
    scaling = {r["id"]: r for r in doc["token_scaling"]}
    assert scaling["llama-3-8b"]["tokens"] == 15 * 10**12
    assert scaling["llama-3-8b"]["tokens_per_param"] == pytest.approx(15e12 / 8_030_261_248)
    # KV cache per token from the raw published config: 2 × layers × kv heads × head dim × 2 bytes.
    cfg = get("llama-3-8b").config
    head_dim = cfg["hidden_size"] // cfg["num_attention_heads"]
    per_token = 2 * cfg["num_hidden_layers"] * cfg["num_key_value_heads"] * head_dim * 2
    assert by_id["llama-3-8b"]["accounting"]["kv_cache"]["bytes"] == per_token * CONTEXT


# --- CSV -------------------------------------------------------------------------------------


def test_csv_has_one_header_row_and_plain_numbers(written):
    doc = json.loads((written / "report.json").read_text(encoding="utf-8"))
    for table in doc["tables"]:
        with open(written / table["csv"], newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == table["headers"], table["id"]
        assert all(len(row) == len(rows[0]) for row in rows[1:])
        assert not any(header.replace(".", "").isdigit() for header in rows[0])  # exactly one header row
    with open(written / "params.csv", newline="", encoding="utf-8") as handle:
        params = {row["model"]: row for row in csv.DictReader(handle)}
    assert int(params["llama-3-8b"]["total"]) == 8_030_261_248
    with open(written / "memory.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for key, value in row.items():
                if key != "model":
                    float(value)  # "16 GiB" or "1,234" would raise
    with open(written / "features-positions.csv", newline="", encoding="utf-8") as handle:
        bases = {row["model"]: float(row["RoPE base"]) for row in csv.DictReader(handle)}
    assert bases["llama-3-8b"] == get("llama-3-8b").config["rope_theta"]


# --- highlights against the published configs ------------------------------------------------


def test_llama_3_highlights_what_changed_from_llama_2(data):
    old, new = get("llama-2-7b").config, get("llama-3-8b").config
    cells = _cells(data, "llama-3-8b")
    assert old["vocab_size"] != new["vocab_size"] and cells["embedding rows"].highlight
    assert cells["tokenizer"].highlight and "llama-2-7b" in cells["tokenizer"].title
    # Llama 2 configs predate the key; 10000 is transformers' LlamaConfig default.
    assert old.get("rope_theta", 10000.0) != new["rope_theta"] and cells["RoPE base"].highlight
    assert old["num_key_value_heads"] != new["num_key_value_heads"] and cells["GQA group size"].highlight
    assert old["max_position_embeddings"] != new["max_position_embeddings"] and cells["context length"].highlight
    # Unchanged choices stay plain.
    assert old["rms_norm_eps"] == new["rms_norm_eps"] and not cells["norm eps"].highlight
    assert old["hidden_size"] == new["hidden_size"] and not cells["hidden size"].highlight
    assert not cells["QKV bias"].highlight


@pytest.mark.parametrize("size", ["7b", "0.5b"])
def test_qwen25_highlights_only_real_differences_from_qwen2(data, size):
    old, new = get(f"qwen2-{size}").config, get(f"qwen2.5-{size}").config
    differing = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
    architectural = differing - {
        "transformers_version",
        "torch_dtype",
        "bos_token_id",
        "eos_token_id",
        "sliding_window",
        "max_window_layers",
        "use_sliding_window",
        "rope_scaling",
        "use_mrope",
        "initializer_range",
    }
    highlighted = {h for h, c in _cells(data, f"qwen2.5-{size}").items() if c.highlight}
    expected = {"context length"} if "max_position_embeddings" in architectural else set()
    # config.json does not say how many ids the tokenizer produces; the catalog's tokenizer facts do.
    old_tokens, new_tokens = get(f"qwen2-{size}").tokenizer_size, get(f"qwen2.5-{size}").tokenizer_size
    if old_tokens and new_tokens and old_tokens.value != new_tokens.value:
        expected.add("tokenizer size")
    assert highlighted == expected, (differing, highlighted)


def test_glm_0414_highlights_sandwich_norm(data):
    cells = _cells(data, "glm-4-9b-0414")
    assert cells["norm"].highlight and "glm-4-9b" in cells["norm"].title
    assert not cells["tokenizer"].highlight


def test_lineage_lists_the_steps(written):
    doc = json.loads((written / "report.json").read_text(encoding="utf-8"))
    steps = {(s["from"]["generation"], s["to"]["generation"]): s for s in doc["lineage"]}
    llama = steps[("llama-2", "llama-3")]
    assert {c["feature"] for c in llama["common_changes"]} >= {"tokenizer", "RoPE base", "context length"}
    qwen = steps[("qwen2", "qwen2.5")]
    # Nothing architectural changed at the same size; the tokenizer gained 19 special tokens.
    assert qwen["common_changes"] == [{"feature": "tokenizer size", "from": 151646, "to": 151665}]


# --- writing ---------------------------------------------------------------------------------


def _failing_csv(calls: list[int]):
    real = write_module.write_csv

    def fail_on_second(table: Table, path) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise ModelkinError(str(path), "disk full (injected)")
        real(table, path)

    return fail_on_second


def test_failed_write_leaves_nothing(data, tmp_path, monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(write_module, "write_csv", _failing_csv(calls))
    with pytest.raises(ModelkinError, match="injected"):
        write_report(data, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []  # no out dir, no staging leftovers


def test_failed_replace_keeps_the_old_report(data, tmp_path, monkeypatch):
    out = write_report(data, tmp_path / "out")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    calls: list[int] = []
    monkeypatch.setattr(write_module, "write_csv", _failing_csv(calls))
    with pytest.raises(ModelkinError, match="injected"):
        write_report(data, out, force=True)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_existing_report_needs_force(data, tmp_path):
    out = write_report(data, tmp_path / "out")
    (out / "report.md").write_text("stale", encoding="utf-8")
    with pytest.raises(ModelkinError) as refused:
        write_report(data, out)
    assert refused.value.exit_code == 2
    assert (out / "report.md").read_text(encoding="utf-8") == "stale"
    write_report(data, out, force=True)
    assert (out / "report.md").read_text(encoding="utf-8").startswith("# ")


def test_foreign_folder_refused_without_force(data, tmp_path):
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "todo.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ModelkinError, match="not a report"):
        write_report(data, foreign)
    assert (foreign / "todo.txt").read_text(encoding="utf-8") == "mine"


def test_command_refuses_existing_report_with_exit_2(tmp_path):
    from modelkin.cli import build_parser
    from modelkin.reports.command import run

    parser = build_parser()
    out = tmp_path / "r"
    out.mkdir()
    (out / "report.json").write_text(json.dumps({"schema": SCHEMA}), encoding="utf-8")
    with pytest.raises(ModelkinError) as refused:
        run(parser.parse_args(["report", "llama-3-8b", "--out", str(out)]))
    assert refused.value.exit_code == 2
    with pytest.raises(ModelkinError):
        parser.parse_args(["report", "llama-3-8b"])  # --out is required
    with pytest.raises(ModelkinError, match="--all"):
        select_ids([])


def test_report_modules_import_light():
    code = (
        "import sys; import modelkin.reports.command, modelkin.reports.build_report, modelkin.reports.write, "
        "modelkin.reports.inspect_page, modelkin.reports.explain, modelkin.reports.lineage; "
        "heavy = [m for m in ('torch', 'transformers', 'matplotlib') if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --- in a real browser -----------------------------------------------------------------------


def _not_blank(png: Path) -> bool:
    from matplotlib.image import imread

    pixels = imread(str(png))
    return float(pixels[..., :3].std()) > 0.02


@needs_chromium
def test_report_renders_in_chromium(written, tmp_path):
    shot = tmp_path / "report.png"
    seen = chromium.render(written / "report.html", shot, height=1600)
    assert seen.console_errors == []
    assert all(url.startswith("file://") for url in seen.requested_urls), seen.requested_urls
    assert _not_blank(shot)
    for model_id in select_ids(IDS):
        assert model_id in seen.dom_text
    assert seen.dom_text.count('class="sortable"') >= 8
    assert seen.dom_text.count("<svg") >= 4


@needs_chromium
def test_inspect_html_renders_in_chromium(tmp_path):
    from modelkin.inspect.checks import inspect_gathered
    from modelkin.inspect.gather import gather
    from modelkin.inspect.sparse import write_sparse_checkpoint
    from modelkin.reports.inspect_page import render_inspect_html

    folder = write_sparse_checkpoint(get("qwen2.5-0.5b").spec, tmp_path / "ckpt")
    page = tmp_path / "inspect.html"
    page.write_text(render_inspect_html(inspect_gathered(gather(str(folder)))), encoding="utf-8")
    shot = tmp_path / "inspect.png"
    seen = chromium.render(page, shot, height=900, dark=True)
    assert seen.console_errors == []
    assert _not_blank(shot)
    assert "consistent" in seen.dom_text and "494,032,768" in seen.dom_text  # Qwen2.5-0.5B's exact count


# --- what a reader sees at 1400 px -----------------------------------------------------------

# Measured in the page after layout: each table's scroll box, and every <text> of every figure
# with its on-screen box (getBoundingClientRect: after the SVG's scaling, as a reader sees it).
MEASURE = r"""
(function () {
  function box(el) { var r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }
  return {
    tables: Array.prototype.map.call(document.querySelectorAll(".table-scroll"), function (d) {
      return {id: d.parentNode.id, scroll: d.scrollWidth, client: d.clientWidth};
    }),
    figures: Array.prototype.map.call(document.querySelectorAll("figure"), function (f) {
      var svg = f.querySelector("svg");
      var area = svg.querySelector('[id$="plot-area"]');
      return {
        id: f.id,
        text: svg.textContent,
        caption: f.querySelector("figcaption").textContent,
        area: area ? box(area) : null,
        texts: Array.prototype.map.call(svg.querySelectorAll("text"), function (t) {
          return {text: t.textContent, box: box(t), label: !!t.closest('[id*="point-label"]')};
        }).filter(function (t) { return t.text.trim() !== ""; })
      };
    })
  };
})()
"""


def _intersect(a, b, slack: float = 0.5) -> bool:
    return a[0] < b[2] - slack and b[0] < a[2] - slack and a[1] < b[3] - slack and b[1] < a[3] - slack


def _seen(report_dir: Path, tmp_path: Path) -> dict:
    seen = chromium.render(report_dir / "report.html", tmp_path / "seen.png", width=1400, height=900, evaluate=MEASURE)
    assert seen.console_errors == []
    return seen.evaluated


def _check_figures(measured: dict, ids: list[str]) -> None:
    """No two texts of a plot overlap, point labels sit inside the axes, every model is named."""
    import re

    figures = measured["figures"]
    assert len(figures) >= 4
    for figure in figures:
        texts = figure["texts"]
        clashes = [
            (a["text"], b["text"])
            for i, a in enumerate(texts)
            for b in texts[i + 1 :]
            if _intersect(a["box"], b["box"])
        ]
        assert clashes == [], f"{figure['id']}: overlapping text {clashes}"
        area = figure["area"]
        for label in (t for t in texts if t["label"]):
            x0, y0, x1, y1 = label["box"]
            assert area[0] <= x0 and x1 <= area[2] and area[1] <= y0 and y1 <= area[3], (figure["id"], label)
        for model_id in ids:
            named = re.compile(rf"(?<![\w.-]){re.escape(model_id)}(?![\w.-])")
            not_drawn = re.search(r"Not drawn[^:]*:(.*?)\.(?:\s|$)", figure["caption"])
            assert named.search(figure["text"]) or (not_drawn and named.search(not_drawn.group(1))), (
                figure["id"],
                model_id,
            )


@needs_chromium
def test_four_models_fit_at_1400px_and_every_plot_names_them(tmp_path):
    # The widest content in the catalog: twelve-digit counts and llama3 scaling (405B), the longest
    # id with DCA plus a sliding window, rope_ratio 10000, YaRN.
    ids = select_ids(["llama-3.1-405b", "qwen2.5-14b-instruct-1m", "glm-4-9b-chat-1m", "qwen2-7b-instruct"])
    out = write_report(build_report(ids, CONTEXT), tmp_path / "four")
    measured = _seen(out, tmp_path)
    overflowing = [t for t in measured["tables"] if t["scroll"] > t["client"]]
    assert len(measured["tables"]) >= 8 and overflowing == []
    _check_figures(measured, ids)


@needs_chromium
def test_whole_catalog_plots_have_no_overlapping_labels_and_name_every_model(tmp_path):
    ids = select_ids([], all_models=True)
    data = build_report(ids, CONTEXT)
    out = write_report(data, tmp_path / "all")
    measured = _seen(out, tmp_path)
    _check_figures(measured, ids)
    # Every plot written is on the page too (the MoE plot beside its explanation).
    assert len(measured["figures"]) == len(data.json["plots"]) == len(list((out / "plots").iterdir())) == 6


def test_markdown_copy_never_asks_to_hover(written):
    text = (written / "report.md").read_text(encoding="utf-8")
    assert "hover" not in text.lower()
    assert "the earlier values are listed under each table" in text
    assert "- llama-3-8b, RoPE base: was 10000 in llama-2-7b" in text  # the tooltip, as a note


def test_rope_paragraph_and_rope_command_agree_and_say_which_count(cli):
    """`modelkin rope` and the report quote the same two counts, each labelled scaled or unscaled."""
    from modelkin.families import rope_math

    spec = get("llama-3.1-8b").spec
    unscaled = rope_math.full_turns_within(
        rope_math.base_frequencies(spec.positions.base, spec.rotary_dim), spec.original_context
    )
    scaled = rope_math.full_turns_within(
        rope_math.inverse_frequencies(spec.positions, spec.rotary_dim, spec.max_position_embeddings),
        spec.original_context,
    )
    assert unscaled != scaled  # the whole point: two honest numbers
    code, out, _ = cli("rope", "llama-3.1-8b")
    assert code == 0
    assert f"{unscaled} of 64 unscaled (as trained), {scaled} with llama3 scaling" in out
    data = build_report(["llama-3.1-8b"], CONTEXT)
    rope_text = dict(explain_texts(data))["Positional encoding: RoPE and its base"]
    assert (
        f"{unscaled} of 64 pairs complete a full turn within its 8,192 training positions (unscaled, as trained; {scaled} with llama3 scaling)"
        in rope_text
    )


def explain_texts(data) -> list[tuple[str, str]]:
    return [(e["title"], e["markdown"]) for e in data.json["explanations"]]
