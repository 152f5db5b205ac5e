"""Translate encoded source text with a trained model; hypotheses in input order, post-processed
back to raw text (BPE removed, joiner-aware detokenization, optional detruecasing)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import torch

from .checkpoint import load_for_inference
from .data import ParallelData, inference_batches, pair_ids
from .decoding import decode
from .fileio import write_lines
from .logs import progress as bar
from .masking import MaskTable, check_masks_of_checkpoint, erase_neurons, load_masks
from .model import NO_SITES, SiteContext, Transformer, context_maker
from .tokenization import postprocess
from .vocab import Vocabulary

log = logging.getLogger(__name__)
# decode.max_tokens "auto": source tokens x beam per batch on each kind of device (a GPU wants
# large batches to be busy; on a CPU larger ones gain nothing and cost memory)
AUTO_MAX_TOKENS = {"cuda": 64000, "cpu": 8000}


@torch.no_grad()
def translate_data(model: Transformer, data: ParallelData, p: int, vocab: Vocabulary, device,
                   beam: int = 4, lenpen: float = 0.6, max_len_a: float = 1.2, max_len_b: int = 10,
                   max_tokens: int = 8000, context_for: Callable[[torch.Tensor], SiteContext] | None = None,
                   limit: int | None = None, detruecase: bool = False, progress: bool | str = False,
                   bf16: bool = False, min_len: int = 1) -> list[str]:
    """Post-processed translations of pair ``p``'s sources (the first ``limit`` of them);
    ``context_for`` (see ``model.context_maker``) gives the SiteContext of a batch's pair ids.
    ``bf16``: autocast on CUDA (beam scores stay fp32); ignored on the CPU."""
    was_training = model.training
    model.eval()
    device_type = torch.device(device).type
    batches = inference_batches(data, p, max_tokens // max(beam, 1), limit)
    n = len(data.src[p][:limit])
    out: list[str | None] = [None] * n
    label = progress if isinstance(progress, str) else data.pairs[p]
    for items in bar(batches, desc=label, disable=not progress or None):
        host = data.collate(items)  # pair ids and positions on the host: no read-back
        ctx = context_for(pair_ids(items)) if context_for else NO_SITES
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16 and device_type == "cuda"):
            hyps = decode(model, host.src.to(device), vocab.bos, vocab.eos, ctx, beam, lenpen, max_len_a, max_len_b,
                          min_len)
        for (_, i), ids in zip(items, hyps):
            out[i] = postprocess(vocab.decode(ids), detruecase)
    model.train(was_training)
    return [o if o is not None else "" for o in out]


def translate_split(pairs: list[str], checkpoints: list[str], vocab: str, sources: list[str], outputs: list[str],
                    decode: dict, detruecase: bool = False, masks: str | None = None, erase: dict | None = None,
                    threads: int = 1, max_tokens: int | str = "auto") -> None:
    """Entry point of the translate rule: every pair of one system and split, hypotheses in input
    order. ``sources`` (encoded ``.tokens.npy``) and ``outputs`` follow ``pairs``; ``checkpoints``
    holds one model for every pair, or one per pair (Individual); each is loaded once. With
    ``masks`` (a Method system) each pair's neuron mask is applied, after zeroing the neurons that
    ``erase`` ({"erase": "general" or a pair, "fraction", "seed"}) picks. ``max_tokens`` sets the
    batch size only ("auto": ``AUTO_MAX_TOKENS`` of the device)."""
    if len(checkpoints) not in (1, len(pairs)):
        raise ValueError(f"{len(checkpoints)} checkpoints for {len(pairs)} pairs: give one, or one per pair")
    checkpoints = list(checkpoints) * len(pairs) if len(checkpoints) == 1 else list(checkpoints)
    opts = {k: decode[k] for k in ("beam", "lenpen", "max_len_a", "max_len_b", "min_len", "bf16") if k in decode}
    pair_masks = None
    loaded = None
    for pair, checkpoint, source, out in zip(pairs, checkpoints, sources, outputs):
        if loaded is None or loaded[0] != checkpoint:
            loaded = (checkpoint, *load_for_inference(checkpoint, vocab, threads))
        _, model, vocabulary, device, record = loaded
        batch_tokens = AUTO_MAX_TOKENS.get(device.type, AUTO_MAX_TOKENS["cpu"]) if max_tokens == "auto" else int(max_tokens)
        if masks is not None and pair_masks is None:  # a Method system: one model, checked against its sites
            general, pair_masks, _ = load_masks(masks, pairs, model.site_widths())
            check_masks_of_checkpoint(masks, checkpoint, record)
            if erase:
                which = None if erase["erase"] == "general" else erase["erase"]
                pair_masks = erase_neurons(general, pair_masks, float(erase["fraction"]), int(erase["seed"]), which)
        data = ParallelData([pair], [source], None, vocabulary, model.cfg.max_positions)
        masks_for = MaskTable(pair_masks, [pair], device) if pair_masks is not None else None
        context_for = context_maker(model.cfg, [pair], masks_for, device)
        name = f"{Path(out).parent.name} {Path(out).stem}"  # translations/{system}/{split}.{pair}.txt
        hyps = translate_data(model, data, 0, vocabulary, device, detruecase=detruecase, progress=name,
                              context_for=context_for, max_tokens=batch_tokens, **opts)
        write_lines(out, hyps)
        log.info("%s: %d sentences of %s translated with %s", pair, len(hyps), source, checkpoint)
