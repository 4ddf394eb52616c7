"""Collect everything a comparison report shows: `build_report(ids, context) -> ReportData`.

`ReportData` holds the page as blocks (`sections`, rendered to HTML and Markdown by
`write.py`), the tables again as a list (one CSV each), the plots (SVG: inline in the HTML, a
file beside the Markdown) and `json`, the machine-readable report.

Report JSON shape (`report.json`; `schema` changes when a key is removed or changes meaning):

    {
      "schema": "modelkin-report/2",
      "title": str,
      "generator": "modelkin <version>",
      "context": int,                        # tokens, for the KV-cache and FLOP figures
      "models": [                            # in report order (family, generation, size)
        {
          "id": str, "repo": str, "family": str, "generation": str,
          "variant": "base" | "chat" | "1m",
          "previous": str | null,            # catalog id the highlights compare against
          "features": {label: str | int},    # display values, as in the feature matrix
          "feature_values": {label: str | int | float | null},  # plain numbers where possible
          "changed": [{"feature": str, "from": ..., "to": ...}],  # vs "previous"
          "accounting": {...},               # modelkin.families.accounting.accounting(spec, context=context, tokens=...)
          "published_params": {"value": int, "source": str, "quote": str} | null,
          "training_tokens": {"value": int, "source": str, "quote": str} | null,
          "config_source": {"kind": str, "url": str, ...}
        }
      ],
      "lineage": [                           # see lineage.Step.as_json
        {"family": str, "title": str,
         "from": {"generation": str, "variant": str}, "to": {...},
         "common_changes": [{"feature", "from", "to"}],
         "pairs": [{"from": id, "to": id, "same_size": bool, "changes": [...], "other_changes": [...]}],
         "new_sizes": [id]}
      ],
      "token_scaling": [{"id": str, "params": int, "tokens": int, "tokens_per_param": float,
                         "chinchilla_multiple": float, "training_flops": float, "source": str}],
      "tables": [{"id": str, "title": str, "csv": "<id>.csv", "headers": [str]}],
      "plots": [{"name": str, "title": str, "svg": "plots/<name>.svg"}],
      "explanations": [{"title": str, "markdown": str}]
    }
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..configs.catalog import CatalogEntry, entries, get
from ..configs.gpus import REPORT_GPU
from ..errors import ModelkinError
from ..families import rope_math
from ..families.accounting import (
    CHINCHILLA_TOKENS_PER_PARAM,
    COMPONENTS,
    accounting,
    kv_cache_bytes,
)
from ..units import count, flops, nbytes
from ..version import version as _version
from . import explain
from .facts import ModelFacts
from .features import feature_rows, feature_values
from .lineage import (
    FAMILY_NAMES,
    IDENTITY_ROWS,
    Step,
    changes,
    lineage,
    predecessor,
    stage_of,
    stage_sort_key,
    summarise,
    variant_of,
)
from .page import Cell, Figure, Prose, Section, Table

SCHEMA = "modelkin-report/2"  # 2: plots are named by their "svg" file (1 had "png")
GIB = 2**30
# The feature matrix is split into tables a reader can take in; rows of `feature_rows` not
# named here land in the last table, so a newly added choice is never lost.
FEATURE_GROUPS: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "features-vocabulary",
        "Size, tokenizer and context",
        ("layers", "hidden size", "tokenizer", "tokenizer size", "embedding rows", "tied embeddings", "context length"),
    ),
    (
        "features-attention",
        "Attention",
        ("attention", "heads / kv heads", "GQA group size", "head dim", "QKV bias", "output bias"),
    ),
    (
        "features-positions",
        "Positions and long context",
        ("RoPE base", "rotary dims", "RoPE pairs", "RoPE scaling", "long context"),
    ),
    ("features-mlp-norm", "Feed-forward and normalisation", ("MLP", "MLP ratio", "MLP bias", "norm", "norm eps")),
]


@dataclass
class ReportData:
    title: str
    subtitle: str
    sections: list[Section]
    tables: list[Table]  # every table once, in page order; each becomes <id>.csv
    figures: list[Figure] = field(default_factory=list)  # each also written as plots/<name>.svg
    json: dict[str, Any] = field(default_factory=dict)
    footer: str = ""


# --- selection -------------------------------------------------------------------------------


def select_ids(ids: Sequence[str], all_models: bool = False, family: str | None = None) -> list[str | CatalogEntry]:
    """The command's models, without duplicates, in report order: catalog ids, and an entry
    for every other model target (a config file, a Hub repo, an edited catalog model)."""
    chosen: list[CatalogEntry] = []
    if all_models:
        chosen += entries()
    if family:
        members = [e for e in entries() if e.spec.family == family]
        if not members:
            raise ModelkinError("--family", f"no catalog models of family {family!r}")
        chosen += members
    from ..targets import as_catalog_entry, resolve_target

    chosen += [as_catalog_entry(resolve_target(i)) for i in ids]
    if not chosen:
        raise ModelkinError("report", "give catalog IDs, --family F or --all")
    unique = {e.id: e for e in chosen}
    return [e if e.from_target else e.id for e in sorted(unique.values(), key=_report_order)]


def _report_order(entry: CatalogEntry) -> tuple[Any, ...]:
    family = entry.spec.family
    family_index = list(FAMILY_NAMES).index(family) if family in FAMILY_NAMES else 99
    return family_index, stage_sort_key(stage_of(entry)), accounting_params(entry), entry.id


def accounting_params(entry: CatalogEntry) -> int:
    from ..families.accounting import params_total

    return params_total(entry.spec)


# --- the report ------------------------------------------------------------------------------


def build_report(ids: Sequence[str | CatalogEntry], context: int, fit_gpu: str = REPORT_GPU) -> ReportData:
    selected = [i if isinstance(i, CatalogEntry) else get(i) for i in ids]
    # Models outside the catalog join it for the lineage lookups; they are never anyone's predecessor
    # unless selected.
    catalog = entries() + [e for e in selected if e.from_target]
    if not selected:
        raise ModelkinError("report", "no models selected")
    models = [_facts(e, catalog, context) for e in selected]
    steps = lineage(selected, catalog)
    figures = _figures(models, context, fit_gpu)
    figure_by_name = {f.name: f for f in figures}

    feature_tables = _feature_tables(models)
    params_table, memory_table, compute_table = _accounting_tables(models, context)
    scaling_table, scaling_json = _token_scaling(models)
    models_table = _models_table(models)
    from .quantization_table import quantization_table

    quant_table = quantization_table(models)
    tables = [models_table, *feature_tables, params_table, memory_table, compute_table, quant_table] + (
        [scaling_table] if scaling_table else []
    )

    texts = explain.explanations(models, context)
    portraits = explain.family_portraits(models)

    names = ", ".join(sorted({FAMILY_NAMES.get(m.spec.family, m.spec.family) for m in models}))
    overview = Section(
        "Overview",
        "overview",
        [
            Prose(_overview_text(models, context, steps)),
            models_table,
        ],
    )
    matrix = Section(
        "Feature matrix",
        "features",
        [
            Prose(
                "Every architectural choice, one row per model. A highlighted cell differs from the model's predecessor "
                "(the previous generation's closest size, or the model a chat or long-context variant was derived from); "
                "hover it to see the earlier value. The Lineage section lists the same differences per step.",
                markdown="Every architectural choice, one row per model. A value marked `*` differs from the model's "
                "predecessor (the previous generation's closest size, or the model a chat or long-context variant was "
                "derived from); the earlier values are listed under each table. The Lineage section lists the same "
                "differences per step.",
            ),
            *feature_tables,
        ],
    )
    lineage_section = Section("Lineage", "lineage", _lineage_blocks(steps))
    accounting_section = Section(
        "Accounting",
        "accounting",
        [
            Prose(
                f"Parameters are counted tensor by tensor from the layout each config implies. Memory is for the weights "
                f"alone and for the KV cache at batch 1 in bf16; FLOPs per token include attention over {context:,} tokens "
                "of context (2 FLOPs per multiply-add; training ≈ 3× forward)."
            ),
            params_table,
            *[figure_by_name[name] for name in ("params",) if name in figure_by_name],
            memory_table,
            *[figure_by_name[name] for name in ("kv-cache", "fit") if name in figure_by_name],
            compute_table,
            quant_table,
        ],
    )
    scaling_blocks: list[Any] = [Prose(_scaling_text(models))]
    if scaling_table:
        scaling_blocks += [scaling_table]
    if "tokens" in figure_by_name:
        scaling_blocks.append(figure_by_name["tokens"])
    scaling_section = Section("Token scaling", "token-scaling", scaling_blocks)
    explain_blocks: list[Any] = []
    for title, text in texts:
        blocks: list[Any] = [Prose(text)]
        if title.startswith("Positional encoding") and "rope" in figure_by_name:
            blocks.append(figure_by_name["rope"])
        if title.startswith("Mixture of experts") and "active-vs-total" in figure_by_name:
            blocks.append(figure_by_name["active-vs-total"])
        explain_blocks.append(Section(title, blocks=blocks))
    explain_section = Section("How the choices work", "explanations", explain_blocks)
    family_section = Section(
        "What characterises each family",
        "families",
        [Section(title, blocks=[Prose(text)]) for title, text in portraits],
    )
    sources = Section("Sources", "sources", [Prose(_sources_text(models))])

    sections = [
        overview,
        matrix,
        lineage_section,
        accounting_section,
        scaling_section,
        explain_section,
        family_section,
        sources,
    ]
    title = f"{names}: architectures compared" if len(models) > 1 else f"{models[0].id}: architecture"
    subtitle = f"{len(models)} model{'s' if len(models) != 1 else ''} from the modelkin catalog · KV cache and FLOPs at {context:,} tokens"
    data = ReportData(title=title, subtitle=subtitle, sections=sections, tables=tables, figures=figures)
    data.footer = f"Generated by modelkin {_version()} from its catalog of published configs. Every number is computed from the configs; see Sources."
    data.json = _json(data, models, steps, scaling_json, texts + portraits, context)
    return data


def _facts(entry: CatalogEntry, catalog: Sequence[CatalogEntry], context: int) -> ModelFacts:
    spec = entry.spec
    tokens = entry.training_tokens.value if entry.training_tokens else None
    previous = predecessor(entry, catalog)
    return ModelFacts(
        entry=entry,
        spec=spec,
        features=feature_rows(spec),
        values=feature_values(spec),
        acc=accounting(spec, context=context, tokens=tokens),
        previous=previous,
        changes=changes(previous, entry) if previous else (),
    )


# --- tables ----------------------------------------------------------------------------------


def _models_table(models: Sequence[ModelFacts]) -> Table:
    rows = []
    for m in models:
        rows.append(
            [
                m.id,
                m.entry.repo,
                m.spec.family,
                m.spec.generation,
                Cell(m.acc["params_total"], display=count(m.acc["params_total"])),
                m.spec.max_position_embeddings,
                m.previous.id if m.previous else None,
                m.entry.config_source.get("kind", ""),
            ]
        )
    return Table(
        "Models",
        ["model", "repo", "family", "generation", "params", "context length", "compared with", "config source"],
        rows,
        caption="config source: shared-real-config and hf-config are copies of the published file; "
        "reconstructed entries were rebuilt from published values (see Sources).",
        id="models",
    )


def _feature_tables(models: Sequence[ModelFacts]) -> list[Table]:
    labels = [label for label in models[0].features if label not in IDENTITY_ROWS]
    # A row nobody knows (the catalog stores no tokenizer sizes) would be a column of "unknown".
    labels = [label for label in labels if any(m.features[label] != "unknown" for m in models)]
    placed = {label for _, _, group in FEATURE_GROUPS for label in group}
    groups = [(tid, title, [lb for lb in group if lb in labels]) for tid, title, group in FEATURE_GROUPS]
    leftover = [label for label in labels if label not in placed]
    if leftover:
        groups[-1] = (groups[-1][0], groups[-1][1], groups[-1][2] + leftover)
    tables = []
    for table_id, title, group in groups:
        if not group:
            continue
        rows = []
        for m in models:
            changed = {c.feature: c for c in m.changes}
            row: list[Any] = [m.id, m.spec.generation]
            for label in group:
                value, shown = m.values[label], m.features[label]
                display = None if isinstance(shown, int) and shown == value else str(shown)
                if label in changed:
                    before = changed[label].before
                    row.append(Cell(value, display=display, highlight=True, title=f"was {before} in {m.previous.id}"))  # type: ignore[union-attr]
                else:
                    row.append(Cell(value, display=display))
            rows.append(row)
        tables.append(Table(title, ["model", "generation", *group], rows, id=table_id))
    return tables


def _accounting_tables(models: Sequence[ModelFacts], context: int) -> tuple[Table, Table, Table]:
    param_rows, memory_rows, compute_rows = [], [], []
    for m in models:
        acc, by = m.acc, m.acc["params_by_component"]
        total = acc["params_total"]
        share = acc["params_non_embedding"] / total
        param_rows.append(
            [
                m.id,
                Cell(total, display=f"{total:,}"),
                *[Cell(by[c], display=f"{by[c]:,}") for c in COMPONENTS],
                Cell(round(100 * share, 2), display=f"{100 * share:.1f}%"),
                _published_cell(m.entry.published_params.value if m.entry.published_params else None, total),
            ]
        )
        kv = acc["kv_cache"]
        w = acc["weight_bytes"]
        memory_rows.append(
            [
                m.id,
                *[Cell(w[d], display=nbytes(w[d])) for d in ("fp32", "bf16", "int8", "int4")],
                Cell(acc["kv_cache_bytes_per_token"], display=nbytes(acc["kv_cache_bytes_per_token"])),
                Cell(kv["bytes"], display=nbytes(kv["bytes"])),
                Cell(kv["bytes_if_mha"], display=nbytes(kv["bytes_if_mha"])),
            ]
        )
        compute_rows.append(
            [
                m.id,
                Cell(acc["flops_per_token"]["forward"], display=flops(acc["flops_per_token"]["forward"])),
                Cell(acc["flops_per_token"]["training"], display=flops(acc["flops_per_token"]["training"])),
            ]
        )
    params = Table(
        "Parameters by component",
        ["model", "total", *COMPONENTS, "share outside embedding", "published"],
        param_rows,
        caption="Exact counts. Share outside embedding: the parameters that are neither the embedding nor the output head. "
        "'published' is the figure a model card or paper states, where one was read (often rounded; "
        "'= total' when it equals the count here).",
        id="params",
    )
    # Memory and compute are two tables: ten numeric columns side by side do not fit a page.
    memory = Table(
        "Memory",
        [
            "model",
            "weights fp32",
            "weights bf16",
            "weights int8",
            "weights int4",
            "KV cache / token",
            f"KV cache @ {context:,}",
            f"same without GQA @ {context:,}",
        ],
        memory_rows,
        caption="Bytes in binary units (GiB = 2³⁰). KV cache in bf16 at batch 1; "
        "'without GQA' is the cache if every query head had its own key/value head.",
        id="memory",
    )
    compute = Table(
        "Compute per token",
        ["model", f"forward FLOPs / token @ {context:,}", "training FLOPs / token"],
        compute_rows,
        caption=f"2 FLOPs per multiply-add; attention over {context:,} tokens of context; training ≈ 3× forward.",
        id="compute",
    )
    return params, memory, compute


def _published_cell(published: int | None, total: int) -> Cell:
    # The same twelve digits twice say nothing (and widen the table): name the agreement instead.
    if published is not None and published == total:
        return Cell(published, display="= total")
    return Cell(published)


def _token_scaling(models: Sequence[ModelFacts]) -> tuple[Table | None, list[dict[str, Any]]]:
    rows, out = [], []
    for m in models:
        fact = m.entry.training_tokens
        if fact is None:
            continue
        acc = m.acc
        rows.append(
            [
                m.id,
                Cell(acc["params_total"], display=count(acc["params_total"])),
                Cell(fact.value, display=count(fact.value)),
                Cell(round(acc["tokens_per_param"], 1), display=f"{acc['tokens_per_param']:,.0f}"),
                Cell(round(acc["chinchilla_multiple"], 2), display=f"{acc['chinchilla_multiple']:,.1f}×"),
                Cell(acc["training_flops"], display=f"{acc['training_flops']:.2e}"),
                Cell(fact.source, title=fact.quote or None),
            ]
        )
        out.append(
            {
                "id": m.id,
                "params": acc["params_total"],
                "tokens": fact.value,
                "tokens_per_param": acc["tokens_per_param"],
                "chinchilla_multiple": acc["chinchilla_multiple"],
                "training_flops": acc["training_flops"],
                "source": fact.source,
            }
        )
    if not rows:
        return None, out
    missing = [m.id for m in models if m.entry.training_tokens is None]
    caption = (
        f"Chinchilla: {CHINCHILLA_TOKENS_PER_PARAM:g} tokens per parameter (Hoffmann et al. 2022). "
        "Training compute ≈ 6 × parameters × tokens."
    )
    not_read = f" No published token count read for: {', '.join(missing)}." if missing else ""
    caption_markdown = caption + " The sentence quoted from each source is listed under the table." + not_read
    caption += " Hover a source for the quoted sentence." + not_read
    table = Table(
        "Training tokens per parameter",
        ["model", "params", "training tokens", "tokens / param", "× Chinchilla", "training FLOPs (6·N·D)", "source"],
        rows,
        caption=caption,
        id="token-scaling",
        caption_markdown=caption_markdown,
    )
    return table, out


# --- prose -----------------------------------------------------------------------------------


def _overview_text(models: Sequence[ModelFacts], context: int, steps: Sequence[Step]) -> str:
    by_family: dict[str, list[str]] = {}
    for m in models:
        by_family.setdefault(FAMILY_NAMES.get(m.spec.family, m.spec.family), []).append(m.id)
    smallest = min(models, key=lambda m: m.acc["params_total"])
    largest = max(models, key=lambda m: m.acc["params_total"])
    lightest = min(models, key=lambda m: m.acc["kv_cache_bytes_per_token"] / m.spec.hidden_size)
    lines = [f"- **{family}**: {', '.join(ids)}" for family, ids in by_family.items()]
    text = (
        "How do GLM, Qwen2 and LLaMA differ, and what does each choice cost? This page answers from the published "
        "configs: what each model chose, what changed from one generation to the next, and what it costs in "
        "parameters, memory and compute.\n\n" + "\n".join(lines) + "\n\n"
    )
    if len(models) > 1:
        text += (
            f"Sizes range from {count(smallest.acc['params_total'])} (`{smallest.id}`) to "
            f"{count(largest.acc['params_total'])} (`{largest.id}`). Relative to its width, `{lightest.id}` has the "
            f"smallest KV cache: {nbytes(lightest.acc['kv_cache_bytes_per_token'])} per token. "
        )
    text += f"Context-dependent figures use {context:,} tokens (change with `--context`)."
    return text


def _lineage_blocks(steps: Sequence[Step]) -> list[Any]:
    if not steps:
        return [Prose("None of the selected models has a predecessor in the catalog.")]
    blocks: list[Any] = [
        Prose(
            "Each step compares models of the same size where the catalog has them (otherwise the closest size). "
            "Changes common to every compared pair come first; size-specific ones follow per pair."
        )
    ]
    for family in dict.fromkeys(s.family for s in steps):
        sub = []
        for step in (s for s in steps if s.family == family):
            compared = step.compared_pairs()
            pairs = ", ".join(f"`{p.before}` → `{p.after}`" for p in compared)
            items = [f"- {text}" for text in summarise(step.common)]
            common = set(step.common)
            for p in compared:
                rest = [c for c in p.changes if c not in common]
                if rest and len(compared) > 1:
                    items.append(f"- only `{p.before}` → `{p.after}`: " + "; ".join(summarise(rest)))
            if not items:
                items = [
                    "- no architectural change: the same-size models share every choice (new training data and recipe only)"
                ]
            if step.new_sizes:
                items.append("- new sizes: " + ", ".join(f"`{i}`" for i in step.new_sizes))
            text = f"**{step.title}** (compared: {pairs})\n\n" + "\n".join(items)
            sub.append(Prose(text))
        blocks.append(Section(FAMILY_NAMES.get(family, family), blocks=sub))
    return blocks


def _scaling_text(models: Sequence[ModelFacts]) -> str:
    known = [m for m in models if "tokens" in m.acc]
    if not known:
        return "None of the selected models has a published training-token count in the catalog."
    top = max(known, key=lambda m: m.acc["tokens_per_param"])
    return (
        f"{len(known)} of {len(models)} models have a published training-token count. The most heavily trained "
        f"relative to its size is `{top.id}`: {top.acc['tokens_per_param']:,.0f} tokens per parameter, "
        f"{top.acc['chinchilla_multiple']:,.0f}× the Chinchilla-optimal 20. The explanation below says why."
    )


def _sources_text(models: Sequence[ModelFacts]) -> str:
    lines = []
    for m in models:
        src = m.entry.config_source
        where = src.get("url", "")
        kind = src.get("kind", "")
        link = (
            f"[{where}]({where})"
            if where.startswith("https://") and " " not in where
            else f"`{where}`"
            if where
            else ""
        )
        tokens = f"; tokens: {m.entry.training_tokens.source}" if m.entry.training_tokens else ""
        lines.append(f"- `{m.id}` ({kind}): {link}{tokens}")
    return (
        "Configs come from the catalog (`modelkin/configs/catalog/`), which records for each model where its "
        "config.json was read and how much to trust it; `modelkin show ID --provenance` prints the details.\n\n"
        + "\n".join(lines)
    )


# --- plots -----------------------------------------------------------------------------------


def _fit_job(models: Sequence[ModelFacts], gpu_name: str) -> tuple[Any, ...]:
    """Memory per GPU against context when serving each model on `gpu_name` (the `modelkin fit`
    arithmetic): bf16 weights and KV cache, batch 1, the fewest GPUs that hold 4k tokens."""
    from ..configs.gpus import get_gpu
    from ..families import planning

    gpu = get_gpu(gpu_name)
    hw = planning.Hardware(gpu.name, gpu.memory_bytes, gpu.source)
    top = min(max(m.spec.max_position_embeddings for m in models), 2**20)
    xs = [2**k for k in range(10, max(11, math.ceil(math.log2(top))) + 1)]
    # Models with the same curve (same weights, cache and layout) share a line, as in the KV plot;
    # a line ends at its model's context limit (NaN breaks it).
    curves: dict[tuple[Any, ...], tuple[list[str], list[float], float | None, str]] = {}
    unserved: list[str] = []
    short: list[str] = []
    for m in models:
        req = planning.ServeRequest(context=4096)
        par = planning.fewest_gpus_serving(m.spec, hw, planning.Parallel(), req)
        if par is None:
            unserved.append(m.id)
            continue
        layout = (f" (tp={par.tp})" if par.tp > 1 else "") + (f" (pp={par.pp})" if par.pp > 1 else "")
        limit = m.spec.max_position_embeddings
        total = planning.memory_vs_context(m.spec, hw, par, req, xs)["total"]
        total = [t if x <= limit else math.nan for x, t in zip(xs, total)]
        if limit < xs[0]:
            short.append(m.id)  # shorter than the plot's first context (a tiny model)
            continue
        capacity = planning.plan_serving(m.spec, hw, par, req).answers["kv_capacity_tokens"]
        stop = capacity.value if capacity is not None and capacity.value < min(limit, xs[-1]) else None
        key = (tuple(round(t) if t == t else -1 for t in total), layout)
        ids, _, _, _ = curves.setdefault(key, ([], total, stop, layout))
        ids.append(m.id)
    ordered = sorted(curves.values(), key=lambda c: -max(t for t in c[1] if t == t))
    series = {", ".join(ids) + layout: total for ids, total, _, layout in ordered}
    stops = {", ".join(ids) + layout: stop for ids, _, stop, layout in ordered}
    budget = planning.DEFAULT_UTILIZATION * hw.memory_bytes
    return (
        "memory_vs_context",
        (xs, series, budget, f"budget: {planning.DEFAULT_UTILIZATION:g} × {gpu.name}", stops),
        {"title": f"Serving memory per GPU on {gpu.name}"},
        "fit",
        f"Will it fit on {gpu.name}?",
        f"Memory per GPU when serving one sequence with vLLM (bf16 weights and KV cache, gpu_memory_utilization "
        f"{planning.DEFAULT_UTILIZATION:g}, the fewest GPUs that hold 4,096 tokens, as `modelkin fit` plans it). "
        "A dotted line marks the context where a model's KV cache no longer fits beside its weights; "
        "`modelkin fit ID --gpu NAME --explain` shows every term."
        + (f" Not drawn (no count of {gpu.name} GPUs serves 4,096 tokens): {', '.join(unserved)}." if unserved else "")
        + (f" Not drawn (context shorter than {xs[0]:,}): {', '.join(short)}." if short else ""),
    )


def _figures(models: Sequence[ModelFacts], context: int, fit_gpu: str = REPORT_GPU) -> list[Figure]:
    """Every plot names every selected model: models that would draw the same line or point share
    it and its label, and a model a plot cannot show (no published token count) is named in the
    caption instead."""
    from . import plots

    # (plots function, args, kwargs, figure name, figure title, caption); drawn below.
    jobs: list[tuple[str, tuple[Any, ...], dict[str, Any], str, str, str]] = []

    series = {c: [m.acc["params_by_component"][c] for m in models] for c in COMPONENTS}
    jobs.append(
        (
            "stacked_bars",
            ([m.id for m in models], series, "parameters", "Where the parameters are"),
            {},
            "params",
            "Parameter breakdown",
            "Parameters per component, stacked. Embedding and head grow with the vocabulary; the MLP holds most "
            "of the rest.",
        )
    )

    # KV cache: one line per distinct cache size per token (the cache is linear in the context),
    # drawn up to the longest context among the models sharing it; a dot marks where each model's
    # own maximum context ends.
    by_size: dict[float, list[ModelFacts]] = {}
    for m in models:
        by_size.setdefault(float(m.acc["kv_cache_bytes_per_token"]), []).append(m)
    kv_series: dict[str, tuple[list[float], list[float]]] = {}
    kv_marks: dict[str, list[tuple[float, float]]] = {}
    for per_token, group in sorted(by_size.items(), key=lambda item: -item[0]):
        ends = sorted({m.spec.max_position_embeddings for m in group})
        xs = [float(2**k) for k in range(10, 31) if 2**k < ends[-1]] + [float(ends[-1])]
        label = _kv_label(group, per_token)
        spec = group[0].spec
        kv_series[label] = (xs, [kv_cache_bytes(spec, int(x)) / GIB for x in xs])
        kv_marks[label] = [(float(end), kv_cache_bytes(spec, end) / GIB) for end in ends]
    jobs.append(
        (
            "lines",
            (kv_series, "context length (tokens)", "KV cache, GiB (bf16, batch 1)", "KV cache vs context"),
            {"logx": True, "logy": True, "marks": kv_marks, "x_binary": True},
            "kv-cache",
            "KV cache vs context length",
            "Log–log: every line has slope 1 (the cache grows linearly); the vertical gaps are the GQA group sizes "
            "and layer counts. Each line ends at the longest maximum context among its models, and a dot marks "
            "where each model's own maximum context ends. Models with identical caches share a line.",
        )
    )

    known = [m for m in models if "tokens" in m.acc]
    if known:
        # Models with the same size and token count (Llama 3 and 3.1 8B, a base model and its chat
        # variant) would draw one point twice: they share the point and its label.
        merged: dict[tuple[float, float], list[ModelFacts]] = {}
        for m in known:
            merged.setdefault((float(m.acc["params_total"]), float(m.acc["tokens"])), []).append(m)
        points = {", ".join(m.id for m in group): xy for xy, group in merged.items()}
        groups = {
            ", ".join(m.id for m in group): FAMILY_NAMES.get(group[0].spec.family, group[0].spec.family)
            for group in merged.values()
        }
        ratio = CHINCHILLA_TOKENS_PER_PARAM
        missing = [m.id for m in models if "tokens" not in m.acc]
        jobs.append(
            (
                "scatter_with_reference",
                (
                    points,
                    ([1.0, 10.0], [ratio, 10 * ratio], f"Chinchilla: {ratio:g} tokens / parameter"),
                    "parameters",
                    "training tokens",
                    "Training tokens vs parameters",
                ),
                {
                    "logx": True,
                    "logy": True,
                    "groups": groups,
                    "guides": [
                        (10, f"10× ({10 * ratio:g} / parameter)"),
                        (100, f"100× ({100 * ratio:,g} / parameter)"),
                    ],
                },
                "tokens",
                "Training tokens vs parameters",
                "Every point above the dashed line was trained on more than 20 tokens per parameter, the "
                "compute-optimal ratio; the dotted lines mark 10× and 100× that ratio. Models of the same size "
                "and token count share a point."
                + (f" Not drawn, no published token count: {', '.join(missing)}." if missing else ""),
            )
        )

    jobs.append(_fit_job(models, fit_gpu))
    moe = [m for m in models if m.spec.moe is not None]
    if moe:
        # Dense models sit on the diagonal (every parameter used per token); MoE models below it.
        shown = moe  # dense models would sit on the diagonal: the line stands for them
        dense = [m.id for m in models if m.spec.moe is None]
        points = {m.id: (float(m.acc["params_total"]), float(m.acc["params_active"])) for m in shown}
        low = min(x for x, _ in points.values()) / 1.5
        high = max(x for x, _ in points.values()) * 1.5
        jobs.append(
            (
                "scatter_with_reference",
                (
                    points,
                    ([low, high], [low, high], "dense: active = total"),
                    "total parameters",
                    "active parameters per token",
                    "Active vs total parameters",
                ),
                {"logx": True, "logy": True},
                "active-vs-total",
                "Active vs total parameters",
                "Memory holds the total (every expert), compute per token follows the active count (everything a "
                "token passes through, embedding and head included). A dense model would lie on the diagonal; the distance "
                "below it (log scale) is the mixture-of-experts saving."
                + (
                    f" Not drawn (dense, every parameter active; the line stands for them): {', '.join(dense)}."
                    if dense
                    else ""
                ),
            )
        )

    rope_series = _rope_series(models)
    jobs.append(
        (
            "spectra",
            (rope_series, "wavelength ÷ training context", "RoPE wavelengths per dimension pair"),
            {"hline": (1.0, "training context")},
            "rope",
            "RoPE wavelength spectra",
            "Wavelength (positions per full turn) of each rotating pair, divided by the context the model was "
            "trained with before any rescaling. Pairs above the dashed line never complete a turn in training; "
            "scaling rules stretch exactly those. GLM rotates 32 pairs per head, the others 64 (32 for 64-dim "
            "heads). Models with identical spectra share a line.",
        )
    )

    return [
        Figure(title, getattr(plots, function)(*args, **kwargs).svg, caption=caption, name=name)
        for function, args, kwargs, name, title, caption in jobs
    ]


def _kv_label(group: Sequence[ModelFacts], per_token: float) -> str:
    a = group[0].spec.attention
    names = ", ".join(m.id for m in group)
    return f"{names} ({a.kind}, {a.num_kv_heads} kv, {nbytes(per_token)}/token)"


def _rope_series(models: Sequence[ModelFacts]) -> dict[str, list[float]]:
    """One normalised spectrum per distinct shape, labelled with every model that has it."""
    spectra: dict[tuple[float, ...], tuple[list[float], list[ModelFacts]]] = {}
    for m in models:
        inv, _ = rope_math.spec_frequencies(m.spec)
        values = [w / m.spec.original_context for w in rope_math.wavelengths(inv)]
        key = tuple(round(v, 9) for v in values)
        spectra.setdefault(key, (values, []))[1].append(m)
    series = {}
    for values, group in spectra.values():
        spec = group[0].spec
        scaling = spec.positions.scaling
        extra = "" if scaling.type == "none" else f", {scaling.type} ×{scaling.factor:g}"
        names = ", ".join(m.id for m in group)
        series[f"{names} (base {count(spec.positions.base)}{extra})"] = values
    return series


# --- JSON ------------------------------------------------------------------------------------


def _json(
    data: ReportData,
    models: Sequence[ModelFacts],
    steps: Sequence[Step],
    scaling: list[dict[str, Any]],
    texts: Sequence[tuple[str, str]],
    context: int,
) -> dict[str, Any]:
    def fact(f: Any) -> dict[str, Any] | None:
        return {"value": f.value, "source": f.source, "quote": f.quote} if f else None

    return {
        "schema": SCHEMA,
        "title": data.title,
        "generator": f"modelkin {_version()}",
        "context": context,
        "models": [
            {
                "id": m.id,
                "repo": m.entry.repo,
                "family": m.spec.family,
                "generation": m.spec.generation,
                "variant": variant_of(m.entry),
                "previous": m.previous.id if m.previous else None,
                "features": m.features,
                "feature_values": m.values,
                "changed": [c.as_json() for c in m.changes],
                "accounting": m.acc,
                "published_params": fact(m.entry.published_params),
                "training_tokens": fact(m.entry.training_tokens),
                "config_source": m.entry.config_source,
            }
            for m in models
        ],
        "lineage": [s.as_json() for s in steps],
        "token_scaling": scaling,
        "tables": [
            {"id": t.id, "title": t.title, "csv": f"{t.id}.csv", "headers": list(t.headers)} for t in data.tables
        ],
        "plots": [{"name": f.name, "title": f.title, "svg": f"plots/{f.name}.svg"} for f in data.figures],
        "explanations": [{"title": title, "markdown": text.strip()} for title, text in texts],
    }
