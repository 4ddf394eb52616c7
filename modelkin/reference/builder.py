"""`modelkin build`: a Hugging Face folder of a (tiny) reference model, checked against
transformers on request, or the full-size model counted on the meta device.

    modelkin build ID|SPEC.json|config.json [--tiny] --out DIR [--seed N] [--set path=value ...]
                   [--layout chatglm] [--force] [--check] [--meta]

Without --tiny only models up to FULL_EXPORT_LIMIT (200 M) parameters are written;
bigger ones are counted on the meta device (--meta), never materialised.

`--set` edits the spec after `--tiny` (what you set is what you get). The folder
is written into a temporary sibling of DIR and renamed into place only when
everything (including `--check`) succeeded; an existing DIR (with `--force`) is
replaced only then. torch and transformers are imported when the command runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EXIT_INCONSISTENT, ModelkinError
from ..families import spec_to_hf
from ..families.accounting import params_total
from ..families.spec import ArchSpec
from ..families.tiny import tiny

TOLERANCE = 1e-5  # fp32 logits, reference vs transformers
GREEDY_TOKENS = 20
FULL_EXPORT_LIMIT = 200_000_000  # parameters; bigger specs are only counted (--meta), never materialised


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..commands.helptext import examples

    p.description = (
        "Write a model as a Hugging Face folder (safetensors weights, config, tokenizer) that transformers "
        f"loads; full size only up to {FULL_EXPORT_LIMIT // 1_000_000} M parameters, so published models "
        "need --tiny. Or count the full-size model on the meta device (--meta)."
    )
    p.add_argument(
        "source",
        metavar="MODEL|SPEC.json",
        help="catalog id, config.json, checkpoint folder, Hub repo id (with :path=value edits), or a spec JSON dump",
    )
    p.add_argument(
        "--tiny",
        action="store_true",
        help="scale down with the tiny rule (see `modelkin show ID --tiny`); needed above "
        f"{FULL_EXPORT_LIMIT // 1_000_000} M parameters",
    )
    p.add_argument(
        "--out", metavar="DIR", help="folder to write (refused if it exists and is not empty, unless --force)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="edit the spec at a dotted path, e.g. attention.qkv_bias=true (JSON value, else a string)",
    )
    p.add_argument(
        "--layout",
        dest="extra_format",
        choices=("chatglm",),
        help="also write THUDM's ChatGLM layout (fused query_key_value, dense_h_to_4h) in DIR/chatglm (GLM specs)",
    )
    # --format means the output format on every other command; its old meaning here is refused
    # with the new name rather than silently taken.
    p.add_argument("--format", dest="old_format", help=argparse.SUPPRESS)
    p.add_argument("--force", action="store_true", help="replace an existing --out folder")
    p.add_argument(
        "--check",
        action="store_true",
        help="compare the written folder with transformers (logits, greedy tokens, KV cache)",
    )
    p.add_argument(
        "--meta",
        action="store_true",
        help="instantiate the model on the meta device and compare its parameter count with the accounting",
    )
    examples(
        p,
        "modelkin build qwen2.5-7b --tiny --out qwen-tiny --check",
        "modelkin build glm-4-9b --tiny --layout chatglm --out glm-tiny   # also THUDM's layout in glm-tiny/chatglm",
        "modelkin build llama-3.1-8b --tiny --set attention.qkv_bias=true --set attention.out_bias=true --out llama-bias",
        "modelkin build llama-3.1-8b --meta                                  # count 8 B parameters, write nothing",
    )


def run(args: argparse.Namespace) -> str | tuple[int, str]:
    if args.old_format is not None:
        raise ModelkinError(
            "--format",
            f"build's --format is now --layout (--layout {args.old_format}); --format means the output format on the other commands",
        )
    if not args.out:
        ignored = [
            flag
            for flag, given in (
                ("--check", args.check),
                ("--force", args.force),
                ("--layout", args.extra_format),
                ("--seed", args.seed != 0),
            )
            if given
        ]
        if ignored:
            raise ModelkinError(ignored[0], "needs --out DIR: it applies to the folder written")
    spec, name = resolve_source(args.source)
    if args.tiny:
        spec = tiny(spec)
    if args.overrides:
        spec = apply_overrides(spec, args.overrides)
    if not args.out and not args.meta:
        raise ModelkinError("--out", "give a folder to write (or --meta to only count the model)")
    if args.out:
        check_out(Path(args.out), args.force)  # before torch is imported: a refusal is instant
    if args.tiny and args.check:
        import torch

        # Tiny matmuls gain nothing from intra-op threads; on a busy machine the
        # hand-offs between them make the check many times slower.
        torch.set_num_threads(1)
    lines: list[str] = []
    failed = False
    if args.out:
        if not args.tiny and params_total(spec) > FULL_EXPORT_LIMIT:
            raise ModelkinError(
                args.source,
                f"{params_total(spec):,} parameters, above the {FULL_EXPORT_LIMIT:,} that build writes at full size; "
                "add --tiny for the tiny variant, or use --meta to count it without writing",
            )
        report, ok = export(
            spec,
            Path(args.out),
            seed=args.seed,
            fmt=args.extra_format,
            name=name,
            force=args.force,
            check=args.check,
            tiny=args.tiny,
        )
        lines += report
        failed |= not ok
    if args.meta:
        report, ok = meta_report(spec)
        lines += report
        failed |= not ok
    text = "\n".join(lines)
    return (EXIT_INCONSISTENT, text) if failed else text


# --- inputs ------------------------------------------------------------------------------


def resolve_source(source: str) -> tuple[ArchSpec, str | None]:
    """Any model target (modelkin.targets) or a spec dump -> (spec, name for the generation hint)."""
    from ..targets import resolve_target

    target = resolve_target(source)
    if target.entry is not None:
        return target.spec, target.entry.id
    if target.config_path is not None and target.read is not None:
        path = target.config_path
        return target.spec, path.parent.name if path.name == "config.json" else path.stem
    return target.spec, None


def apply_overrides(spec: ArchSpec, overrides: list[str]) -> ArchSpec:
    """`--set path=value` edits: the same code as a target's `:path=value` edits."""
    from ..targets import apply_edits

    return apply_edits(spec, overrides, "--set")


