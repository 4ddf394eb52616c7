"""Check what a checkpoint holds against what its config promises.

The expected tensors come from `layout(spec, convention)`, the same function
the reference model and the accounting use; the convention follows the
config's `model_type` (a ChatGLM checkpoint is checked under ChatGLM names).
The result is a plain dict: the `inspect --format json` contract.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from ..errors import ModelkinError
from ..families import read_hf_config
from ..families.accounting import params_total, token_scaling
from ..families.layout import NAMES, VISION_PREFIXES, layout
from ..families.quantization_keys import may_state_quantization
from .findings import Finding, new_report, tensor_findings
from .gather import Gathered
from .index_file import check_index_against_headers

# Buffers some converters saved beside the weights; not parameters.
_BUFFER_PATTERNS = (re.compile(r"(^|\.)rotary_emb\.inv_freq$"), re.compile(r"(^|\.)rotary_pos_emb\.inv_freq$"))
_GENERATION_KEYS = (
    "do_sample",
    "temperature",
    "top_p",
    "top_k",
    "repetition_penalty",
    "max_length",
    "max_new_tokens",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
)
DTYPE_ORDER = ("F64", "F32", "BF16", "F16", "F8_E4M3", "F8_E5M2", "I64", "I32", "I16", "I8", "U8", "BOOL")


def inspect_gathered(g: Gathered, tokens: float | None = None, against: str | None = None) -> dict[str, Any]:
    if g.gguf is not None:
        from .gguf_inspect import inspect_gguf

        return inspect_gguf(g.gguf, tokens, against)
    if against is not None:
        raise ModelkinError(
            "--against", "compares GGUF files; a safetensors checkpoint is checked against its config.json"
        )
    findings: list[Finding] = list(g.findings)
    tensors = {name: (shard, info) for shard, h in sorted(g.headers.items()) for name, info in h.tensors.items()}
    report = new_report(g.target, g.source, sum(g.shard_sizes.values()), g.bytes_fetched)

    # Shards and the index.
    for name in sorted(g.headers):
        h = g.headers[name]
        report["shards"].append({"file": name, "tensors": len(h.tensors), "size": g.shard_sizes.get(name, h.file_size)})
    for shard in g.missing_shards:
        count = len(g.index.tensors_in(shard)) if g.index else 0
        findings.append(
            Finding("error", "shard-missing", f"shard {shard} is listed in the index ({count} tensors) but not present")
        )
    if g.index is not None:
        findings.extend(check_index_against_headers(g.index, g.headers))
    for name in g.pickle_files:
        findings.append(
            Finding("info", "pickle-not-read", f"{name} was not read: pickle files can run code when loaded")
        )

    # Parameters and dtypes as stored.
    dtypes: Counter[str] = Counter()
    buffers = []
    for name, (_, info) in tensors.items():
        if name.endswith("inv_freq") and any(p.search(name) for p in _BUFFER_PATTERNS):  # endswith: cheap first
            buffers.append(name)
            continue
        dtypes[info.dtype] += info.numel
    report["buffers"] = sorted(buffers)
    report["dtypes"] = dict(
        sorted(dtypes.items(), key=lambda kv: (DTYPE_ORDER.index(kv[0]) if kv[0] in DTYPE_ORDER else 99, kv[0]))
    )
    report["params_checkpoint"] = sum(dtypes.values())

    if g.config is None:
        # Not consistent: without a config nothing was checked (exit 1, see README "Exit codes").
        findings.append(Finding("error", "no-config", "no config.json: tensors counted, nothing to check them against"))
        report["findings"] = [f._asdict() for f in findings]
        return report

    read = read_hf_config(g.config, where=g.config_path, name_hint=g.name_hint)
    spec = read.spec
    convention = read.model_type
    report.update(
        family=spec.family,
        generation=spec.generation,
        model_type=read.model_type,
        generation_how=read.provenance.get("generation"),
        spec=spec.model_dump(mode="json"),
    )
    for warning in read.warnings:
        findings.append(Finding("info", "config-note", warning))

    # Tensors against the layout the spec implies.
    try:
        expected = {slot.name: slot for slot in layout(spec, convention)}
    except ModelkinError as exc:
        findings.append(Finding("error", "layout", exc.message))
        expected = {}
    report["params_expected"] = params_total(spec)
    quant = None
    if may_state_quantization(g.config, g.hf_quant_config):
        from ..families.quantization import read_quantization

        quant = read_quantization(g.config, g.hf_quant_config)
    if quant is not None and expected:
        from .quantized import check_quantized

        qc = check_quantized(quant, spec, convention, tensors, buffers)
        report.update(missing=qc.missing, unexpected=qc.unexpected, shape_mismatches=qc.shape_mismatches)
        report["params_checkpoint"] = qc.params_logical  # logical: a packed int32 of 4-bit values is 8
        report["quantization"] = qc.summary
        findings.extend(qc.findings)
    for name, slot in expected.items() if quant is None else ():
        if name not in tensors:
            # MTP layers are optional: transformers has none and does not save them.
            if slot.is_parameter and slot.component != "mtp":
                report["missing"].append(name)
            continue
        shape = tensors[name][1].shape
        if tuple(shape) != slot.shape:
            report["shape_mismatches"].append({"tensor": name, "expected": list(slot.shape), "actual": list(shape)})
    stored_head = _stored_tied_head(spec, convention, tensors)
    vision = _vision_tensors(spec, tensors)
    if quant is None:
        report["unexpected"] = sorted(
            n for n in tensors if n not in expected and n not in buffers and n != stored_head and n not in vision
        )
    findings += tensor_findings(report["missing"], report["unexpected"], report["shape_mismatches"], against="config")
    _explain_kv_heads(spec, report, findings)
    beside = _beside_the_model(expected, tensors, vision, set(buffers), report, findings)
    if expected and not report["missing"] and not report["unexpected"] and not report["shape_mismatches"]:
        copy = tensors[stored_head][1].numel if stored_head else 0
        if report["params_checkpoint"] - copy != report["params_expected"] + beside:
            findings.append(
                Finding(
                    "error",
                    "param-count",
                    f"headers hold {report['params_checkpoint']:,} parameters, the config implies {report['params_expected']:,}",
                )
            )

    has_head = any(slot.component == "head" for slot in expected.values() if slot.name in tensors)
    report["tied_embeddings"] = {
        "config": spec.embeddings.tied,
        "checkpoint_has_head": has_head or stored_head is not None,
        "consistent": spec.embeddings.tied != has_head,
        "stored_copy": stored_head,
    }
    if stored_head:
        copy = tensors[stored_head][1].numel
        findings.append(
            Finding(
                "info",
                "tied-head-stored",
                f"tie_word_embeddings is true and the checkpoint also stores {stored_head} "
                f"({copy:,} values): transformers ties it to the embedding when loading, so it counts once; "
                f"{report['params_checkpoint'] - copy:,} parameters unique, {report['params_checkpoint']:,} as stored",
            )
        )
        report["params_unique"] = report["params_checkpoint"] - copy

    from .claims import check_claim

    # The claim is about the model: MTP layers, stored buffers and a vision tower are set apart.
    held = report.get("params_unique", report["params_checkpoint"]) - sum(
        report.get("params_beside_model", {}).values()
    )
    claim, claim_findings = check_claim([g.name_hint, g.config.get("_name_or_path")], spec, held)
    report["claim"] = claim
    findings.extend(claim_findings)
    report["tokenizer"] = _tokenizer(g, spec, findings)
    report["generation_defaults"] = _generation_defaults(g, spec, findings)
    _rope_context(spec, findings)
    report["token_scaling"] = _token_scaling(g, spec, tokens, report["params_checkpoint"] or report["params_expected"])
    report["findings"] = [f._asdict() for f in findings]
    return report


def _vision_tensors(spec, tensors: dict[str, Any]) -> set[str]:
    """A multimodal Llama 4 checkpoint's image tower and projector: recognised, counted apart."""
    if spec.generation != "llama-4":
        return set()
    return {name for name in tensors if name.startswith(VISION_PREFIXES)}


