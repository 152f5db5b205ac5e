"""Masked fine-tuning (Section 3.3): continue training the Multilingual model on all pairs, each
example seeing only its pair's neurons (general + its specific ones), with a fresh optimizer.

Mixed batches by default: every example multiplies each site's output by its own pair's mask,
gathered on the device from the pairs x width table, so every update sees every pair, as the
authors' fairseq task did with one micro-batch per pair. Inactive neurons contribute exactly zero
gradient to the weights that produce them; with ``strict`` the optimizer also leaves every
parameter that got no gradient untouched (plain Adam would move it through its momentum).
"""

from __future__ import annotations

import logging

import torch

from .fileio import sha256sum
from .masking import MaskTable, load_masks
from .model import ModelConfig
from .checkpoint import pick_device
from .train import Trainer, TrainConfig

log = logging.getLogger(__name__)


def finetune_config(train: dict, finetune: dict) -> TrainConfig:
    """The fine-tuning settings: the training ones, overridden by the finetune section."""
    return TrainConfig.from_dict({**train, **finetune})


def run_finetune(model: dict, train: dict, finetune: dict, data_dir: str, raw_dir: str, pairs: list[str],
                 out_dir: str, init: str, masks: str | None, threads: int = 1) -> None:
    """Entry point of the finetune rule (``masks`` None: the same schedule without masks)."""
    torch.set_num_threads(max(1, threads))
    cfg = finetune_config(train, finetune)
    table = None
    if masks is not None:
        _, pair_masks, meta = load_masks(masks, pairs)
        table = MaskTable(pair_masks, pairs, pick_device(cfg.device))
        log.info("masks %s (%s): each pair keeps %.1f%% of the neurons on average", masks, meta, 100 * table.active_share())
    trainer = Trainer(ModelConfig(vocab_size=0, **model), cfg, data_dir, raw_dir, pairs, out_dir, init_from=init,
                      masks_for=table, fingerprint_extra=sha256sum(masks) if masks else "")
    trainer.train()
