"""Decoding parity with fairseq: copy a neuralloc checkpoint into fairseq's ``transformer``, check
that both give the same teacher-forced log-probabilities, beam-search every test sentence with
both (fairseq's ``SequenceGenerator`` against ``neuralloc.decoding.decode``, the function that
``neuralloc.translate.translate_data`` calls), compare the token ids, explain the differences,
time both, and print a Markdown table.

fairseq is not a dependency of the project: this script runs in a venv of its own and exits with
a message when ``import fairseq`` fails. The venv was made with (CPU wheel of torch 2.13.0;
fairseq-fixed is an sdist whose C++/Cython extensions build against the installed torch, hence
``--no-build-isolation``; ``--no-deps`` because its ``torchaudio>=0.8.0`` requirement would pull a
torchaudio built for another torch, and nothing used here needs torchaudio):

    python3 -m venv /work/fairseq-venv
    /work/fairseq-venv/bin/pip install --upgrade pip
    /work/fairseq-venv/bin/pip install torch==2.13.0
    /work/fairseq-venv/bin/pip install wheel cython numpy
    /work/fairseq-venv/bin/pip install --no-build-isolation --no-deps fairseq-fixed==0.12.3.1
    /work/fairseq-venv/bin/pip install cffi hydra-core==1.3.2 omegaconf==2.3.0 regex sacrebleu tqdm \\
        bitarray scikit-learn packaging sacremoses safetensors PyYAML jsonschema

and the script is run from the repository root as

    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 PYTHONPATH=/work/main /work/fairseq-venv/bin/python \\
        bench/fairseq_parity.py results/bible-demo results/bible-demo/seed1/models/multilingual/checkpoint_best.pt

(``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is what fairseq's own checkpoint loading needs with this
torch; the script sets it itself if absent. It does not weaken neuralloc's loading, which passes
``weights_only=True`` explicitly, and torch honours an explicit argument.)

The conversion: fairseq ``transformer`` (post-norm unless the checkpoint is pre-norm, all
embeddings shared and tied to the output projection, embeddings scaled by sqrt(d_model),
sinusoidal positions, dropout 0). The fairseq Dictionary is built in *our* order
(``<pad>=0, <s>=1, </s>=2, <unk>=3``), so token ids are the same on both sides and no rows are
permuted. fairseq's sinusoidal table differs from ours (it concatenates [sin | cos] with the
frequency exponent over d/2-1, and numbers positions from padding_idx+1; ours interleaves
sin/cos with exponent over d and numbers from 0), so fairseq's table is replaced by ours,
shifted by padding_idx+1.

The comparison runs fairseq four ways, each one step closer to neuralloc's rules, so that every
difference is attributed to one rule:
  F0  fairseq as is, on the same batches as ours;
  F1  max_len_b - 1 (fairseq allows max_len tokens *plus* EOS, ours max_len tokens counting EOS);
  F2  F1 and one sentence per batch (fairseq's max_len = a*src_len+b uses the padded batch width,
      ours each sentence's own length);
  F3  F2 and pad/<s> set to -inf *before* the log-softmax, as neuralloc does (fairseq sets pad
      to -inf after it and never blocks <s>).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
import warnings
from argparse import Namespace
from collections import Counter

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

try:
    import fairseq
    from fairseq.data import Dictionary
    from fairseq.models.transformer import TransformerModel
    from fairseq.sequence_generator import SequenceGenerator
except Exception as e:  # ImportError, or a fairseq built against another torch
    sys.exit(f"bench/fairseq_parity.py needs fairseq (import failed: {type(e).__name__}: {e}).\n"
             "Install it in a venv of its own as this script's docstring says; the project itself never needs it.")

import torch
import torch.nn.functional as F

from neuralloc import layout
from neuralloc.checkpoint import load_model
from neuralloc.data import ParallelData, inference_batches
from neuralloc.decoding import decode
from neuralloc.model import Transformer, sinusoidal_positions
from neuralloc.translate import translate_data
from neuralloc.tokenization import postprocess
from neuralloc.vocab import Vocabulary

PAIRS = ["it-en", "en-it", "ro-en", "en-ro"]


# ---- conversion ---------------------------------------------------------------------------
def fairseq_dictionary(vocab: Vocabulary) -> Dictionary:
    """A fairseq Dictionary with our ids (fairseq's default puts <s> at 0 and <pad> at 1)."""
    d = Dictionary()
    d.symbols, d.count = list(vocab.tokens), list(vocab.counts)
    d.indices = {t: i for i, t in enumerate(d.symbols)}
    d.pad_index, d.bos_index, d.eos_index, d.unk_index = vocab.pad, vocab.bos, vocab.eos, vocab.unk
    d.nspecial = 4
    assert (d.pad(), d.bos(), d.eos(), d.unk()) == (0, 1, 2, 3) and len(d) == len(vocab)
    return d


class _Task:
    def __init__(self, d):
        self.source_dictionary = self.target_dictionary = d


def weight_map(ours: Transformer) -> dict[str, str]:
    """Our state-dict name -> fairseq's."""
    cfg, m = ours.cfg, {"embed.weight": "encoder.embed_tokens.weight"}
    attn = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "out": "out_proj"}
    for side, n, blocks in (("encoder", cfg.encoder_layers, [("self_attn", "self_attn")]),
                            ("decoder", cfg.decoder_layers, [("self_attn", "self_attn"), ("cross_attn", "encoder_attn")])):
        norms = ["self_attn_layer_norm", "final_layer_norm"] if side == "encoder" else \
            ["self_attn_layer_norm", "encoder_attn_layer_norm", "final_layer_norm"]
        for i in range(n):
            o, f = f"{side}.layers.{i}", f"{side}.layers.{i}"
            for ob, fb in blocks:
                for a, b in attn.items():
                    for w in ("weight", "bias"):
                        m[f"{o}.{ob}.{a}.{w}"] = f"{f}.{fb}.{b}.{w}"
            for fc in ("fc1", "fc2"):
                for w in ("weight", "bias"):
                    m[f"{o}.ffn.{fc}.{w}"] = f"{f}.{fc}.{w}"
            for j, name in enumerate(norms):
                for w in ("weight", "bias"):
                    m[f"{o}.norms.{j}.{w}"] = f"{f}.{name}.{w}"
        if cfg.pre_norm:
            for w in ("weight", "bias"):
                m[f"{side}.final_norm.{w}"] = f"{side}.layer_norm.{w}"
    return m


