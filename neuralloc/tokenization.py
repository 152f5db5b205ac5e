"""Moses tokenization made reversible, truecasing, and the training-data length filters.

Moses detokenization is a heuristic: it does not rejoin typographic apostrophes in Italian or
Romanian ("l ’ uomo"), French guillemets, em dashes and more, which caps the BLEU of a perfect
system well below 100 against raw references. So after Moses splits a sentence we record, for
every token boundary, whether the raw text had a space there, and mark boundaries without one
with the joiner ``￭`` on the punctuation side ("l ￭’￭ uomo", "disse ￭:"), as OpenNMT's joiner
annotation does. Detokenization then only has to glue marked boundaries: it restores the
(whitespace-normalized) input exactly, in every language.
"""

from __future__ import annotations

import functools
import logging
from multiprocessing import Pool
from typing import Iterable, Sequence

from sacremoses import MosesPunctNormalizer, MosesTokenizer, MosesTruecaser

log = logging.getLogger(__name__)

JOINER = "\uffed"  # ￭, a half-width block that no corpus here contains


def glue_flags(text: str, tokens: Sequence[str]) -> list[bool] | None:
    """For each token, whether it touches the previous one in ``text`` (no whitespace between).

    None when a token cannot be found in order (the tokenizer changed characters).
    """
    flags, pos = [], 0
    for i, tok in enumerate(tokens):
        j = text.find(tok, pos)
        if j < 0:
            return None
        gap = text[pos:j]
        flags.append(i > 0 and not any(c.isspace() for c in gap))
        pos = j + len(tok)
    return flags


def _wordlike(ch: str) -> bool:
    return ch.isalnum()


def attach_joiners(tokens: Sequence[str], flags: Sequence[bool]) -> list[str]:
    """Mark glued boundaries; the joiner goes on the punctuation side of the boundary."""
    out = list(tokens)
    for i in range(1, len(out)):
        if not flags[i]:
            continue
        prev, cur = tokens[i - 1], tokens[i]
        if _wordlike(cur[0]) and not _wordlike(prev[-1]):
            out[i - 1] = out[i - 1] + JOINER
        else:
            out[i] = JOINER + out[i]
    return out


def split_joiners(token: str) -> tuple[str, str, str]:
    """(prefix joiner, bare token, suffix joiner)."""
    pre = JOINER if token.startswith(JOINER) and len(token) > 1 else ""
    body = token[len(pre):]
    suf = JOINER if body.endswith(JOINER) and len(body) > 1 else ""
    return pre, body[: len(body) - len(suf)], suf


def strip_joiners(line: str) -> str:
    return " ".join(split_joiners(t)[1] for t in line.split())


def detokenize(line: str) -> str:
    """Inverse of ``Tokenizer.tokenize``: glue marked boundaries, space elsewhere."""
    out: list[str] = []
    prev_glues = False
    for tok in line.split():
        glue = prev_glues or tok.startswith(JOINER)
        if out and not glue:
            out.append(" ")
        out.append(tok.replace(JOINER, ""))
        prev_glues = tok.endswith(JOINER)
    return "".join(out)


def moses_knows(lang: str) -> bool:
    """Whether Moses has rules of its own for ``lang`` (its nonbreaking prefixes)."""
    from sacremoses.corpus import NonbreakingPrefixes

    return lang in NonbreakingPrefixes().available_langs


@functools.lru_cache(maxsize=None)
def word_segmenter(lang: str):
    """``text -> words`` for a language written without spaces (``languages.SEGMENTERS``), or None."""
    if lang == "zh":
        import jieba

        jieba.setLogLevel(logging.WARNING)
        return lambda text: list(jieba.cut(text, HMM=True))
    if lang == "ja":
        import ipadic
        import MeCab

        tagger = MeCab.Tagger(ipadic.MECAB_ARGS + " -Owakati")
        return lambda text: tagger.parse(text).split()
    return None


