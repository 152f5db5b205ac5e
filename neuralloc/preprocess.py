"""Entry points of the text stages, one function per rule: each reads files, calls the
tokenization / BPE / vocabulary code and writes its outputs atomically."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from . import bpe as bpe_lib
from .binarized import write_indexed
from .fileio import DataError, read_lines, write_lines
from .tokenization import length_filter as filter_by_length
from .tokenization import tokenize_lines, train_truecaser, truecase_lines
from .vocab import Vocabulary

log = logging.getLogger(__name__)


def _read_pair(src: str | Path, tgt: str | Path) -> tuple[list[str], list[str]]:
    s, t = read_lines(src), read_lines(tgt)
    if len(s) != len(t):
        raise DataError(f"misaligned corpus: {src} has {len(s)} lines, {tgt} has {len(t)}")
    if not s:
        raise DataError(f"{src} and {tgt} hold no sentences: a pair's split cannot be empty (its dev set gives no "
                        "loss, its test set no score); rebuild them (snakemake --forcerun prepare_corpus)")
    return s, t


def tokenize_pair(
    inputs: Sequence[str], outputs: Sequence[str], langs: Sequence[str], normalize_punct: bool,
    length_filter: dict | None, threads: int = 1,
) -> None:
    """Tokenize both sides; ``length_filter`` (training data only) drops pairs by length."""
    src, tgt = _read_pair(*inputs)
    src_tok = tokenize_lines(src, langs[0], normalize_punct, threads)
    tgt_tok = tokenize_lines(tgt, langs[1], normalize_punct, threads)
    if length_filter is not None:
        keep = filter_by_length(src_tok, tgt_tok, **length_filter)
        log.info("length filter kept %d of %d pairs (%s)", len(keep), len(src_tok), length_filter)
        if not keep:
            raise ValueError(f"the length filter {length_filter} dropped every pair of {inputs[0]}")
        src_tok, tgt_tok = [src_tok[i] for i in keep], [tgt_tok[i] for i in keep]
    write_lines(outputs[0], src_tok)
    write_lines(outputs[1], tgt_tok)


def learn_truecaser(inputs: Sequence[str], model: str, threads: int = 1) -> None:
    lines = bpe_lib.distinct_lines(inputs)
    log.info("training truecaser on %d sentences", len(lines))
    train_truecaser(lines, model, threads)


def truecase_pair(inputs: Sequence[str], models: Sequence[str], outputs: Sequence[str], threads: int = 1) -> None:
    for path, model, out in zip(inputs, models, outputs):
        write_lines(out, truecase_lines(read_lines(path), str(model), threads))


def learn_bpe(texts: dict[str, Sequence[str]], langs: Sequence[str], merges: int, min_frequency: int,
              codes: str, vocabs: Sequence[str]) -> None:
    """``texts``: language -> its training files; ``vocabs`` (one per language) follow ``langs``."""
    files_by_lang = {lang: list(texts[lang]) for lang in langs}
    sizes = bpe_lib.learn_joint_bpe(files_by_lang, merges, min_frequency, codes, dict(zip(langs, vocabs, strict=True)))
    log.info("subword types per language: %s", sizes)


def apply_bpe(inputs: Sequence[str], outputs: Sequence[str], codes: str,
              vocabs: Sequence[str], threshold: int | None) -> None:
    for path, vocab, out in zip(inputs, vocabs, outputs):
        segmenter = bpe_lib.load_bpe(codes, vocab, threshold)
        write_lines(out, bpe_lib.apply(segmenter, read_lines(path)))


def build_vocab(inputs: Sequence[str], target_languages: Sequence[str], out: str) -> None:
    vocab = Vocabulary.build((l for p in inputs for l in read_lines(p)), target_languages)
    vocab.save(out)
    log.info("vocabulary: %d entries", len(vocab))


def encode_pair(inputs: Sequence[str], vocab_path: str, outputs: Sequence[str]) -> None:
    """Both sides as encoded arrays; ``outputs`` are their ``.tokens.npy`` files (offsets beside)."""
    vocab = Vocabulary.load(vocab_path)
    src, tgt = _read_pair(*inputs)
    for lines, out in ((src, outputs[0]), (tgt, outputs[1])):
        ids = [vocab.encode(l) for l in lines]
        unk = sum(s.count(vocab.unk) for s in ids)
        write_indexed(out, ids)
        log.info("%s: %d sentences, %d tokens, %d unknown", out, len(ids), sum(map(len, ids)), unk)
