"""Will it fit? Memory per GPU for serving and fine-tuning, from the spec alone (pure Python).

Every count comes from `accounting` (parameters per component from the layout,
KV-cache bytes with each layer kind's span); this module only splits them over
GPUs and adds what a runtime or an optimizer holds besides. Each figure is
returned as a `Term` carrying its formula and the formula with this model's
numbers substituted, so `--explain`, the table and the JSON show the same thing.

Serving follows vLLM's arithmetic (vllm/v1/worker/gpu_worker.py, 0.19):
    KV budget = utilisation × GPU memory − weights − activation peak − non-torch memory
    GPU KV cache size (tokens) = ⌊KV budget / (block_size × KV bytes per token)⌋ × block_size
with the tensor-parallel rules of vLLM's parallel layers (stated in `TP_RULES`).

Fine-tuning: AdamW in mixed precision keeps 2 + 2 + 12 = 16 bytes per trained
parameter (bf16 weights and gradients; fp32 master copy, first and second moments),
sharded by ZeRO stage over the data-parallel GPUs exactly as Rajbhandari et al.
2020 (Fig. 1) write it. Activations follow Korthikanti et al. 2022 ("Reducing
Activation Recomputation in Large Transformer Models", §4), generalised from
their GPT (MHA, 4h GeLU MLP, dropout) to GQA and gated MLPs term by term.
"""

from .dtypes import KV_DTYPES, WEIGHT_SCHEMES, kv_bytes, kv_bytes_per_token, weight_scheme
from .finetune import (
    DEFAULT_FINETUNE_CONTEXT,
    LORA_MODULES,
    FinetuneRequest,
    LayerShape,
    activation_terms,
    lora_params,
    plan_finetune,
    zero_model_states,
)
from .parallel import Parallel, check_parallel, split_model
from .serving import DEFAULT_UTILIZATION, ServeRequest, fewest_gpus_serving, memory_vs_context, plan_serving
from .terms import GIB, Hardware, Plan, Term, plan_json

__all__ = [
    "DEFAULT_FINETUNE_CONTEXT",
    "DEFAULT_UTILIZATION",
    "GIB",
    "KV_DTYPES",
    "LORA_MODULES",
    "WEIGHT_SCHEMES",
    "FinetuneRequest",
    "Hardware",
    "LayerShape",
    "Parallel",
    "Plan",
    "ServeRequest",
    "Term",
    "activation_terms",
    "check_parallel",
    "fewest_gpus_serving",
    "kv_bytes",
    "kv_bytes_per_token",
    "lora_params",
    "memory_vs_context",
    "plan_finetune",
    "plan_json",
    "plan_serving",
    "split_model",
    "weight_scheme",
    "zero_model_states",
]