# --- export --------------------------------------------------------------------------------


def export(
    spec: ArchSpec,
    out: Path,
    *,
    seed: int = 0,
    fmt: str | None = None,
    name: str | None = None,
    force: bool = False,
    check: bool = False,
    tiny: bool = False,
) -> tuple[list[str], bool]:
    """Write the folder through a temporary sibling; rename into place only after success."""
    check_out(out, force)
    from .checkpoint import save_hf_folder

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as exc:
        raise ModelkinError(str(out), f"cannot be created ({exc.strerror or exc})") from None
    try:
        # A tiny model must not carry the full model's name: `inspect` would read it as a claim
        # to be that model (and find 1 M parameters where 7 B were promised).
        stored_name = f"{name}-tiny" if tiny and name else name
        saved = save_hf_folder(spec, tmp, seed=seed, fmt=fmt, name=stored_name)
        s = saved.spec
        lines = [
            f"wrote {out}: {name or s.generation}{' tiny' if tiny else ''} ({params_total(s):,} parameters, "
            f"{s.num_layers} layers, hidden {s.hidden_size}, vocab {s.vocab_size}, seed {seed})",
            f"  files: {', '.join(saved.files)}",
        ]
        ok = True
        if check:
            result = check_folder(tmp)
            lines += result.lines()
            if fmt == "chatglm":
                lines += [_check_chatglm(tmp)]
            ok = result.ok
            if not ok:
                lines.append(f"check failed: {out} was not written")
                shutil.rmtree(tmp)
                return lines, False
        _normal_modes(tmp)
        _replace(tmp, out)
        return lines, ok
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ModelkinError(str(out), "exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ModelkinError(str(out), "exists and is not empty; pass --force to replace it")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ModelkinError(str(out), f"cannot be created: {parent} is a file")
            if not os.access(parent, os.W_OK):
                raise ModelkinError(str(out), f"cannot be created: {parent} is not writable")
            break


def _normal_modes(folder: Path) -> None:
    """mkdtemp (and safetensors) create private entries; give them a normal file's mode."""
    mask = os.umask(0)
    os.umask(mask)
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~mask)


