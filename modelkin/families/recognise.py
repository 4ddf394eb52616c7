"""Configs published without the keys a reader dispatches on, recognised from what they do say.

Early ChatGLM2 revisions on the Hub carry no `model_type`; their `architectures`
(`ChatGLMModel`) and `auto_map` (`configuration_chatglm.ChatGLMConfig`) name the family.
Those names are read as strings only: remote code is never imported.

The first ChatGLM-6B (`model_type` chatglm without `padded_vocab_size`) is a different
architecture from ChatGLM2 on: GLM blocks with DeepNorm-style residual scaling around
LayerNorm, 2-D RoPE and a GeLU MLP. It is named, not misread as ChatGLM2.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidSpec

# Architecture class names and remote-code module names -> the model_type they imply.
_ARCHITECTURES = {"ChatGLMModel": "chatglm", "ChatGLMForConditionalGeneration": "chatglm"}
_AUTO_MAP_MODULES = {"configuration_chatglm": "chatglm", "modeling_chatglm": "chatglm"}

FIRST_CHATGLM = (
    "is the first ChatGLM-6B (model_type 'chatglm' without padded_vocab_size: GLM blocks with DeepNorm-style "
    "residual scaling around LayerNorm, 2-D RoPE and a GeLU MLP); modelkin supports ChatGLM2 and later"
)


def implied_model_type(config: dict[str, Any]) -> str | None:
    """The model_type `architectures` or `auto_map` imply, or None."""
    architectures = config.get("architectures")
    if isinstance(architectures, list):
        for name in architectures:
            if isinstance(name, str) and name in _ARCHITECTURES:
                return _ARCHITECTURES[name]
    auto_map = config.get("auto_map")
    if isinstance(auto_map, dict):
        for value in auto_map.values():
            names = value if isinstance(value, list) else [value]
            for name in names:
                if isinstance(name, str):
                    module = name.split("--")[-1].split(".")[0]
                    if module in _AUTO_MAP_MODULES:
                        return _AUTO_MAP_MODULES[module]
    return None


def check_first_chatglm(config: dict[str, Any], where: str) -> None:
    if "padded_vocab_size" not in config and ("vocab_size" in config or "position_encoding_2d" in config):
        raise InvalidSpec(where, FIRST_CHATGLM)
