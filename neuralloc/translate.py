"""Translate encoded source text with a trained model; hypotheses in input order, post-processed
back to raw text (BPE removed, joiner-aware detokenization, optional detruecasing)."""

from __future__ import annotations

import logging
from typing import Callable

import torch
from tqdm import tqdm

from .checkpoint import load_for_inference
from .data import ParallelData, inference_batches
from .decoding import decode
from .fileio import write_lines
from .masking import MaskTable, erase_neurons, load_masks
from .model import NO_SITES, SiteContext, Transformer
from .tokenization import postprocess
from .vocab import Vocabulary

log = logging.getLogger(__name__)


@torch.no_grad()
def translate_data(model: Transformer, data: ParallelData, p: int, vocab: Vocabulary, device,
                   beam: int = 4, lenpen: float = 0.6, max_len_a: float = 1.2, max_len_b: int = 10,
                   max_tokens: int = 8000, masks_for: Callable[[torch.Tensor], SiteContext] | None = None,
                   limit: int | None = None, detruecase: bool = False, progress: bool = False) -> list[str]:
    """Post-processed translations of pair ``p``'s sources (the first ``limit`` of them)."""
    was_training = model.training
    model.eval()
    batches = inference_batches(data, p, max_tokens // max(beam, 1))
    if limit is not None:
        batches = [[it for it in b if it[1] < limit] for b in batches]
        batches = [b for b in batches if b]
    n = limit if limit is not None else len(data.src[p])
    out: list[str | None] = [None] * n
    for items in tqdm(batches, desc=data.pairs[p], disable=not progress or None):
        b = data.collate(items).to(device)
        ctx = masks_for(b.pair) if masks_for else NO_SITES
        hyps = decode(model, b.src, vocab.bos, vocab.eos, ctx, beam, lenpen, max_len_a, max_len_b)
        for i, ids in zip(b.index.tolist(), hyps):
            out[i] = postprocess(vocab.decode(ids), detruecase)
    model.train(was_training)
    return [o if o is not None else "" for o in out]


def translate_split(checkpoint: str, data_dir: str, split: str, pair: str, out: str, decode: dict,
                    detruecase: bool = False, masks: str | None = None, erase: dict | None = None,
                    threads: int = 1) -> None:
    """Entry point of the translate rule: one pair and split, hypotheses in input order; with
    ``masks`` (a Method system) the pair's neuron mask is applied, after zeroing the neurons that
    ``erase`` ({"erase": "general" or a pair, "fraction", "seed"}) picks."""
    model, vocab, device = load_for_inference(checkpoint, data_dir, threads)
    data = ParallelData(data_dir, split, [pair], vocab, model.cfg.max_positions, with_target=False)
    opts = {k: decode[k] for k in ("beam", "lenpen", "max_len_a", "max_len_b", "max_tokens")}
    masks_for = None
    if masks is not None:
        general, pair_masks, _ = load_masks(masks)
        if erase:
            which = None if erase["erase"] == "general" else erase["erase"]
            pair_masks = erase_neurons(general, pair_masks, float(erase["fraction"]), int(erase["seed"]), which)
        masks_for = MaskTable(pair_masks, [pair], device)
    hyps = translate_data(model, data, 0, vocab, device, detruecase=detruecase, progress=True, masks_for=masks_for, **opts)
    write_lines(out, hyps)
    log.info("%s %s: %d sentences translated with %s", pair, split, len(hyps), checkpoint)