def _beside_the_model(
    expected, tensors, vision: set[str], buffers: set[str], report: dict[str, Any], findings: list[Finding]
) -> int:
    """What the headers hold beyond the text model transformers builds: MTP layers (with their
    head copy), buffers stored as tensors (e_score_correction_bias), the vision side. Reported
    and explained as information; returns their count for the parameter check."""
    parts: dict[str, int] = {}
    for name, slot in expected.items():
        if name in tensors and not slot.in_model and name not in buffers:  # rotary inv_freq is set apart already
            parts[slot.component] = parts.get(slot.component, 0) + tensors[name][1].numel
    if vision:
        parts["vision"] = sum(tensors[name][1].numel for name in vision)
    if not parts:
        return 0
    report["params_beside_model"] = parts
    labels = {
        "mtp": "multi-token-prediction layers (with their head copy)",
        "buffer": "router bias buffers stored as tensors (e_score_correction_bias)",
        "vision": f"vision tower and projector ({len(vision)} tensors)",
    }
    text = ", ".join(f"{labels.get(k, k)} {v:,}" for k, v in parts.items())
    findings.append(
        Finding(
            "info",
            "beside-model",
            f"besides the model's {report['params_expected']:,} parameters the checkpoint stores {text}",
        )
    )
    return sum(parts.values())


