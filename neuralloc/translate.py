"""Translate encoded source text with a trained model; hypotheses in input order, post-processed
back to raw text (BPE removed, joiner-aware detokenization, optional detruecasing). And
``translate_text``: new raw text through the workflow's own preprocessing and the same path
(``neuralloc translate``)."""

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
from .systems import erasure_of
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
    n = len(data.src[p].lengths[:limit])
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
                    threads: int = 1, max_tokens: int | str = "auto", all_pairs: list[str] | None = None) -> None:
    """Entry point of the translate rule: every pair of one system and split, hypotheses in input
    order. ``sources`` (encoded ``.tokens.npy``) and ``outputs`` follow ``pairs``; ``checkpoints``
    holds one model for every pair, or one per pair (Individual); each is loaded once. With
    ``masks`` (a Method system) each pair's neuron mask is applied, after zeroing the neurons that
    ``erase`` ({"erase": "general" or a pair, "fraction", "seed"}) picks. ``max_tokens`` sets the
    batch size only ("auto": ``AUTO_MAX_TOKENS`` of the device). ``all_pairs``: every pair of the
    masks' allocation, when ``pairs`` are some of them (an erasure run draws from all)."""
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
            general, pair_masks, _ = load_masks(masks, all_pairs or pairs, model.site_widths())
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


class TranslateError(ValueError):
    """A system, pair, seed or file that the experiment does not have; the message says what it has."""


def translate_text(exp: str, system: str, pair: str, lines: list[str], seed: int | None = None,
                   threads: int = 1, max_tokens: int | str = "auto") -> list[str]:
    """Raw source ``lines`` of ``pair`` translated by ``system`` of the experiment ``exp`` (its
    first training seed unless ``seed``): the normalization, Moses tokenization (and word
    segmentation), truecasing and BPE of the workflow's text stages, then ``translate_split`` with
    the system's model(s), its masks for a Method system, and post-processing."""
    import json
    import tempfile

    from . import bpe as bpe_lib
    from . import design, layout
    from .binarized import write_indexed
    from .fileio import read_lines, write_lines
    from .languages import Pair
    from .tokenization import tokenize_lines, truecase_lines

    recipe_path = layout.translation_recipe(exp)
    if not Path(recipe_path).exists():
        raise TranslateError(f"{recipe_path} not found: is {exp} an experiment directory the workflow built "
                             "(run it once, or `snakemake {recipe_path}`)?")
    with open(recipe_path) as f:
        recipe = json.load(f)
    if pair not in recipe["pairs"]:
        raise TranslateError(f"pair {pair!r} is not one of {exp}'s pairs (allowed: {', '.join(recipe['pairs'])})")
    seeds = sorted(int(p.name[len("seed"):]) for p in Path(exp).glob("seed[0-9]*") if p.is_dir())
    seed = (seeds[0] if seeds else 1) if seed is None else seed
    if seed not in seeds:
        raise TranslateError(f"{exp} has no trained seed {seed} (it has: {', '.join(map(str, seeds)) or 'none'})")
    run = layout.run(exp, seed)
    translated = sorted(p.name for p in Path(run, "translations").glob("*") if p.is_dir())
    if system not in translated:
        raise TranslateError(f"system {system!r} is not one of the systems {run} translated "
                             f"(allowed: {', '.join(translated) or 'none yet: run the workflow'})")
    files = design.translation_files(run, system, recipe["pairs"])
    checkpoints = files["checkpoints"]
    if len(checkpoints) > 1:  # Individual: the pair's own model
        checkpoints = [checkpoints[recipe["pairs"].index(pair)]]
    needed = checkpoints + [files["masks"]] if "masks" in files else checkpoints
    missing = [p for p in needed + [layout.vocab(exp), layout.bpe_codes(exp)] if not Path(p).exists()]
    if missing:
        raise TranslateError(f"{system} is not trained yet in {run}: missing {', '.join(missing)} "
                             f"(run the workflow, or `snakemake {missing[0]}`)")
    src = Pair.parse(pair).src
    pre = recipe["preprocess"]
    text = tokenize_lines(lines, src, pre["normalize_punct"], threads)
    if pre["truecase"]:
        text = truecase_lines(text, layout.truecaser(exp, src), threads)
    text = bpe_lib.apply(bpe_lib.load_bpe(layout.bpe_codes(exp), layout.bpe_vocab(exp, src), recipe["bpe_threshold"]),
                         text)
    vocabulary = Vocabulary.load(layout.vocab(exp))
    with tempfile.TemporaryDirectory(prefix="neuralloc-translate-") as tmp:
        source, out = f"{tmp}/input.tokens.npy", f"{tmp}/output.txt"
        write_indexed(source, [vocabulary.encode(line) for line in text])
        translate_split([pair], checkpoints, layout.vocab(exp), [source], [out], recipe["decode"],
                        detruecase=pre["truecase"], masks=files.get("masks"), erase=erasure_of(system), threads=threads,
                        max_tokens=max_tokens, all_pairs=recipe["pairs"])
        return read_lines(out)