def to_fairseq(ours: Transformer, vocab: Vocabulary) -> tuple[TransformerModel, Dictionary]:
    cfg = ours.cfg
    if cfg.target_specific_attention or cfg.adapter_dim:
        sys.exit("routed models (+TS, +Adapter) have no fairseq transformer equivalent")
    d = fairseq_dictionary(vocab)
    args = Namespace(
        encoder_embed_dim=cfg.d_model, decoder_embed_dim=cfg.d_model,
        encoder_ffn_embed_dim=cfg.ffn_dim, decoder_ffn_embed_dim=cfg.ffn_dim,
        encoder_layers=cfg.encoder_layers, decoder_layers=cfg.decoder_layers,
        encoder_attention_heads=cfg.heads, decoder_attention_heads=cfg.heads,
        encoder_normalize_before=cfg.pre_norm, decoder_normalize_before=cfg.pre_norm,
        share_all_embeddings=True, share_decoder_input_output_embed=True,
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, activation_fn="relu",
        max_source_positions=cfg.max_positions, max_target_positions=cfg.max_positions,
        no_scale_embedding=False, encoder_learned_pos=False, decoder_learned_pos=False,
    )
    fs = TransformerModel.build_model(args, _Task(d)).eval()
    # fairseq's TransformerModel.build_model ran base_architecture (transformer_legacy.py)
    fs_sd = fs.state_dict()
    mapping = weight_map(ours)
    ours_sd = ours.state_dict()
    if set(mapping) != set(ours_sd):
        sys.exit(f"unmapped tensors of ours: {sorted(set(ours_sd) - set(mapping))}; "
                 f"mapped but absent: {sorted(set(mapping) - set(ours_sd))}")
    tied = {"decoder.embed_tokens.weight", "decoder.output_projection.weight"}
    versions = {k for k in fs_sd if k.endswith(".version")}  # fairseq's format markers, not weights
    missing = set(fs_sd) - set(mapping.values()) - tied - versions
    if missing:
        sys.exit(f"fairseq tensors left unset: {sorted(missing)}")
    new = {mapping[k]: v for k, v in ours_sd.items()}
    for k in tied:
        new[k] = ours_sd["embed.weight"]
    for k in versions:
        new[k] = fs_sd[k]
    fs.load_state_dict(new, strict=True)
    assert fs.decoder.output_projection.weight.data_ptr() == fs.encoder.embed_tokens.weight.data_ptr()
    # positions: ours row j (j = 0, 1, ...) is fairseq's row padding_idx + 1 + j
    pad = d.pad()
    rows = cfg.max_positions + 8
    table = torch.zeros(pad + 1 + rows, cfg.d_model)
    table[pad + 1:] = sinusoidal_positions(rows, cfg.d_model)
    for stack in (fs.encoder, fs.decoder):
        stack.embed_positions.weights = table.clone()
    return fs, d


