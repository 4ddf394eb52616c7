"""Inspect a GGUF model (one file or the parts of a split) against the spec its metadata states.

The spec comes from the metadata (`families/gguf_format.py`); the expected
tensors from the same layout every other check uses, under llama.cpp's names.
The report keeps the `inspect` JSON contract (`params_checkpoint`,
`params_expected`, `missing`, `unexpected`, `shape_mismatches`, `findings`)
and adds a `gguf` part: architecture, quantization types with their parameter
counts, bytes and bits per weight, tokenizer facts, how the logical count
relates to what the file stores, and the field-by-field comparison with a
reference (the catalog entry the file names, or `--against`).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidSpec, ModelkinError, UnknownModel, UnreadableInput
from .findings import Finding, new_report, tensor_findings
from .gguf_file import GGUFArray, GGUFHeader, GGUFString, read_gguf_header

SPLIT = re.compile(r"(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf")
# Files beside a model in GGUF repositories that are not the language model (vision projectors).
_NOT_A_MODEL = re.compile(r"(^|[-_.])mmproj([-_.]|$)", re.IGNORECASE)
_QUANT_SUFFIX = re.compile(
    r"[-_.](?:(?:IQ|Q|TQ)\d[\w]*|F16|F32|BF16|MXFP4\w*|UD-\w+|(?:\d{5})-of-\d{5})$",
    re.IGNORECASE,
)
# A chat or instruction tune has its base model's architecture: "Llama-4-Scout-17B-16E-Instruct"
# is compared with the catalog's llama-4-scout-17b-16e when no entry carries the tuned name.
_TUNE_SUFFIX = re.compile(r"[-_](?:instruct|chat|it)$", re.IGNORECASE)


@dataclass
class GGUFModel:
    """The headers of one GGUF model: a single file or every part of a split."""

    label: str  # what the user named
    parts: list[str]  # file names in split order
    headers: dict[str, GGUFHeader]  # part name -> header (missing parts absent)
    sizes: dict[str, int] = field(default_factory=dict)
    missing_parts: list[str] = field(default_factory=list)
    bytes_fetched: int | None = None  # Hub only

    @property
    def first(self) -> GGUFHeader | None:
        return self.headers.get(self.parts[0]) if self.parts else None


# --- choosing the files --------------------------------------------------------------------------


def gguf_models(names: list[str]) -> dict[str, list[str]]:
    """Model stem -> its file names (split parts in order); projector files left out."""
    groups: dict[str, list[str]] = defaultdict(list)
    for name in sorted(names):
        base = name.rsplit("/", 1)[-1]
        if not base.endswith(".gguf") or _NOT_A_MODEL.search(base):
            continue
        match = SPLIT.fullmatch(name)
        groups[match["stem"] if match else name.removesuffix(".gguf")].append(name)
    return dict(groups)


def choose_model(names: list[str], where: str, wanted: str | None) -> tuple[list[str], list[str]]:
    """(part names present or expected, parts missing) of the one model in `names` (or `wanted`)."""
    groups = gguf_models(names)
    if wanted is not None:
        chosen = [stem for stem, files in groups.items() if wanted in files or wanted in (stem, stem + ".gguf")]
        if not chosen:
            raise UnreadableInput(where, f"has no GGUF file {wanted!r} (it has: {', '.join(_labels(groups))})")
        stem = chosen[0]
    elif len(groups) == 1:
        stem = next(iter(groups))
    elif not groups:
        raise UnreadableInput(where, "holds no GGUF model")
    else:
        raise UnreadableInput(
            where, f"holds {len(groups)} GGUF models; pick one with --file ({', '.join(_labels(groups)[:6])})"
        )
    files = groups[stem]
    match = SPLIT.fullmatch(files[0])
    if not match:
        return files, []
    count = int(match["count"])
    directory = files[0].rsplit("/", 1)[0] + "/" if "/" in files[0] else ""
    base = match["stem"].rsplit("/", 1)[-1]
    expected = [f"{directory}{base}-{i:05d}-of-{count:05d}.gguf" for i in range(1, count + 1)]
    return expected, [f for f in expected if f not in files]


def _labels(groups: dict[str, list[str]]) -> list[str]:
    return [files[0] if len(files) == 1 else f"{stem} ({len(files)} parts)" for stem, files in groups.items()]


def folder_has_gguf(folder: Path) -> bool:
    return any(folder.glob("*.gguf"))


def gather_gguf_local(path: Path, label: str, wanted: str | None = None) -> GGUFModel:
    """A .gguf file (with its sibling parts when it is one part of a split) or a folder of GGUF files."""
    if path.is_file():
        folder = path.parent
        if SPLIT.fullmatch(path.name):
            wanted = path.name
        else:
            header = read_gguf_header(path)
            return GGUFModel(label, [path.name], {path.name: header}, {path.name: header.file_size})
    else:
        folder = path
    names = sorted(p.name for p in folder.glob("*.gguf"))
    parts, missing = choose_model(names, label, wanted)
    model = GGUFModel(label, parts, {}, missing_parts=missing)
    for name in parts:
        if name in missing:
            continue
        header = read_gguf_header(folder / name)
        model.headers[name] = header
        model.sizes[name] = header.file_size
    return model


# --- the check -----------------------------------------------------------------------------------


def inspect_gguf(model: GGUFModel, tokens: float | None = None, against: str | None = None) -> dict[str, Any]:
    from ..families import gguf_tables
    from ..families.gguf_format import ARCH_FORMATS, TensorFacts

    findings: list[Finding] = []
    first = model.first
    report = new_report(
        model.label,
        "hub" if model.bytes_fetched is not None else "local",
        sum(model.sizes.values()),
        model.bytes_fetched,
        format="gguf",
    )
    if first is None:
        raise UnreadableInput(model.label, f"the first part {model.parts[0]} of the split is missing")

    tensors = _merge_parts(model, findings)
    meta = first.metadata
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        raise UnreadableInput(first.path, "GGUF metadata has no general.architecture string.")
    for name in model.parts:
        h = model.headers.get(name)
        if h is not None:
            report["shards"].append({"file": name, "tensors": len(h.tensors), "size": h.file_size})

    # What the file stores, by ggml type.
    quant_rows: dict[str, dict[str, Any]] = {}
    for t in tensors.values():
        row = quant_rows.setdefault(t.type_name, {"type": t.type_name, "tensors": 0, "params": 0, "bytes": 0})
        row["tensors"] += 1
        row["params"] += t.n_elements
        row["bytes"] += t.n_bytes
    quant = sorted(quant_rows.values(), key=lambda r: -r["params"])
    for row in quant:
        row["bits_per_weight"] = round(8 * row["bytes"] / row["params"], 4) if row["params"] else None
    buffers = sorted(n for n in tensors if n == "rope_freqs.weight")
    report["buffers"] = buffers
    report["dtypes"] = {r["type"]: r["params"] for r in quant}
    stored = sum(t.n_elements for n, t in tensors.items() if n not in buffers)
    report["params_checkpoint"] = stored
    data_bytes = sum(t.n_bytes for t in tensors.values())
    file_type = meta.get("general.file_type")
    gguf: dict[str, Any] = {
        "architecture": arch,
        "name": meta.get("general.name") if isinstance(meta.get("general.name"), str) else None,
        "version": first.version,
        "file_type": gguf_tables.file_type_names().get(file_type, file_type) if isinstance(file_type, int) else None,
        "alignment": first.alignment,
        "files": [
            {
                "file": name,
                "size": h.file_size,
                "tensors": len(h.tensors),
                "header_bytes": h.header_size,
                "bytes_read": h.bytes_read,
            }
            for name, h in ((n, model.headers.get(n)) for n in model.parts)
            if h is not None
        ],
        "tensor_data_bytes": data_bytes,
        "bits_per_weight": round(8 * data_bytes / stored, 4) if stored else None,
        "quantization": quant,
        "tokenizer": _tokenizer_facts(meta, tensors),
        "metadata": _metadata_summary(meta),
        "params": None,
        "reference": None,
        "notes": [],
    }
    report["gguf"] = gguf

    if arch not in ARCH_FORMATS:
        findings.append(
            Finding(
                "warning",
                "gguf-architecture",
                f"architecture {arch!r} is outside the LLaMA, Qwen and GLM families: tensors counted, "
                "nothing to check them against",
            )
        )
        report["findings"] = [f._asdict() for f in findings]
        return report

    shapes = {n: t.shape for n, t in tensors.items()}
    facts = TensorFacts.of(shapes)
    reference, ref_label, entry = _reference(against, model, meta)
    try:
        read = _read_metadata(meta, shapes, first.path, model, reference)
    except InvalidSpec as exc:
        findings.append(
            Finding("error", "gguf-metadata", f"the metadata does not describe a valid model: {exc.message}")
        )
        report["findings"] = [f._asdict() for f in findings]
        return report
    spec = read.spec
    for severity, code, message in read.notes:
        findings.append(Finding(severity, code, message))
    for warning in read.warnings:
        findings.append(Finding("info", "gguf-metadata-note", warning))
    report.update(
        family=spec.family,
        generation=spec.generation,
        generation_how=read.provenance.get("generation"),
        spec=spec.model_dump(mode="json"),
    )
    gguf["hf_config"] = read.config
    if arch == "llama":
        gguf["notes"].append(
            "llama.cpp's convert_hf_to_gguf permutes the rows of Llama's q/k weights for its RoPE kernel; "
            "shapes are unchanged, so a header check cannot tell a permuted file from an unpermuted one"
        )

    _check_tensors(spec, arch, facts, tensors, buffers, report, findings)
    _check_tokenizer(gguf["tokenizer"], spec, findings)
    gguf["params"] = _params_accounting(spec, arch, tensors, buffers, report)
    if reference is not None:
        from ..families.gguf_format import compare_to_reference

        rows = compare_to_reference(spec, reference, facts.rope_freqs)
        gguf["reference"] = {"id": ref_label, "differences": rows}
        for row in rows:
            findings.append(
                Finding(
                    row["severity"],
                    "gguf-vs-reference",
                    f"{row['field']}: GGUF {row['gguf']!r}, {ref_label} {row['reference']!r}"
                    + (f" ({row['note']})" if row["note"] else ""),
                )
            )
        if reference.positions.scaling.type == "llama3" and not facts.rope_freqs:
            findings.append(
                Finding(
                    "warning",
                    "rope-freqs-missing",
                    f"{ref_label} uses llama3 RoPE scaling but the file has no rope_freqs.weight: "
                    "llama.cpp would run without the long-context frequency correction",
                )
            )
        if not reference.embeddings.tied and not facts.has_output:
            findings.append(
                Finding(
                    "error",
                    "head-missing",
                    f"{ref_label} has an untied output head but the file has no output.weight: "
                    "llama.cpp would silently reuse token_embd.weight as the head",
                )
            )
    if entry is not None:
        from ..families.accounting import token_scaling

        count = tokens if tokens is not None else (entry.training_tokens.value if entry.training_tokens else None)
        scaling = token_scaling(report["params_expected"], count) if count else None
        if scaling:
            source = "--tokens" if tokens is not None else f"catalog {entry.id}: {entry.training_tokens.source}"
            report["token_scaling"] = {**scaling, "source": source}
    report["findings"] = [f._asdict() for f in findings]
    return report


def _read_metadata(meta, shapes, where, model: GGUFModel, reference):
    from ..families.gguf_format import read_gguf_metadata

    hint = None
    stem = Path(model.parts[0]).name.removesuffix(".gguf")
    from ..families.hf import generation_from_name

    for candidate in (meta.get("general.name"), stem, model.label):
        # "Meta Llama 3.1 8B Instruct": names in GGUF metadata use spaces where repo names use dashes.
        if isinstance(candidate, str) and generation_from_name(candidate.replace(" ", "-")):
            hint = candidate.replace(" ", "-")
            break
    tied = reference.embeddings.tied if reference is not None else None
    return read_gguf_metadata(meta, shapes, where=where, name_hint=hint, tied=tied)


def _merge_parts(model: GGUFModel, findings: list[Finding]) -> dict[str, Any]:
    tensors: dict[str, Any] = {}
    where_from: dict[str, str] = {}
    count = len(model.parts)
    for i, name in enumerate(model.parts):
        h = model.headers.get(name)
        if h is None:
            findings.append(Finding("error", "gguf-part-missing", f"split part {name} is not present"))
            continue
        if count > 1:
            no, total = h.metadata.get("split.no"), h.metadata.get("split.count")
            if no != i or total != count:
                findings.append(
                    Finding(
                        "error",
                        "gguf-split",
                        f"{name} says it is part {no} of {total} (0-based), its name says {i} of {count}",
                    )
                )
        for tname, t in h.tensors.items():
            if tname in tensors:
                findings.append(
                    Finding("error", "gguf-split", f"tensor {tname!r} is in both {where_from[tname]} and {name}")
                )
                continue
            tensors[tname] = t
            where_from[tname] = name
    if count > 1 and model.first is not None:
        declared = model.first.metadata.get("split.tensors.count")
        if isinstance(declared, int) and not model.missing_parts and declared != len(tensors):
            findings.append(
                Finding(
                    "error", "gguf-split", f"split.tensors.count is {declared}; the parts hold {len(tensors)} tensors"
                )
            )
    return tensors


def _check_tensors(spec, arch, facts, tensors, buffers, report, findings) -> None:
    from ..families.accounting import params_total
    from ..families.gguf_format import gguf_layout, gguf_optional

    report["params_expected"] = params_total(spec)
    try:
        expected = {s.name: s for s in gguf_layout(spec, arch, facts.fused_qkv)}
    except ModelkinError as exc:
        findings.append(Finding("error", "layout", exc.message))
        return
    optional = {s.name: s for s in gguf_optional(spec, arch) if s.name in tensors}
    for name, slot in {**expected, **optional}.items():
        t = tensors.get(name)
        if t is None:
            # llama.cpp loads a file without its MTP layers (convert_hf_to_gguf --no-mtp, trunk only)
            # but not one without a layer's router correction bias (exp_probs_b).
            mtp = slot.layer is not None and slot.layer >= spec.num_layers
            if not mtp and (slot.is_parameter or slot.layer is not None):
                report["missing"].append(name)
            continue
        if _ne(t.shape) != _ne(slot.shape):
            # Reported in ggml order (ne[0] first), as gguf-dump and llama.cpp print them.
            report["shape_mismatches"].append(
                {"tensor": name, "expected": list(reversed(slot.shape)), "actual": list(t.dims), "order": "ggml"}
            )
    unexpected = sorted(n for n in tensors if n not in expected and n not in optional and n not in buffers)
    head = tensors.get("output.weight")
    if spec.embeddings.tied and head is not None and "output.weight" in unexpected:
        unexpected.remove("output.weight")
        findings.append(
            Finding(
                "warning",
                "tied-head-stored",
                f"the model ties its head to the embedding, yet the file also stores output.weight "
                f"({head.n_elements:,} values, {head.n_bytes:,} bytes)",
            )
        )
    report["unexpected"] = unexpected
    # Stored beside the model transformers builds (as the safetensors check reports them):
    # GLM-4.5's MTP layers and its routers' correction biases, which llama.cpp keeps as exp_probs_b.
    beside: dict[str, int] = {}
    for name, slot in {**expected, **optional}.items():
        if name in tensors and not slot.in_model and name not in buffers:
            beside[slot.component] = beside.get(slot.component, 0) + tensors[name].n_elements
    if beside:
        report["params_beside_model"] = beside
        labels = {
            "mtp": "multi-token-prediction layers (blk.N.nextn.* and their block)",
            "buffer": "router correction biases (exp_probs_b)",
        }
        text = ", ".join(f"{labels.get(k, k)} {v:,}" for k, v in beside.items())
        findings.append(
            Finding(
                "info",
                "beside-model",
                f"besides the model's {report['params_expected']:,} parameters the file stores {text}",
            )
        )
    _explain_heads(spec, report, findings)  # first: the cause, before the shapes it explains
    _explain_experts(spec, report, findings)
    report["tied_embeddings"] = {
        "config": spec.embeddings.tied,
        "checkpoint_has_head": facts.has_output,
        "consistent": spec.embeddings.tied != facts.has_output,
    }
    findings += tensor_findings(
        report["missing"], unexpected, report["shape_mismatches"], against="metadata", shape="dims"
    )


def _ne(shape: tuple[int, ...]) -> tuple[int, ...]:
    """ggml's dimensions without trailing ones: llama.cpp accepts [2048] where [2048, 1] is
    expected (Qwen2-MoE's shared-expert gate is (1, hidden) in PyTorch)."""
    dims = list(reversed(shape))
    while len(dims) > 1 and dims[-1] == 1:
        dims.pop()
    return tuple(dims)


def _explain_experts(spec, report, findings) -> None:
    """A wrong expert count or width in the metadata shows as wrong shapes of every MoE layer's
    tensors: say it once, in those words."""
    moe = spec.moe
    if moe is None:
        return
    for m in report["shape_mismatches"]:
        name, dims = m["tensor"], m["actual"]
        if name.endswith((".ffn_gate_exps.weight", ".ffn_up_exps.weight")) and len(dims) == 3:
            experts, width = dims[2], dims[1]
        elif name.endswith(".ffn_down_exps.weight") and len(dims) == 3:
            experts, width = dims[2], dims[0]
        elif name.endswith(".ffn_gate_inp.weight") and len(dims) == 2:
            experts, width = dims[1], moe.intermediate_size
        else:
            continue
        if experts != moe.num_experts:
            findings.append(
                Finding(
                    "error",
                    "experts-disagree",
                    f"the weights hold {experts} experts per MoE layer, the metadata says {moe.num_experts}",
                )
            )
            return
        if width != moe.intermediate_size:
            findings.append(
                Finding(
                    "error",
                    "expert-width-disagrees",
                    f"the weights' experts are {width} wide, the metadata says {moe.intermediate_size}",
                )
            )
            return


def _explain_heads(spec, report, findings) -> None:
    """Wrong head counts in the metadata show as wrong q/k/v widths: say it in those words."""
    att = spec.attention
    for m in report["shape_mismatches"]:
        name, rows = m["tensor"], m["actual"][-1]
        if name.endswith((".attn_k.weight", ".attn_v.weight")) and rows % att.head_dim == 0:
            findings.append(
                Finding(
                    "error",
                    "kv-heads-disagree",
                    f"the weights have {rows // att.head_dim} key/value heads, the metadata says {att.num_kv_heads}",
                )
            )
            return
        if name.endswith(".attn_q.weight") and rows % att.head_dim == 0:
            findings.append(
                Finding(
                    "error",
                    "heads-disagree",
                    f"the weights have {rows // att.head_dim} query heads of {att.head_dim}, "
                    f"the metadata says {att.num_heads}",
                )
            )
            return


def _metadata_summary(meta: dict[str, Any]) -> dict[str, Any]:
    """Every key with a JSON-able value: numbers, short strings; arrays and long strings by their size."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if isinstance(value, GGUFArray):
            out[key] = {"array_of": value.item_type, "length": value.count}
        elif isinstance(value, GGUFString) or (isinstance(value, str) and len(value) > 200):
            length = value.length if isinstance(value, GGUFString) else len(value)
            out[key] = {"string_of_length": length}
        elif isinstance(value, float) and not math.isfinite(value):
            out[key] = str(value)  # JSON has no NaN/inf
        else:
            out[key] = value
    return out


def _tokenizer_facts(meta: dict[str, Any], tensors: dict[str, Any]) -> dict[str, Any]:
    tokens = meta.get("tokenizer.ggml.tokens")
    merges = meta.get("tokenizer.ggml.merges")
    template = meta.get("tokenizer.chat_template")
    embd = tensors.get("token_embd.weight")

    def text(key: str) -> str | None:
        value = meta.get(key)
        return value if isinstance(value, str) else None

    def ident(key: str) -> int | None:
        value = meta.get(key)
        return value if type(value) is int else None

    named_templates = sorted(
        k.removeprefix("tokenizer.chat_template.") for k in meta if k.startswith("tokenizer.chat_template.")
    )
    return {
        "model": text("tokenizer.ggml.model"),
        "pre": text("tokenizer.ggml.pre"),
        "tokens": tokens.count if isinstance(tokens, GGUFArray) else None,
        "merges": merges.count if isinstance(merges, GGUFArray) else None,
        "embedding_rows": embd.shape[0] if embd is not None and len(embd.shape) == 2 else None,
        "bos_id": ident("tokenizer.ggml.bos_token_id"),
        "eos_id": ident("tokenizer.ggml.eos_token_id"),
        "pad_id": ident("tokenizer.ggml.padding_token_id"),
        "add_bos": meta.get("tokenizer.ggml.add_bos_token"),
        "chat_template": template is not None,
        "chat_template_chars": len(template) if isinstance(template, str) else getattr(template, "length", None),
        "named_chat_templates": named_templates,
    }


# What llama.cpp's tokenizer.ggml.model values are, in the spec's words.
_TOKENIZER_KINDS = {"llama": "sentencepiece-bpe", "gpt2": "byte-level-bpe"}


def _check_tokenizer(tok: dict[str, Any], spec, findings: list[Finding]) -> None:
    n, rows = tok["tokens"], tok["embedding_rows"]
    if tok["model"] is None or n is None:
        findings.append(Finding("warning", "gguf-tokenizer", "no tokenizer in the metadata (tokenizer.ggml.*)"))
        return
    if rows is not None and n != rows:
        findings.append(
            Finding(
                "error",
                "gguf-tokenizer-rows",
                f"the vocabulary has {n:,} tokens but token_embd.weight has {rows:,} rows; "
                "llama.cpp sizes the embedding from the token count and refuses the file",
            )
        )
    for what in ("bos_id", "eos_id", "pad_id"):
        ident = tok[what]
        if ident is not None and not 0 <= ident < n:
            findings.append(
                Finding(
                    "error", "gguf-token-id", f"{what.replace('_', ' ')} {ident} is outside the {n:,}-token vocabulary"
                )
            )
    kind = _TOKENIZER_KINDS.get(tok["model"])
    if (
        kind
        and kind != spec.tokenizer.kind
        and not (kind == "byte-level-bpe" and spec.tokenizer.kind == "tiktoken-bpe")
    ):
        findings.append(
            Finding(
                "warning",
                "tokenizer-kind",
                f"tokenizer.ggml.model {tok['model']!r} is {kind}, the family uses {spec.tokenizer.kind}",
            )
        )
    if not tok["chat_template"]:
        findings.append(
            Finding("info", "gguf-chat-template", "no tokenizer.chat_template: chat front-ends fall back to a guess")
        )


def _params_accounting(spec, arch, tensors, buffers, report) -> dict[str, Any]:
    """How the HF parameter count relates to what the GGUF stores."""
    dropped, added = [], []
    if arch == "chatglm":
        dropped.append(
            {
                "what": "rotary_pos_emb.inv_freq",
                "values": spec.rotary_dim // 2,
                "why": "a ChatGLM buffer, not a parameter; llama.cpp computes RoPE frequencies itself",
            }
        )
    for name in buffers:
        added.append(
            {
                "what": name,
                "values": tensors[name].n_elements,
                "why": "llama3 RoPE scaling precomputed by convert_hf_to_gguf as one factor per rotary pair "
                "(a buffer, not a parameter)",
            }
        )
    beside = {
        "mtp": (
            "MTP layers",
            "GLM-4.5's multi-token-prediction layers (blk.N.nextn.* and their block): stored by the checkpoint "
            "and by convert_hf_to_gguf, not part of the model transformers builds",
        ),
        "buffer": (
            "exp_probs_b",
            "the routers' e_score_correction_bias, a buffer in transformers, not a parameter",
        ),
    }
    for component, values in report.get("params_beside_model", {}).items():
        what, why = beside.get(component, (component, component))
        added.append({"what": what, "values": values, "why": why})
    if spec.embeddings.tied:
        head = tensors.get("output.weight")
        if head is not None:
            added.append({"what": "output.weight", "values": head.n_elements, "why": "a copy of the tied embedding"})
        else:
            dropped.append(
                {"what": "output head", "values": 0, "why": "tied to token_embd.weight; neither format stores it twice"}
            )
    return {
        "logical": report["params_expected"],
        "stored": report["params_checkpoint"],
        "dropped": dropped,
        "added": added,
    }


# --- reference ------------------------------------------------------------------------------------


def _reference(against: str | None, model: GGUFModel, meta: dict[str, Any]):
    """(spec, label, catalog entry) the file is compared with: --against, else the catalog entry it names."""
    from ..configs import get

    if against is not None:
        return _reference_from(against) + (None,)
    for candidate in _catalog_candidates(model, meta):
        try:
            entry = get(candidate)
        except UnknownModel:
            continue
        except ModelkinError:
            continue
        return entry.spec, f"catalog {entry.id}", entry
    return None, None, None


def _catalog_candidates(model: GGUFModel, meta: dict[str, Any]) -> list[str]:
    out = []
    # convert_hf_to_gguf records the source repository as a URL; older files used a plain repo id.
    for key in ("general.source.repo_url", "general.base_model.0.repo_url", "general.source.huggingface.repository"):
        value = meta.get(key)
        if isinstance(value, str):
            path = value.split("huggingface.co/", 1)[-1].strip("/").split("/")
            if len(path) >= 2:
                out.append("/".join(path[:2]))
    parts = [meta.get(k) for k in ("general.basename", "general.size_label", "general.finetune")]
    if all(isinstance(p, str) for p in parts[:2]):
        out.append("-".join(p for p in parts if isinstance(p, str)))
        out.append("-".join(parts[:2]))
    stem = Path(model.parts[0]).name.removesuffix(".gguf")
    while True:
        shorter = _QUANT_SUFFIX.sub("", stem)
        if shorter == stem:
            break
        stem = shorter
    out.append(stem)
    out.append(_TUNE_SUFFIX.sub("", stem))
    return [c.lower().replace(" ", "-") for c in out if c]


def _reference_from(against: str):
    """A catalog id, a config.json (or a folder holding one), or a Hub id whose config.json is fetched."""
    import os

    from ..families import read_hf_config
    from ..jsonfile import read_json

    if os.path.exists(against):
        path = Path(against)
        config_path = path / "config.json" if path.is_dir() else path
        config = read_json(config_path, what="config.json")
        hint = path.name if path.is_dir() else path.parent.name
        return read_hf_config(config, where=str(config_path), name_hint=hint).spec, str(config_path)
    from ..configs import get

    try:
        entry = get(against)
        return entry.spec, f"catalog {entry.id}"
    except UnknownModel:
        from .hub import looks_like_hub_id

        if not looks_like_hub_id(against):
            raise
    from .hub import hub_config

    config, label = hub_config(against)
    return read_hf_config(config, where=label, name_hint=against).spec, label


def describe_string(value: Any) -> str:
    return f"<{value.length} bytes>" if isinstance(value, GGUFString) else str(value)