def _replace(tmp: Path, out: Path) -> None:
    if not out.exists():
        tmp.rename(out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


# --- check -----------------------------------------------------------------------------------


@dataclass
class CheckResult:
    architecture: str
    batch: int
    length: int
    max_logit_diff: float
    greedy_equal: bool
    first_mismatch: int | None
    incremental_diff: float
    dca_one_chunk_diff: float | None = None

    @property
    def ok(self) -> bool:
        dca_ok = self.dca_one_chunk_diff is None or self.dca_one_chunk_diff <= TOLERANCE
        return self.max_logit_diff <= TOLERANCE and self.greedy_equal and self.incremental_diff <= TOLERANCE and dca_ok

    def lines(self) -> list[str]:
        verdict = lambda ok: "ok" if ok else "FAIL"  # noqa: E731
        out = [
            f"check vs transformers {self.architecture} (fp32, {self.batch}×{self.length} random ids): "
            f"max |Δlogits| {self.max_logit_diff:.2e} (limit {TOLERANCE:.0e}) {verdict(self.max_logit_diff <= TOLERANCE)}",
            f"  greedy {GREEDY_TOKENS} tokens: "
            + ("identical ok" if self.greedy_equal else f"differ from token {self.first_mismatch} FAIL"),
            f"  incremental decoding (KV cache) vs full forward: max |Δ| {self.incremental_diff:.2e} "
            f"{verdict(self.incremental_diff <= TOLERANCE)}",
        ]
        if self.dca_one_chunk_diff is not None:
            out.append(
                f"  dual chunk attention vs plain attention within one chunk: max |Δ| {self.dca_one_chunk_diff:.2e} "
                f"{verdict(self.dca_one_chunk_diff <= TOLERANCE)} (transformers has no DCA: compared inside one chunk)"
            )
        return out


def check_length(spec: ArchSpec) -> int:
    """A length that exercises the RoPE scaling (beyond the original context) and stays
    where transformers' attention must equal ours (inside one DCA chunk)."""
    n = spec.original_context + 32 if spec.positions.scaling.type != "none" else 64
    dca = spec.long_context.dual_chunk
    if dca is not None:
        n = min(n, dca.chunk_size - dca.local_size)
    window = spec.long_context.sliding_window
    if window is not None and window.enabled and window.window is not None:
        n = max(n, window.window + 16)  # let the window cut in
    # Not capped at max_position_embeddings: RoPE has no hard limit there, and a tiny
    # YaRN spec (qwen2-7b-instruct) states its original length as its maximum.
    return max(GREEDY_TOKENS + 8, n)


def check_one_chunk(model_or_spec: object, seed: int = 0, batch: int = 2) -> float:
    """Max abs logit difference between a DCA model and the same weights with DCA off, on
    random ids of the longest length where DCA must equal ordinary attention
    (min(chunk_size + 1, 2·L), capped by the original length so s = 1).

    This is the check `build --check` can run for DCA models, which transformers cannot
    run. Accepts a ReferenceModel or an ArchSpec (built with `seed`).
    """
    import torch

    from ..errors import InvalidSpec
    from ..families.rope_math import dca_exact_limit
    from .reference import ReferenceModel, build_reference

    if isinstance(model_or_spec, ReferenceModel):
        model = model_or_spec
    elif isinstance(model_or_spec, ArchSpec):
        model = build_reference(model_or_spec, seed=seed)
    else:
        raise TypeError(f"check_one_chunk needs a ReferenceModel or an ArchSpec, not {type(model_or_spec).__name__}")
    spec = model.spec
    dca = spec.long_context.dual_chunk
    if dca is None:
        raise InvalidSpec("long_context.dual_chunk", "the spec has no dual chunk attention to check")
    plain_spec = spec.model_copy(update={"long_context": spec.long_context.model_copy(update={"dual_chunk": None})})
    plain = ReferenceModel(plain_spec).to(next(model.parameters()).dtype).eval()
    plain.load_state_dict(model.state_dict())
    n = min(dca_exact_limit(dca), dca.original_max_position_embeddings, spec.max_position_embeddings)
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, spec.vocab_size, (batch, n), generator=generator)
    with torch.no_grad():
        return float((model(ids) - plain(ids)).abs().max())


