"""The training loss: label-smoothed cross-entropy over non-pad target tokens, shared by training,
validation (``eps`` 0: the NLL) and importance. PyTorch's smoothing: (1 - eps) * NLL + eps * the
mean of -log p over the vocabulary."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def label_smoothed_loss(logits: torch.Tensor, target: torch.Tensor, eps: float, pad: int) -> torch.Tensor:
    """The label-smoothed loss summed over non-pad target tokens (the NLL when ``eps`` is 0), in fp32
    whatever the logits' dtype: one log-softmax, one graph."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), target.reshape(-1), ignore_index=pad,
                           reduction="sum", label_smoothing=eps)