def _stored_tied_head(spec, convention: str, tensors: dict[str, Any]) -> str | None:
    """The name of an output head stored although the config ties it to the embedding (Qwen3-0.6B
    publishes one), when it has the head's shape; None otherwise."""
    if not spec.embeddings.tied or convention not in NAMES:
        return None
    name = NAMES[convention]["head"] + ".weight"
    if name in tensors and tuple(tensors[name][1].shape) == (spec.vocab_size, spec.hidden_size):
        return name
    return None


def _explain_kv_heads(spec, report: dict[str, Any], findings: list[Finding]) -> None:
    """A k_proj whose rows disagree with num_key_value_heads is the commonest config lie: say so plainly."""
    for m in report["shape_mismatches"]:
        if m["tensor"].endswith(("k_proj.weight", "v_proj.weight")) and m["actual"][0] % spec.attention.head_dim == 0:
            heads = m["actual"][0] // spec.attention.head_dim
            findings.append(
                Finding(
                    "error",
                    "kv-heads-disagree",
                    f"the weights have {heads} key/value heads, the config says {spec.attention.num_kv_heads}",
                )
            )
            return


def _tokenizer(g: Gathered, spec, findings: list[Finding]) -> dict[str, Any] | None:
    tok = g.tokenizer
    if tok is None:
        return None
    findings.extend(tok.findings)
    out = {
        "kind": tok.kind,
        "base_vocab_size": tok.base_vocab_size,
        "added_tokens": len(tok.added_tokens),
        "total_size": tok.total_size,
        "embedding_rows": spec.vocab_size,
        "padding_rows": None,
        "padding_params": None,
        "bos_id": tok.bos_id,
        "eos_id": tok.eos_id,
        "pad_id": tok.pad_id,
        "files": tok.files_read,
    }
    if tok.total_size is not None:
        padding = spec.vocab_size - tok.total_size
        if padding < 0:
            findings.append(
                Finding(
                    "error",
                    "tokenizer-exceeds-embedding",
                    f"the tokenizer produces ids up to {tok.total_size - 1}, the embedding has {spec.vocab_size} rows",
                )
            )
        else:
            matrices = 1 if spec.embeddings.tied else 2
            out["padding_rows"] = padding
            out["padding_params"] = padding * spec.hidden_size * matrices
            if padding:
                findings.append(
                    Finding(
                        "info",
                        "embedding-padding",
                        f"{padding:,} embedding rows are never produced by the tokenizer "
                        f"({out['padding_params']:,} parameters across {matrices} matri{'x' if matrices == 1 else 'ces'}); "
                        "padding to a multiple of 64/128 keeps matmuls aligned",
                    )
                )
    if tok.kind not in ("unknown", spec.tokenizer.kind) and not (
        tok.kind == "byte-level-bpe" and spec.tokenizer.kind == "tiktoken-bpe"
    ):
        findings.append(
            Finding(
                "warning",
                "tokenizer-kind",
                f"tokenizer files are {tok.kind}, {spec.generation} publishes {spec.tokenizer.kind}",
            )
        )
    if tok.eos_id is not None and spec.tokenizer.eos_token_ids and tok.eos_id not in spec.tokenizer.eos_token_ids:
        findings.append(
            Finding(
                "warning",
                "eos-disagrees",
                f"the tokenizer's eos id {tok.eos_id} is not among the config's {spec.tokenizer.eos_token_ids}",
            )
        )
    return out