def positions_report(d_model: int, pad: int) -> str:
    from fairseq.modules.sinusoidal_positional_embedding import SinusoidalPositionalEmbedding as S
    theirs = S.get_embedding(pad + 1 + 16, d_model, pad)[pad + 1:]
    ours = sinusoidal_positions(16, d_model)
    return (f"fairseq's own sinusoidal table vs ours (positions 0..15): max |diff| {float((theirs - ours).abs().max()):.3f} "
            f"(layout [sin|cos] vs interleaved, exponent over d/2-1 vs d, first position padding_idx+1 vs 0); "
            f"replaced by ours")


# ---- checks -------------------------------------------------------------------------------
@torch.no_grad()
def teacher_forced_check(ours, fs, exp, vocab, pairs, rows: int) -> tuple[float, float, float]:
    """(max |log p difference| of the two models, mean and max of the probability mass that
    <pad> and <s> take at a step: ours removes it before the softmax, fairseq does not)."""
    data = ParallelData.from_experiment(exp, "test", pairs, vocab, ours.cfg.max_positions, with_target=True)
    worst, mass = 0.0, []
    for p in range(len(pairs)):
        n = len(data.src[p])
        for start in (0, n // 2):
            b = data.collate([(p, i) for i in range(start, min(n, start + rows))])
            lp_o = torch.log_softmax(ours(b.src, b.prev).float(), -1)
            out = fs(b.src, b.src.ne(vocab.pad).sum(1), b.prev)
            lp_f = fs.get_normalized_probs(out, log_probs=True).float()
            keep = b.target.ne(vocab.pad)
            worst = max(worst, float((lp_o - lp_f).abs()[keep].max()))
            mass.append((lp_o[..., vocab.pad].exp() + lp_o[..., vocab.bos].exp())[keep])
    mass = torch.cat(mass)
    return worst, float(mass.mean()), float(mass.max())


# ---- decoding -----------------------------------------------------------------------------
def batches_of(data, p, max_tokens, beam):
    """The batches translate_data decodes (same sorting and size)."""
    return [data.collate(items) for items in inference_batches(data, p, max_tokens // max(beam, 1))]


def run_ours(model, data, pairs, vocab, opt, min_len):
    hyps, t0 = {}, time.perf_counter()
    for p in range(len(pairs)):
        for b in batches_of(data, p, opt.max_tokens, opt.beam):
            out = decode(model, b.src, vocab.bos, vocab.eos, beam=opt.beam, lenpen=opt.lenpen,
                         max_len_a=opt.max_len_a, max_len_b=opt.max_len_b, min_len=min_len)
            for i, h in zip(b.index.tolist(), out):
                hyps[(p, i)] = h
    return hyps, time.perf_counter() - t0


def mask_before_softmax(fs, pad: int, bos: int):
    """F3: make fairseq's per-step log-probabilities neuralloc's (pad, <s> at -inf in the logits)."""
    orig = fs.get_normalized_probs

    def get_normalized_probs(net_output, log_probs, sample=None):
        logits = net_output[0].float().clone()
        logits[..., pad] = float("-inf")
        logits[..., bos] = float("-inf")
        return F.log_softmax(logits, -1) if log_probs else F.softmax(logits, -1)

    fs.get_normalized_probs = get_normalized_probs
    return lambda: setattr(fs, "get_normalized_probs", orig)


@torch.no_grad()
def run_fairseq(fs, d, data, pairs, vocab, opt, min_len, single=False, b_shift=0, premask=False):
    gen = SequenceGenerator([fs], d, beam_size=opt.beam, max_len_a=opt.max_len_a, max_len_b=opt.max_len_b + b_shift,
                            min_len=min_len, len_penalty=opt.lenpen)
    restore = mask_before_softmax(fs, vocab.pad, vocab.bos) if premask else (lambda: None)
    hyps, limits, t0 = {}, {}, time.perf_counter()
    try:
        for p in range(len(pairs)):
            for b in batches_of(data, p, opt.max_tokens, opt.beam):
                parts = [(b.src[r:r + 1], b.index[r:r + 1]) for r in range(b.src.size(0))] if single else [(b.src, b.index)]
                for src, index in parts:
                    if single:
                        src = src[:, : int(src.ne(vocab.pad).sum())]
                    sample = {"net_input": {"src_tokens": src, "src_lengths": src.ne(vocab.pad).sum(1)}}
                    out = gen.generate([fs], sample, bos_token=vocab.bos)
                    # fairseq sequence_generator.py: max_len = min(int(a * src_len + b), self.max_len - 1),
                    # src_len = src_tokens.size(1), the padded width of the batch
                    fl = min(int(gen.max_len_a * src.size(1) + gen.max_len_b), gen.max_len - 1)
                    for i, hs in zip(index.tolist(), out):
                        t = hs[0]["tokens"].tolist()
                        assert t[-1] == vocab.eos
                        hyps[(p, i)] = t[:-1]
                        limits[(p, i)] = fl
    finally:
        restore()
    return hyps, limits, time.perf_counter() - t0


def ours_limit(n_src: int, opt, max_positions: int) -> int:
    """Most tokens (EOS excluded) neuralloc's beam search can produce: decoding.py _max_lengths
    counts EOS in max_len = clamp(int(a*n + b), 1, max_positions)."""
    return min(max(int(opt.max_len_a * n_src + opt.max_len_b), 1), max_positions) - 1


@torch.no_grad()
def seq_score(model, src, hyp, vocab, lenpen, min_len, max_len):
    """neuralloc's beam score of ``hyp`` (+EOS) for ``src``: sum of the step log-probs as
    _step_logprobs gives them / len**lenpen (len counting EOS); -inf where ours cannot make it."""
    if len(hyp) + 1 > max_len:
        return float("-inf")
    src = torch.tensor([src]); prev = torch.tensor([[vocab.bos] + hyp]); tgt = hyp + [vocab.eos]
    logits = model(src, prev)[0].float()
    logits[:, vocab.pad] = float("-inf"); logits[:, vocab.bos] = float("-inf")
    lp = torch.log_softmax(logits, -1)
    if min_len > 0:
        lp[:min_len, vocab.eos] = float("-inf")
    s = float(lp[torch.arange(len(tgt)), torch.tensor(tgt)].sum())
    return s / (len(tgt) ** lenpen)


def diagnose(model, data, vocab, opt, ours, f0, f0_lim, f1, f2, f3, min_len):
    """The cause of each difference (ours vs F0): the first of fairseq's variants that makes the
    hypothesis identical, with the lengths, limits and scores behind it."""
    causes, examples = Counter(), []
    for key, h_o in ours.items():
        h_f = f0[key]
        if h_o == h_f:
            continue
        p, i = key
        src = data.src[p][i].tolist()
        lo, lf = ours_limit(len(src), opt, model.cfg.max_positions), f0_lim[key]
        if f1[key] == h_o:
            c = "length limit, EOS counting alone (F1 fixes it): fairseq allows max_len tokens + EOS, ours max_len - 1 + EOS"
        elif f2[key] == h_o:
            c = "length limit of the batch (F2 fixes it): fairseq's max_len comes from the padded batch width"
        elif f3[key] == h_o:
            c = "per-step log-probs (F3 fixes it): ours renormalizes without pad/<s>, fairseq does not (and allows <s>)"
        else:
            c = "none of the three rules: float noise or ties"
        if vocab.bos in h_f:
            c += "; fairseq's hypothesis contains <s>"
        causes[c] += 1
        if len(examples) < 4:
            s_o = seq_score(model, src, h_o, vocab, opt.lenpen, min_len, lo + 1)
            s_f = seq_score(model, src, h_f, vocab, opt.lenpen, min_len, lf + 1)
            first = next((j for j, (a, b) in enumerate(zip(h_o, h_f)) if a != b), min(len(h_o), len(h_f)))
            examples.append(f"    e.g. {PAIRS_[p]}#{i}: source {len(src)} tokens; ours {len(h_o)} tokens (its limit {lo}), "
                            f"fairseq {len(h_f)} (its limit {lf}), first difference at token {first}; "
                            f"normalized score ours {s_o:.3f}, fairseq {s_f:.3f}")
    return causes, examples


PAIRS_: list[str] = []


def share(a: dict, b: dict) -> float:
    return sum(a[k] == b[k] for k in a) / len(a)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiment")
    ap.add_argument("checkpoint")
    ap.add_argument("--pairs", default=",".join(PAIRS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--beam", type=int, default=4)
    ap.add_argument("--lenpen", type=float, default=0.6)
    ap.add_argument("--max-len-a", type=float, default=1.2)
    ap.add_argument("--max-len-b", type=int, default=10)
    ap.add_argument("--max-tokens", type=int, default=8000, help="translate_data's max_tokens (batch = max_tokens // beam source tokens)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per decoder and setting; the fastest counts")
    ap.add_argument("--check-rows", type=int, default=8, help="sentences per teacher-forced batch (2 batches per pair)")
    opt = ap.parse_args(argv)
    torch.set_num_threads(opt.threads)
    torch.manual_seed(0)
    pairs = opt.pairs.split(",")
    PAIRS_[:] = pairs

    vocab = Vocabulary.load(layout.vocab(opt.experiment))
    model, _ = load_model(opt.checkpoint, len(vocab))
    model.eval()
    fs, d = to_fairseq(model, vocab)
    data = ParallelData.from_experiment(opt.experiment, "test", pairs, vocab, model.cfg.max_positions, with_target=False)
    n_sent = len(data)
    print(f"model: {model.num_parameters()} parameters, {model.cfg.encoder_layers}+{model.cfg.decoder_layers} layers, "
          f"d={model.cfg.d_model}, {'pre' if model.cfg.pre_norm else 'post'}-norm; {n_sent} test sentences of {pairs}")
    print(positions_report(model.cfg.d_model, d.pad()))
    # fairseq's MultiheadAttention mixes a bool key-padding mask with a float causal mask (teacher forcing only)
    warnings.filterwarnings("ignore", message="Support for mismatched key_padding_mask and attn_mask")
    worst, mass, mass_max = teacher_forced_check(model, fs, opt.experiment, vocab, pairs, opt.check_rows)
    print(f"conversion check: max |log p_ours - log p_fairseq| over {2 * len(pairs)} teacher-forced batches = {worst:.2e}")
    print(f"probability of <pad>+<s> per step on the gold prefixes (ours renormalizes it away, fairseq keeps it): "
          f"mean {mass:.1e}, max {mass_max:.1e}")
    if worst > 1e-4:
        sys.exit("the converted model does not match: decoding parity would mean nothing")

    run_ours(model, data, [pairs[0]], vocab, opt, 1)  # warm-up (first-call allocations), not timed
    run_fairseq(fs, d, data, [pairs[0]], vocab, opt, 1)
    rows, diag = [], []
    for label, min_len in (("min-len 1", 1), ("min-len off (0)", 0)):
        t_o, t_f = [], []
        for _ in range(opt.repeat):
            h_o, t = run_ours(model, data, pairs, vocab, opt, min_len); t_o.append(t)
            f0, f0_lim, t = run_fairseq(fs, d, data, pairs, vocab, opt, min_len); t_f.append(t)
        f1, _, _ = run_fairseq(fs, d, data, pairs, vocab, opt, min_len, b_shift=-1)
        f2, _, _ = run_fairseq(fs, d, data, pairs, vocab, opt, min_len, single=True, b_shift=-1)
        f3, _, _ = run_fairseq(fs, d, data, pairs, vocab, opt, min_len, single=True, b_shift=-1, premask=True)
        if min_len == 1:  # translate_data is decode + postprocess on the same batches
            txt = translate_data(model, data, 0, vocab, "cpu", opt.beam, opt.lenpen, opt.max_len_a, opt.max_len_b,
                                 opt.max_tokens, min_len=min_len)
            ok = all(txt[i] == postprocess(vocab.decode(h_o[(0, i)])) for i in range(len(txt)))
            print(f"translate_data({pairs[0]}) == postprocessed decode() ids: {ok}")
        so, sf = n_sent / min(t_o), n_sent / min(t_f)
        longer = sum(len(f0[k]) > len(h_o[k]) for k in h_o)
        shorter = sum(len(f0[k]) < len(h_o[k]) for k in h_o)
        rows.append((label, share(h_o, f0), share(h_o, f1), share(h_o, f2), share(h_o, f3), so, sf, so / sf))
        causes, examples = diagnose(model, data, vocab, opt, h_o, f0, f0_lim, f1, f2, f3, min_len)
        at_limit = sum(len(h) == ours_limit(len(data.src[k[0]][k[1]]), opt, model.cfg.max_positions) for k, h in h_o.items())
        diag.append((label, causes, examples, longer, shorter, at_limit,
                     sum(len(h) == 0 for h in h_o.values()), sum(len(h) == 0 for h in f0.values())))
        print(f"[{label}] identical: F0 {rows[-1][1]:.1%}  F1 {rows[-1][2]:.1%}  F2 {rows[-1][3]:.1%}  F3 {rows[-1][4]:.1%}; "
              f"ours {so:.2f} sent/s, fairseq {sf:.2f} sent/s", flush=True)

    print("\n## Diagnosis of non-identical hypotheses (ours vs fairseq F0)\n")
    for label, causes, examples, longer, shorter, at_limit, empty_o, empty_f in diag:
        total = sum(causes.values())
        print(f"- {label}: {total} of {n_sent} differ; fairseq longer in {longer}, shorter in {shorter}; "
              f"{at_limit} of ours' hypotheses end at ours' length limit; "
              f"empty hypotheses ours {empty_o}, fairseq {empty_f}")
        for c, k in causes.most_common():
            print(f"  - {k}: {c}")
        print("\n".join(examples))
    print("""
Where the rules live (fairseq 0.12.3.1 fairseq/sequence_generator.py, neuralloc/decoding.py):
- length limit: ours _max_lengths (decoding.py:19-21) is per sentence, n = its non-pad source
  tokens, and max_len counts EOS: beam_search forces EOS when t+1 >= max_len (decoding.py:93-97),
  so at most max_len-1 tokens + EOS. fairseq takes src_len = src_tokens.size()[:2][1], the padded
  width of the batch (sequence_generator.py:256), max_len = min(int(a*src_len+b), self.max_len-1)
  (:271-274), loops `for step in range(max_len + 1)` (:341) and forces EOS only at
  step >= max_len (:381-383): up to max_len tokens + EOS.
- per-step log-probs: ours _step_logprobs (decoding.py:29-31) sets pad and <s> to -inf in the
  logits and then log-softmaxes (renormalized without them); fairseq log-softmaxes everything
  (EnsembleModel.forward_decoder, :854) and then sets lprobs[:, pad] = -inf (:377), leaving <s>
  selectable.
- min-len: the same rule in both (EOS at -inf while step < min_len: decoding.py:32-33, :395-397).""")

    print("\n## Results\n")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    print(f"Machine: {cpu}, {os.cpu_count()} logical CPUs; torch.set_num_threads({opt.threads}) for both; "
          f"torch {torch.__version__}, fairseq {fairseq.__version__}, Python {platform.python_version()}; "
          f"beam {opt.beam}, lenpen {opt.lenpen}, max_len_a {opt.max_len_a}, max_len_b {opt.max_len_b}, "
          f"{n_sent} sentences ({', '.join(pairs)}), batches of translate_data (max_tokens {opt.max_tokens}); "
          f"timings: best of {opt.repeat}.\n")
    print("| setting | identical F0 (fairseq as is) | F1 (+ max_len_b-1) | F2 (+ 1 sentence/batch) | F3 (+ pad/<s> masked before softmax) | ours sent/s | fairseq sent/s | ours/fairseq |")
    print("|---|---|---|---|---|---|---|---|")
    for label, a, b, c, e, so, sf, r in rows:
        print(f"| {label} | {a:.1%} | {b:.1%} | {c:.1%} | {e:.1%} | {so:.1f} | {sf:.1f} | {r:.2f} |")


if __name__ == "__main__":
    main()
