"""Projection heads, used for the contrastive objective and dropped after pretraining."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ProjectionHead(nn.Module):
    """Linear -> BatchNorm1d -> ReLU -> Linear, then L2 normalisation."""

    def __init__(self, in_dim: int, hidden_dim: int = 2048, out_dim: int = 512) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden_dim)
        self.bn = nn.BatchNorm1d(hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, out_dim)
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc2(F.relu(self.bn(self.fc1(x))))
        return F.normalize(x, dim=-1)