def _generation_defaults(g: Gathered, spec, findings: list[Finding]) -> dict[str, Any] | None:
    gc = g.generation_config
    if gc is None:
        return None
    out = {k: gc[k] for k in _GENERATION_KEYS if k in gc}
    eos = gc.get("eos_token_id")
    eos_ids = eos if isinstance(eos, list) else [eos] if isinstance(eos, int) else []
    for token in eos_ids:
        if isinstance(token, int) and not 0 <= token < spec.vocab_size:
            findings.append(
                Finding(
                    "error",
                    "generation-eos-range",
                    f"generation_config eos_token_id {token} is outside the {spec.vocab_size}-row vocabulary",
                )
            )
    return out


def _rope_context(spec, findings: list[Finding]) -> None:
    scaling = spec.positions.scaling
    if scaling.type == "yarn":
        original = scaling.original_max_position_embeddings or spec.max_position_embeddings
        reach = scaling.factor * original
        if spec.max_position_embeddings > reach:
            findings.append(
                Finding(
                    "warning",
                    "yarn-reach",
                    f"max_position_embeddings {spec.max_position_embeddings:,} exceeds YaRN's reach (factor {scaling.factor:g} × {original:,} = {reach:,.0f})",
                )
            )
        else:
            findings.append(
                Finding(
                    "info",
                    "yarn-reach",
                    f"YaRN ×{scaling.factor:g} stretches {original:,} trained positions to {reach:,.0f}",
                )
            )
    dca = spec.long_context.dual_chunk
    if dca:
        step = dca.chunk_size - dca.local_size
        findings.append(
            Finding(
                "info",
                "dca",
                f"dual chunk attention: chunks of {step:,} tokens; RoPE distances stay ≤ {dca.chunk_size:,} (trained: {dca.original_max_position_embeddings:,})",
            )
        )


def _token_scaling(g: Gathered, spec, tokens: float | None, params: int) -> dict[str, Any] | None:
    source = "--tokens"
    if tokens is None:
        entry = _catalog_match(g, spec)
        if entry is None or entry.training_tokens is None:
            return None
        tokens, source = entry.training_tokens.value, f"catalog {entry.id}: {entry.training_tokens.source}"
    out = token_scaling(params, tokens)
    return {**out, "source": source} if out else None


def _catalog_match(g: Gathered, spec):
    """The catalog entry for this checkpoint: by name when the architecture agrees,
    else the one entry with an identical architecture."""
    from ..configs import entries
    from ..targets import catalog_entry_named

    def arch(s) -> dict[str, Any]:
        d = s.model_dump()
        d.pop("dtype"), d.pop("tokenizer")
        return d

    named = catalog_entry_named(g.name_hint, (g.config or {}).get("_name_or_path"))
    if named is not None and arch(named.spec) == arch(spec):
        return named
    # Reading an entry validates its config: only those whose published hidden_size could agree.
    candidates = [e for e in entries() if e.config.get("hidden_size", spec.hidden_size) == spec.hidden_size]
    matches = [e for e in candidates if arch(e.spec) == arch(spec)]
    return matches[0] if len(matches) == 1 else None


def verdict(report: dict[str, Any]) -> str:
    severities = {f["severity"] for f in report["findings"]}
    return "inconsistent" if "error" in severities else "consistent"
