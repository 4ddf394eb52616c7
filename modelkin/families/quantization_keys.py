"""The keys by which a checkpoint states a quantization, apart from `quantization.py` so that
reading an unquantized config.json never imports that module's tables (issue 16: it was a
tenth of `inspect`'s start-up)."""

from __future__ import annotations

from typing import Any

CONFIG_KEYS = frozenset({"quantization_config", "quantization", "compression_config"})


def may_state_quantization(config: dict[str, Any] | None, hf_quant_config: Any = None) -> bool:
    """False when `quantization.read_quantization` would surely find nothing (no key of its at all)."""
    return hf_quant_config is not None or bool(CONFIG_KEYS & (config or {}).keys())
