"""Mixture of experts: the routed experts of an "moe" layer, their router and the shared expert.

A layer whose MLP kind is "moe" (see `ArchSpec.mlp_kind`) replaces the dense
`mlp` block by `num_experts` small gated MLPs of width `intermediate_size`, of
which a router picks `experts_per_token` for each token, plus an optional
shared expert every token passes through. The four published routers differ in
a handful of choices, each a field here:

- Qwen2-MoE / Qwen3-MoE: softmax over all experts, top-k, renormalised when
  `normalize` (Qwen3) or not (Qwen2); Qwen2-MoE's shared expert is scaled by
  sigmoid(shared_expert_gate(x)).
- GLM-4.5: sigmoid scores; the choice adds a learned per-expert bias
  (`e_score_correction_bias`, a stored tensor) and may first keep the best
  `groups_per_token` of `num_groups` expert groups; the chosen experts' weights
  are the unbiased scores, renormalised, times `scaling_factor`.
- Llama 4: top-k on the raw logits, weight = sigmoid(logit), and the weight
  scales the expert's *input* (`weight_applied_to` "input"), not its output.
"""

from __future__ import annotations

from typing import Literal

from .strict import Field, PositiveFloat, PositiveInt, Strict, model_validator


class Router(Strict):
    scoring: Literal["softmax", "sigmoid"]
    normalize: bool = Field(description="renormalise the chosen experts' weights to sum to 1 (norm_topk_prob)")
    correction_bias: bool = Field(
        default=False, description="a learned per-expert bias added to the scores for the choice only"
    )
    num_groups: PositiveInt = 1
    groups_per_token: PositiveInt = 1
    scaling_factor: PositiveFloat = 1.0
    weight_applied_to: Literal["output", "input"] = "output"

    @model_validator(mode="after")
    def _groups(self) -> Router:
        if self.groups_per_token > self.num_groups:
            raise ValueError(
                f"moe.router.groups_per_token ({self.groups_per_token}) exceeds num_groups ({self.num_groups})"
            )
        return self


class SharedExpert(Strict):
    """A gated MLP every token passes through beside the routed experts. `gate`: Qwen2-MoE's
    sigmoid(shared_expert_gate(x)) scales its output."""

    intermediate_size: PositiveInt = Field(le=16_777_216)
    gate: bool = False


class Moe(Strict):
    num_experts: PositiveInt = Field(le=65_536)
    experts_per_token: PositiveInt
    intermediate_size: PositiveInt = Field(le=16_777_216, description="width of one routed expert")
    router: Router
    shared_expert: SharedExpert | None = None

    @model_validator(mode="after")
    def _sizes(self) -> Moe:
        if self.experts_per_token > self.num_experts:
            raise ValueError(
                f"moe.experts_per_token ({self.experts_per_token}) exceeds num_experts ({self.num_experts})"
            )
        if self.num_experts % self.router.num_groups:
            raise ValueError(
                f"moe.num_experts ({self.num_experts}) must be a multiple of router.num_groups "
                f"({self.router.num_groups})"
            )
        groups_experts = self.num_experts // self.router.num_groups * self.router.groups_per_token
        if self.experts_per_token > groups_experts:
            raise ValueError("moe.experts_per_token exceeds the experts of the groups a token may use")
        return self