def check_folder(folder: Path, seed: int = 0, batch: int = 2) -> CheckResult:
    """Load `folder` with transformers and as the reference; compare fp32 logits, greedy
    decoding and incremental decoding."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    from .checkpoint import load_reference

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        hf = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    except Exception as exc:  # transformers' own validation of the config we wrote
        raise ModelkinError("transformers", f"cannot load the folder: {_last_line(exc)}") from None
    ours = load_reference(folder)
    spec = ours.spec
    n = check_length(spec)
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, spec.vocab_size, (batch, n), generator=generator)
    with torch.no_grad():
        theirs_logits = hf(ids).logits
        our_logits = ours(ids)
        diff = float((theirs_logits - our_logits).abs().max())
        prompt = ids[:, :8]
        hf.generation_config.eos_token_id = None  # never stop early: compare all GREEDY_TOKENS
        theirs = hf.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=GREEDY_TOKENS,
            do_sample=False,
            pad_token_id=0,
        )
        mine = ours.generate_greedy(prompt, GREEDY_TOKENS)
        equal = theirs.shape == mine.shape and bool((theirs == mine).all())
        mismatch = None
        if not equal:
            width = min(theirs.shape[1], mine.shape[1])
            rows = (theirs[:, :width] != mine[:, :width]).any(0).nonzero()
            mismatch = int(rows[0]) - prompt.shape[1] if len(rows) else width - prompt.shape[1]
        if spec.positions.scaling.type == "dynamic":
            # Dynamic NTK rotates cached keys with the base of a shorter length (as
            # transformers' cache does), so the two views agree only up to the native length.
            incremental = incremental_diff(ours, ids[:, : min(n, spec.max_position_embeddings)])
        else:
            incremental = incremental_diff(ours, ids)
    dca_diff = None
    if spec.long_context.dual_chunk is not None:
        dca_diff = check_one_chunk(ours)
    return CheckResult(type(hf).__name__, batch, n, diff, equal, mismatch, incremental, dca_diff)


def _last_line(exc: BaseException) -> str:
    """transformers' validation errors end with the one line that says what is wrong."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return lines[-1].strip()[:300]


def incremental_diff(model: Any, ids: Any, prefill: int | None = None) -> float:
    """Max |Δ| between full-sequence logits and prefill + one-token-at-a-time decoding."""
    import torch

    prefill = ids.shape[1] // 2 if prefill is None else prefill
    with torch.no_grad():
        full = model(ids)
        cache = model.new_cache()
        steps = [model(ids[:, :prefill], past=cache)]
        steps += [model(ids[:, j : j + 1], past=cache) for j in range(prefill, ids.shape[1])]
    return float((torch.cat(steps, dim=1) - full).abs().max())


def _check_chatglm(folder: Path) -> str:
    import torch

    from .checkpoint import load_reference

    native, chatglm = load_reference(folder), load_reference(folder / "chatglm")
    ids = torch.randint(0, native.spec.vocab_size, (2, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff = float((native(ids) - chatglm(ids)).abs().max())
    return f"  chatglm/ layout read back through the mapping: max |Δlogits| {diff:.2e} vs the native folder"


# --- meta --------------------------------------------------------------------------------------


def meta_counts(spec: ArchSpec) -> dict[str, int | None]:
    """Parameter counts of the reference and of transformers' class, both built on the
    meta device (no memory for weights), beside the accounting's."""
    import torch

    from .reference import ReferenceModel

    with torch.device("meta"):
        reference = ReferenceModel(spec).model_parameters()
    try:
        config = spec_to_hf(spec)
    except ModelkinError:
        theirs = None  # no transformers-native form (e.g. LayerNorm GLM): nothing to compare with
    else:
        import transformers
        from transformers import AutoConfig, AutoModelForCausalLM

        transformers.utils.logging.set_verbosity_error()
        try:
            hf_config = AutoConfig.for_model(**config)
        except Exception as exc:  # transformers' own validation (e.g. hidden not a multiple of heads)
            raise ModelkinError("transformers", f"rejects this config: {_last_line(exc)}") from None
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(hf_config)
        theirs = sum(p.numel() for p in model.parameters())
    return {"accounting": params_total(spec), "reference": reference, "transformers": theirs}


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def meta_report(spec: ArchSpec) -> tuple[list[str], bool]:
    counts = meta_counts(spec)
    expected = counts["accounting"]
    ok = all(v is None or v == expected for v in counts.values())
    theirs = (
        f"{counts['transformers']:,}" if counts["transformers"] is not None else "n/a (no transformers-native form)"
    )
    lines = [
        f"meta device: reference {counts['reference']:,} parameters, transformers {theirs}, "
        f"accounting {expected:,}: {'equal' if ok else 'DIFFERENT'}",
        f"  peak RSS {peak_rss_bytes() / 2**20:,.0f} MiB",
    ]
    return lines, ok
