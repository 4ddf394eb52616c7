"""Checking a quantized checkpoint: the tensors its scheme puts on disk, and its logical size.

The expected tensors are `layout(spec, convention)` with every module the scheme quantizes replaced
by the tensors `families.quantization.linear_tensors` lists for it (packed weight, scales, zero
points, g_idx, bitsandbytes' state ...). Missing, unexpected and wrong-shape tensors are reported as
for an unquantized checkpoint. The parameter count is the logical one: a packed int32 holding eight
4-bit values is eight parameters; scales, zero points and index tensors are not parameters, their
bytes are listed under `scales_zeros`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..families.quantization import ROLES, QTensor, QuantConfig, Scheme, module_kind, plan
from .findings import Finding
from .safetensors_header import DTYPE_BITS, TensorInfo

# KV-cache scales: compressed-tensors puts them on the attention module, ModelOpt on k_proj/v_proj.
_KV_SCALE = re.compile(r"\.(self_attn|self_attention)(\.(k_proj|v_proj|query_key_value))?\.(k|v)_scale$")

_PACKING = {
    "gptq": "{per} values per int32 along the input dimension ([in·{bits}/32, out])",
    "awq": "{per} values per int32 along the output dimension ([in, out·{bits}/32])",
    "ct-pack": "{per} values per int32 along the input dimension ([out, ⌈in·{bits}/32⌉])",
    "mlx": "{per} values per uint32 along the input dimension ([out, in·{bits}/32])",
    "bnb-4bit": "two 4-bit values per byte, flattened ([⌈out·in/2⌉, 1])",
    "ct-nvfp4": "two 4-bit values per byte ([out, in/2])",
    "ct-mxfp4": "two 4-bit values per byte ([out, in/2])",
    "modelopt-nvfp4": "two 4-bit values per byte ([out, in/2])",
}
# Scales whose second (or, for GPTQ/AWQ, first) dimension counts groups along the input.
_GROUP_SCALES = {"scales", "weight_scale", "biases"}


@dataclass
class _Expected:
    tensor: QTensor | None  # None: a full-precision slot of the plain layout
    shape: tuple[int, ...] | None
    module: str | None = None
    scheme: Scheme | None = None
    in_features: int = 0
    parameter: bool = True


@dataclass
class QuantCheck:
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shape_mismatches: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    params_logical: int = 0
    summary: dict[str, Any] = field(default_factory=dict)


def check_quantized(
    q: QuantConfig, spec, convention: str, tensors: dict[str, tuple[str, TensorInfo]], buffers: list[str]
) -> QuantCheck:
    out = QuantCheck()
    expected: dict[str, _Expected] = {}
    unchecked_modules: list[str] = []  # modules of an unknown layout: their tensors are listed, not checked
    quantized_modules = 0
    kept: list[str] = []  # weight matrices the scheme leaves in full precision (embedding, head, skipped layers)
    for slot, planned in plan(spec, q, convention):
        if planned is None:
            expected[slot.name] = _Expected(None, slot.shape, parameter=slot.is_parameter)
            if module_kind(slot) is not None:
                kept.append(slot.name.removesuffix(".weight"))
            continue
        quantized_modules += 1
        if planned.tensors is None:
            unchecked_modules.append(planned.module)
            continue
        for t in planned.tensors:
            expected[f"{planned.module}.{t.suffix}"] = _Expected(
                t, t.shape, planned.module, planned.scheme, in_features=slot.shape[1]
            )

    groups: dict[tuple[str, str], list[str]] = {}
    for name, exp in expected.items():
        if exp.tensor is not None and exp.tensor.one_of:
            groups.setdefault((exp.module or "", exp.tensor.one_of), []).append(name)
    for names in groups.values():
        if not any(n in tensors for n in names):
            out.missing.append(" or ".join(names))

    by_role = {role: 0 for role in ROLES}
    stored = 0
    dtype_problems: list[str] = []
    for name, exp in expected.items():
        if name not in tensors:
            if exp.parameter and not (exp.tensor is not None and exp.tensor.optional):
                out.missing.append(name)
            continue
        info = tensors[name][1]
        actual = tuple(info.shape)
        if exp.shape is not None and actual != exp.shape and not (exp.shape == () and actual == (1,)):
            out.shape_mismatches.append({"tensor": name, "expected": list(exp.shape), "actual": list(actual)})
            _explain_shape(name, exp, actual, out.findings)
        if exp.tensor is not None and exp.tensor.dtypes and info.dtype not in exp.tensor.dtypes:
            dtype_problems.append(f"{name} is {info.dtype}, the scheme stores {' or '.join(exp.tensor.dtypes)}")

    unexpected = []
    for name, (_, info) in tensors.items():
        if name in buffers:
            continue
        exp = expected.get(name)
        stored += info.numel
        if exp is None:
            module = next((m for m in unchecked_modules if name.startswith(m + ".")), None)
            if module is not None:
                by_role["weights"] += info.nbytes
                continue
            if _KV_SCALE.search(name):
                by_role["scales_zeros"] += info.nbytes
                continue
            unexpected.append(name)
            by_role["full_precision"] += info.nbytes
            out.params_logical += info.numel
            continue
        if exp.tensor is None:
            by_role["full_precision"] += info.nbytes
            out.params_logical += info.numel
            continue
        by_role[exp.tensor.role] += info.nbytes
        if exp.tensor.role == "weights":
            if tuple(info.shape) == exp.shape:
                out.params_logical += exp.tensor.logical
            else:  # a wrong shape: count what the stored bits hold
                out.params_logical += info.numel * DTYPE_BITS.get(info.dtype, 8) // (exp.scheme.bits or 8)
    out.unexpected = sorted(unexpected)
    # Modules of an unknown layout: their logical size is the layout's (nothing on disk says otherwise).
    for slot, planned in plan(spec, q, convention):
        if planned is not None and planned.tensors is None:
            present = any(n.startswith(planned.module + ".") for n in tensors)
            if present:
                out.params_logical += slot.numel
            else:
                out.missing.append(slot.name)

    for problem in dtype_problems[:20]:
        out.findings.append(Finding("error", "quant-dtype", problem))
    for note in q.notes:
        out.findings.append(Finding("info" if q.known else "warning", "quant-note", note))
    if unchecked_modules:
        out.findings.append(
            Finding(
                "warning",
                "quant-unchecked",
                f"{len(unchecked_modules)} quantized modules have a layout modelkin does not know; "
                "their tensors were listed, not checked, and counted at the layout's size",
            )
        )

    total = sum(by_role.values())
    s = q.main
    quant_bytes = by_role["weights"] + by_role["scales_zeros"]
    quant_params = out.params_logical - _full_precision_params(expected, tensors, unexpected)
    out.summary = {
        **q.summary(),
        "quantized_modules": quantized_modules,
        "full_precision_modules": kept,
        "params_logical": out.params_logical,
        "params_stored": stored,
        "bytes_by_role": by_role,
        "bits_per_param": 8 * total / out.params_logical if out.params_logical else None,
        "bits_per_quantized_param": 8 * quant_bytes / quant_params if quant_params > 0 else None,
        "packing": _PACKING.get(s.layout, "").format(per=32 // s.bits if s.bits else "", bits=s.bits) if s else "",
    }
    return out


def _full_precision_params(expected, tensors, unexpected) -> int:
    count = sum(tensors[n][1].numel for n in unexpected)
    for name, exp in expected.items():
        if exp.tensor is None and exp.parameter and name in tensors:
            count += tensors[name][1].numel
    return count


def _explain_shape(name: str, exp: _Expected, actual: tuple[int, ...], findings: list[Finding]) -> None:
    """Say what a wrong shape means for a quantized tensor: a group size or a packing that disagrees."""
    t, s = exp.tensor, exp.scheme
    if t is None or s is None:
        return
    if t.suffix in _GROUP_SCALES and s.group_size and len(actual) == 2 and exp.shape and len(exp.shape) == 2:
        axis = 0 if s.layout in ("gptq", "awq") else 1
        groups = actual[axis]
        if groups and groups != exp.shape[axis]:
            implied = exp.in_features / groups
            shown = f"{implied:g}" if implied == int(implied) else f"{implied:.3g}"
            findings.append(
                Finding(
                    "error",
                    "group-size-disagrees",
                    f"{name} holds {groups} groups along the input: a group size of {shown} for {exp.in_features} inputs, "
                    f"the config says {s.group_size}",
                )
            )
            return
    if t.role == "weights" and s.layout in _PACKING:
        bits = s.bits or 4
        other = ""
        if s.layout in ("gptq", "awq") and exp.shape and len(exp.shape) == 2:
            # GPTQ packs along the input, AWQ along the output: the commonest mix-up between the two
            in_f = exp.in_features
            out_f = exp.shape[1] if s.layout == "gptq" else exp.shape[1] * 32 // bits
            swapped = (in_f, out_f * bits // 32) if s.layout == "gptq" else (in_f * bits // 32, out_f)
            if actual == swapped:
                other = f" ({'AWQ' if s.layout == 'gptq' else 'GPTQ'}'s packing direction)"
        findings.append(
            Finding(
                "error",
                "packed-shape",
                f"{name} has shape {list(actual)}{other}; {bits}-bit {s.layout} packs "
                + _PACKING[s.layout].format(per=32 // bits, bits=bits)
                + f", so {list(exp.shape or ())}",
            )
        )


def render_rows(q: dict[str, Any]) -> list[list[str]]:
    """The `Quantization` table of the text report."""
    from ..units import count, nbytes

    by = q["bytes_by_role"]
    rows = [
        ["method", f"{q['method']} ({q['source']})"],
        ["scheme", q["description"]],
    ]
    if q.get("packing"):
        rows.append(["packing", q["packing"]])
    rows.append(["quantized modules", str(q["quantized_modules"])])
    kept = q.get("full_precision_modules") or []
    if kept:
        shown = ", ".join(kept[:4]) + (f" and {len(kept) - 4} more" if len(kept) > 4 else "")
        rows.append(["kept in full precision", shown])
    if q["not_converted"]:
        rows.append(
            ["config's skip list", ", ".join(q["not_converted"][:6]) + (" …" if len(q["not_converted"]) > 6 else "")]
        )
    if q["kv_cache"]:
        rows.append(["KV cache", q["kv_cache"]])
    rows += [
        ["params logical / stored", f"{q['params_logical']:,} / {q['params_stored']:,} values in the headers"],
        ["quantized weights", nbytes(by["weights"])],
        ["scales, zeros, indices", nbytes(by["scales_zeros"])],
        ["full-precision rest", nbytes(by["full_precision"])],
    ]
    if q["bits_per_quantized_param"]:
        rows.append(["bits per quantized param", f"{q['bits_per_quantized_param']:.3f} (scales included)"])
    if q["bits_per_param"]:
        rows.append(["bits per param, all", f"{q['bits_per_param']:.3f} ({count(q['params_logical'])} params)"])
    return rows