class Tokenizer:
    """Punctuation normalization (optional) + Moses tokenization + word segmentation where the
    language has no spaces + joiner annotation. A language Moses does not know gets its
    language-neutral rules (no nonbreaking prefixes: Moses would otherwise take English ones)."""

    def __init__(self, lang: str, normalize_punct: bool = False):
        self.lang = lang
        self.moses = MosesTokenizer(lang)
        if not moses_knows(lang):
            self.moses.NONBREAKING_PREFIXES, self.moses.NUMERIC_ONLY_PREFIXES = [], []
        self.segment = word_segmenter(lang)
        self.normalizer = MosesPunctNormalizer(lang) if normalize_punct else None
        self.unaligned = 0

    def tokenize(self, line: str) -> str:
        text = " ".join(line.split())
        if self.normalizer is not None:
            text = " ".join(self.normalizer.normalize(text).split())
        tokens = self.moses.tokenize(text, escape=False)
        if self.segment is not None:  # Moses splits off punctuation only: the words come from the segmenter
            tokens = [w for t in tokens for w in self.segment(t) if w.strip()]
        flags = glue_flags(text, tokens)
        if flags is None:
            self.unaligned += 1
            return " ".join(tokens)
        return " ".join(attach_joiners(tokens, flags))


def _tokenize_chunk(args) -> tuple[list[str], int]:
    lang, normalize, lines = args
    tok = Tokenizer(lang, normalize)
    return [tok.tokenize(l) for l in lines], tok.unaligned


def _chunks(lines: Sequence[str], n: int) -> list[Sequence[str]]:
    size = max(1, -(-len(lines) // n))
    return [lines[i:i + size] for i in range(0, len(lines), size)]


def _map_chunks(fn, lines: Sequence[str], threads: int, *args) -> list:
    """``fn((*args, chunk))`` over chunks of ``lines``, in ``threads`` processes when worth it."""
    jobs = [(*args, c) for c in _chunks(lines, max(1, threads) * 4)]
    if threads > 1 and len(lines) > 2000:
        with Pool(threads) as pool:
            return pool.map(fn, jobs)
    return [fn(j) for j in jobs]


def tokenize_lines(lines: Sequence[str], lang: str, normalize_punct: bool = False, threads: int = 1) -> list[str]:
    """Tokenize many lines, split over ``threads`` processes; order is kept."""
    results = _map_chunks(_tokenize_chunk, lines, threads, lang, normalize_punct)
    unaligned = sum(u for _, u in results)
    if unaligned:
        log.warning("%s: %d lines changed under tokenization; left without joiner marks", lang, unaligned)
    return [l for chunk, _ in results for l in chunk]


def length_filter(
    src: Sequence[str], tgt: Sequence[str], min_tokens: int, max_tokens: int, max_ratio: float
) -> list[int]:
    """Indices of the pairs whose two sides (counted in tokens) pass every filter."""
    keep = []
    for i, (s, t) in enumerate(zip(src, tgt)):
        ls, lt = len(s.split()), len(t.split())
        if min(ls, lt) < min_tokens or max(ls, lt) > max_tokens:
            continue
        if max(ls, lt) > max_ratio * min(ls, lt):
            continue
        keep.append(i)
    return keep


# --- truecasing (Moses truecaser trained on the tokenized training text) ---------------------

def train_truecaser(tokenized: Iterable[str], model_path: str, threads: int = 1) -> None:
    docs = [strip_joiners(l).split() for l in tokenized]
    MosesTruecaser().train(docs, save_to=model_path, processes=threads)


@functools.lru_cache(maxsize=8)
def _truecaser(model_path: str) -> MosesTruecaser:
    return MosesTruecaser(load_from=model_path)


def truecase_line(line: str, model_path: str) -> str:
    """Truecase the bare tokens and put the joiner marks back where they were."""
    parts = [split_joiners(t) for t in line.split()]
    if not parts:
        return line
    cased = _truecaser(model_path).truecase(" ".join(p[1] for p in parts))
    if len(cased) != len(parts):  # the truecaser re-split a token: keep the line as it was
        return line
    return " ".join(pre + tok + suf for (pre, _, suf), tok in zip(parts, cased))


def _truecase_chunk(args) -> list[str]:
    model_path, lines = args
    return [truecase_line(l, model_path) for l in lines]


def truecase_lines(lines: Sequence[str], model_path: str, threads: int = 1) -> list[str]:
    return [l for chunk in _map_chunks(_truecase_chunk, lines, threads, model_path) for l in chunk]


def remove_bpe(line: str, separator: str = "@@") -> str:
    return (line + " ").replace(separator + " ", "").rstrip()


def postprocess(line: str, detruecase: bool = False) -> str:
    """Model output (BPE subwords with joiner marks) -> raw text."""
    text = detokenize(remove_bpe(line))
    if detruecase and text:
        text = text[0].upper() + text[1:]
    return text
