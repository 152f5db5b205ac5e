"""Greedy and beam-search decoding with an incremental key/value cache.

Beam search follows fairseq's ``SequenceGenerator``: at each step the 2·beam best candidates are
ranked; those that end in EOS among the first ``beam`` are finalized with the score
``sum log p / len ** lenpen`` (len counts EOS), the best ``beam`` others go on; a sentence is done
when it has ``beam`` finished hypotheses. With beam 1 this is exactly greedy decoding. As in
fairseq (``--min-len``, default 1), EOS cannot be chosen before ``min_len`` tokens, so no
hypothesis is empty; the length limit wins where the two meet. Sentences that are done leave the
batch (fairseq's batch reduction), so the last steps of a batch run on its longest sentences only.
The output projection and the softmax run in fp32 under bf16 autocast: bf16 logits change which
token wins (docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .model import NO_SITES, SiteContext, Transformer


def _max_lengths(src: Tensor, pad: int, a: float, b: int, limit: int) -> Tensor:
    n = src.ne(pad).sum(1)
    return torch.clamp((a * n.float() + b).long(), min=1, max=limit)


def _step_logprobs(model: Transformer, tok: Tensor, memory, mask, ctx, cache, t: int, bos: int, eos: int,
                   min_len: int) -> Tensor:
    """Log-probabilities of the next token; padding and BOS are never produced, EOS not before
    ``min_len`` tokens (fairseq blocks it after the softmax too)."""
    logits = model.decode(tok, memory, mask, ctx, cache, offset=t, fp32_logits=True)[:, -1]
    logits[:, model.cfg.pad_id] = float("-inf")
    logits[:, bos] = float("-inf")
    lprobs = torch.log_softmax(logits, -1)
    if t < min_len:
        lprobs[:, eos] = float("-inf")
    return lprobs


def _new_cache(model: Transformer) -> list[dict]:
    return [{} for _ in model.decoder.layers]


def _reorder_cache(cache: list[dict], order: Tensor, keys=("self",)) -> None:
    """Rows of the cached keys/values in ``order`` (beams move: the self-attention's; sentences
    leave: every entry's)."""
    for layer in cache:
        for key, (k, v) in layer.items():
            if key in keys:
                layer[key] = (k.index_select(0, order), v.index_select(0, order))


@torch.no_grad()
def greedy(model: Transformer, src: Tensor, bos: int, eos: int, ctx: SiteContext = NO_SITES,
           max_len_a: float = 1.2, max_len_b: int = 10, min_len: int = 1) -> list[list[int]]:
    """Arg-max decoding; returns token ids without BOS/EOS for each row of ``src``."""
    pad = model.cfg.pad_id
    memory, mask = model.encode(src, ctx)
    limit = model.cfg.max_positions
    max_len = _max_lengths(src, pad, max_len_a, max_len_b, limit)
    cache = _new_cache(model)
    tok = torch.full((src.size(0), 1), bos, dtype=torch.long, device=src.device)
    out = torch.full((src.size(0), int(max_len.max())), pad, dtype=torch.long, device=src.device)
    done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
    for t in range(int(max_len.max())):
        nxt = _step_logprobs(model, tok, memory, mask, ctx, cache, t, bos, eos, min_len).argmax(-1)
        nxt = torch.where(t + 1 >= max_len, torch.full_like(nxt, eos), nxt)
        nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
        out[:, t] = nxt
        done |= nxt.eq(eos)
        if bool(done.all()):
            break
        tok = nxt.unsqueeze(1)
    return [[int(x) for x in row if x not in (eos, pad)] for row in out.tolist()]


@torch.no_grad()
def beam_search(model: Transformer, src: Tensor, bos: int, eos: int, ctx: SiteContext = NO_SITES,
                beam: int = 4, lenpen: float = 0.6, max_len_a: float = 1.2, max_len_b: int = 10,
                min_len: int = 1) -> list[list[int]]:
    """Best hypothesis per row of ``src`` (token ids without BOS/EOS)."""
    pad, n, dev = model.cfg.pad_id, src.size(0), src.device
    memory, mask = model.encode(src, ctx)
    memory, mask = memory.repeat_interleave(beam, 0), mask.repeat_interleave(beam, 0)
    bctx = ctx.expand(beam)
    max_len = _max_lengths(src, pad, max_len_a, max_len_b, model.cfg.max_positions)
    limits = np.asarray(max_len.tolist())  # read once: no host sync per step for the limits
    steps = int(limits.max())
    cache = _new_cache(model)
    tokens = torch.full((n * beam, 1), bos, dtype=torch.long, device=dev)
    scores = torch.full((n, beam), float("-inf"), device=dev)
    scores[:, 0] = 0.0  # all beams start identical: keep one alive
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(n)]
    active = np.arange(n)  # the sentences still searched; row r of the tensors below is active[r]
    for t in range(steps):
        lprobs = _step_logprobs(model, tokens[:, -1:], memory, mask, bctx, cache, t, bos, eos, min_len)
        vocab = lprobs.size(-1)
        if t + 1 >= limits[active].min():  # a sentence at its last allowed step can only end
            at_limit = (t + 1 >= max_len).repeat_interleave(beam).unsqueeze(1)
            only_eos = torch.full_like(lprobs, float("-inf"))
            only_eos[:, eos] = 0.0 if t < min_len else lprobs[:, eos]  # the limit wins over min_len
            lprobs = torch.where(at_limit, only_eos, lprobs)
        m = len(active)
        cand = (scores.view(-1, 1) + lprobs).view(m, beam * vocab)
        top_scores, top_idx = cand.topk(2 * beam, dim=1)
        top_beam, top_tok = top_idx // vocab, top_idx % vocab
        is_eos = top_tok.eq(eos) & top_scores.ne(float("-inf"))
        base = (torch.arange(m, device=dev) * beam).unsqueeze(1)
        # finalize EOS candidates among the first `beam`
        fin = is_eos[:, :beam]
        if bool(fin.any()):
            rows, cols = fin.nonzero(as_tuple=True)
            hist = tokens[(base.squeeze(1)[rows] + top_beam[rows, cols])].tolist()
            for r, c, h, s in zip(rows.tolist(), cols.tolist(), hist, top_scores[rows, cols].tolist()):
                if len(finished[active[r]]) < beam:
                    finished[active[r]].append((s / ((t + 1) ** lenpen), h[1:]))
        going = np.array([len(finished[i]) < beam for i in active])
        if not going.any() or t + 1 == steps:
            break
        # the best `beam` non-EOS candidates go on
        rank = torch.where(is_eos, 2 * beam, 0) + torch.arange(2 * beam, device=dev)
        keep = rank.argsort(dim=1)[:, :beam]
        sel_beam, sel_tok = top_beam.gather(1, keep), top_tok.gather(1, keep)
        scores = top_scores.gather(1, keep)
        order = (base + sel_beam).view(-1)
        tokens = torch.cat([tokens.index_select(0, order), sel_tok.view(-1, 1)], dim=1)
        _reorder_cache(cache, order)
        if not going.all():  # done sentences leave the batch
            kept = np.flatnonzero(going)
            rows = (kept[:, None] * beam + np.arange(beam)).reshape(-1)
            kept_t, rows_t = (torch.from_numpy(a).to(dev) for a in (kept, rows))
            active, scores, max_len = active[kept], scores.index_select(0, kept_t), max_len.index_select(0, kept_t)
            tokens, memory, mask = (x.index_select(0, rows_t) for x in (tokens, memory, mask))
            _reorder_cache(cache, rows_t, keys=("self", "cross"))
            bctx = bctx.select(rows)
    return [max(f, key=lambda x: x[0])[1] if f else [] for f in finished]


def decode(model: Transformer, src: Tensor, bos: int, eos: int, ctx: SiteContext = NO_SITES,
           beam: int = 4, lenpen: float = 0.6, max_len_a: float = 1.2, max_len_b: int = 10,
           min_len: int = 1) -> list[list[int]]:
    """Beam search, or greedy decoding when ``beam`` is 1."""
    if beam == 1:
        return greedy(model, src, bos, eos, ctx, max_len_a, max_len_b, min_len)
    return beam_search(model, src, bos, eos, ctx, beam, lenpen, max_len_a, max_len_b, min_len)
