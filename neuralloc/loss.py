"""The training loss: label-smoothed cross-entropy over non-pad target tokens (fairseq's
``label_smoothed_cross_entropy``), shared by training, validation and importance."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def label_smoothed_loss(logits: torch.Tensor, target: torch.Tensor, eps: float, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(label-smoothed loss, NLL), both summed over non-pad target tokens."""
    flat_logits, flat_target = logits.reshape(-1, logits.size(-1)).float(), target.reshape(-1)
    loss = F.cross_entropy(flat_logits, flat_target, ignore_index=pad, reduction="sum", label_smoothing=eps)
    nll = F.cross_entropy(flat_logits, flat_target, ignore_index=pad, reduction="sum")
    return loss, nll
