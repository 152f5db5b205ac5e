"""One joint BPE over the training text of all languages (subword-nmt, as a library).

Each language contributes its distinct training sentences once, so a language that appears in
several pairs (English in every pair of a many-to-many set) does not outweigh the others. Beside
the codes, a vocabulary per language (subword counts of that language's BPE-applied text) feeds
``apply_bpe``'s vocabulary threshold, as in subword-nmt's learn-joint-bpe-and-vocab recipe.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from subword_nmt.apply_bpe import BPE, read_vocabulary
from subword_nmt.learn_bpe import learn_bpe

from .fileio import atomic_open, read_lines

log = logging.getLogger(__name__)

SEPARATOR = "@@"


def distinct_lines(paths: Iterable[str | Path]) -> list[str]:
    """Lines of all files, each distinct line once, in first-seen order."""
    seen: dict[str, None] = {}
    for p in paths:
        seen.update(dict.fromkeys(read_lines(p)))
    return list(seen)


def word_counts(lines: Iterable[str]) -> Counter:
    counts: Counter = Counter()
    for line in lines:
        counts.update(line.split())
    return counts


def learn_codes(counts: Counter, merges: int, min_frequency: int, codes_path: str | Path) -> None:
    """Learn ``merges`` operations from word counts and write the codes file atomically."""
    as_dict = io.StringIO("".join(f"{w} {c}\n" for w, c in counts.items()))
    out = io.StringIO()
    learn_bpe(as_dict, out, merges, min_frequency=min_frequency, is_dict=True)
    with atomic_open(codes_path) as f:
        f.write(out.getvalue())


def load_bpe(codes_path: str | Path, vocab_path: str | Path | None = None, threshold: int | None = None) -> BPE:
    vocab = None
    if vocab_path is not None and threshold is not None:
        with open(vocab_path, encoding="utf-8") as f:
            vocab = read_vocabulary(f, threshold)
    with open(codes_path, encoding="utf-8") as f:
        return BPE(f, separator=SEPARATOR, vocab=vocab)


def apply(bpe: BPE, lines: Sequence[str]) -> list[str]:
    return [bpe.segment(line).strip() for line in lines]


def write_counts(counts: Counter, path: str | Path) -> None:
    """``token count`` lines, most frequent first (subword-nmt's vocabulary format)."""
    with atomic_open(path) as f:
        for tok, c in sorted(counts.items(), key=lambda x: (-x[1], x[0])):
            f.write(f"{tok} {c}\n")


def learn_joint_bpe(
    files_by_lang: dict[str, list[str | Path]], merges: int, min_frequency: int,
    codes_path: str | Path, vocab_paths: dict[str, str | Path],
) -> dict[str, int]:
    """Learn joint codes, then write each language's subword vocabulary. Returns type counts."""
    texts = {lang: distinct_lines(paths) for lang, paths in files_by_lang.items()}
    counts: Counter = Counter()
    for lang, lines in texts.items():
        counts.update(word_counts(lines))
        log.info("%s: %d distinct training sentences", lang, len(lines))
    log.info("learning %d merges over %d word types", merges, len(counts))
    learn_codes(counts, merges, min_frequency, codes_path)
    bpe = load_bpe(codes_path)
    sizes = {}
    for lang, lines in texts.items():
        sub = word_counts(apply(bpe, lines))
        write_counts(sub, vocab_paths[lang])
        sizes[lang] = len(sub)
    return sizes
