"""The mixture-of-experts block of the reference model, configured by `spec.moe`.

Attribute names are the published checkpoints' (see `layout`): the router is
`gate` (Qwen, GLM; GLM's also holds the `e_score_correction_bias` buffer) or
`router` (Llama 4); the routed experts are one module per expert
(`experts.{j}.gate_proj`, ...) or, for Llama 4, two fused 3-D parameters
(`experts.gate_up_proj` [E, h, 2w], `experts.down_proj` [E, w, h]); the shared
expert is `shared_expert` (`shared_experts` for GLM) with Qwen2-MoE's
`shared_expert_gate`.

Routing follows transformers 5.24 operation by operation (module docstring of
`families/moe.py` lists the four rules), computed in fp32 like GLM's router.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..families.moe import Moe


class GatedMlp(nn.Module):
    """act(gate(x)) * up(x) -> down: one expert, or the shared expert."""

    def __init__(self, hidden: int, width: int, act) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(hidden, width, bias=False)
        self.up_proj = nn.Linear(hidden, width, bias=False)
        self.down_proj = nn.Linear(width, hidden, bias=False)
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


class Router(nn.Module):
    def __init__(self, moe: Moe, hidden: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(moe.num_experts, hidden))
        if moe.router.correction_bias:
            self.register_buffer("e_score_correction_bias", torch.zeros(moe.num_experts))


class FusedExperts(nn.Module):
    """Llama 4's experts as two 3-D parameters, input dimension first."""

    def __init__(self, moe: Moe, hidden: int, act) -> None:
        super().__init__()
        e, w = moe.num_experts, moe.intermediate_size
        self.gate_up_proj = nn.Parameter(torch.zeros(e, hidden, 2 * w))
        self.down_proj = nn.Parameter(torch.zeros(e, w, hidden))
        self.act = act

    def expert(self, j: int, x: Tensor) -> Tensor:
        gate, up = (x @ self.gate_up_proj[j]).chunk(2, dim=-1)
        return (self.act(gate) * up) @ self.down_proj[j]


class MoeBlock(nn.Module):
    def __init__(self, moe: Moe, hidden: int, act, *, fused: bool, router_name: str, shared_name: str) -> None:
        super().__init__()
        self.moe = moe
        self.router_name = router_name
        self.shared_name = shared_name
        setattr(self, router_name, Router(moe, hidden))
        if fused:
            self.experts: nn.Module = FusedExperts(moe, hidden, act)
        else:
            self.experts = nn.ModuleList(GatedMlp(hidden, moe.intermediate_size, act) for _ in range(moe.num_experts))
        self.fused = fused
        shared = moe.shared_expert
        if shared is not None:
            setattr(self, shared_name, GatedMlp(hidden, shared.intermediate_size, act))
            if shared.gate:
                self.shared_expert_gate = nn.Linear(hidden, 1, bias=False)

    def route(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x [N, h] -> (weights [N, k], expert indices [N, k])."""
        r = self.moe.router
        router = getattr(self, self.router_name)
        k = self.moe.experts_per_token
        logits = F.linear(x.float(), router.weight.float())
        if r.scoring == "softmax":
            weights, chosen = torch.topk(logits.softmax(dim=-1), k, dim=-1)
        elif not r.correction_bias:
            # Llama 4: choose on the logits, weigh by sigmoid of the chosen ones.
            top, chosen = torch.topk(logits, k, dim=-1)
            weights = top.sigmoid()
        else:
            scores = logits.sigmoid()
            choice = scores + router.e_score_correction_bias
            if r.num_groups > 1 or r.groups_per_token < r.num_groups:
                g = r.num_groups
                grouped = choice.view(-1, g, self.moe.num_experts // g)
                group_scores = grouped.topk(min(2, grouped.shape[-1]), dim=-1)[0].sum(dim=-1)
                keep = torch.topk(group_scores, r.groups_per_token, dim=-1, sorted=False)[1]
                mask = torch.zeros_like(group_scores).scatter_(1, keep, 1.0).bool()
                mask = mask[:, :, None].expand_as(grouped).reshape(choice.shape)
                choice = choice.masked_fill(~mask, float("-inf"))
            chosen = torch.topk(choice, k, dim=-1, sorted=False)[1]
            weights = scores.gather(1, chosen)
        if r.normalize:
            weights = weights / (weights.sum(dim=-1, keepdim=True) + (1e-20 if r.correction_bias else 0.0))
        return weights * r.scaling_factor, chosen

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        weights, chosen = self.route(flat)
        weights = weights.to(flat.dtype)
        out = torch.zeros_like(flat)
        on_input = self.moe.router.weight_applied_to == "input"
        for j in chosen.unique().tolist():
            token, slot = torch.where(chosen == j)
            w = weights[token, slot, None]
            xs = flat[token]
            if self.fused:
                y = self.experts.expert(j, xs * w) if on_input else self.experts.expert(j, xs) * w
            else:
                y = self.experts[j](xs * w) if on_input else self.experts[j](xs) * w
            out.index_add_(0, token, y)
        if self.moe.shared_expert is not None:
            shared = getattr(self, self.shared_name)(flat)
            if self.moe.shared_expert.gate:
                shared = torch.sigmoid(self.shared_expert_gate(flat)) * shared
            out = shared + out if on_input else out + shared
        return out.reshape(shape)
