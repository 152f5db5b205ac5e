"""The shared vocabulary: special tokens, one tag per target language, then BPE subwords.

``dict.txt`` holds one ``token count`` line per id (line i is id i), specials included, so the
file alone defines the mapping.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from .fileio import atomic_open, read_lines
from .languages import target_tag

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)


class Vocabulary:
    def __init__(self, tokens: Sequence[str], counts: Sequence[int] | None = None):
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with {SPECIALS}, got {tuple(tokens[:4])}")
        self.tokens = list(tokens)
        self.counts = list(counts) if counts is not None else [0] * len(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("vocabulary has duplicate tokens")
        self.pad, self.bos, self.eos, self.unk = (self.index[s] for s in SPECIALS)

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def build(cls, lines: Iterable[str], target_languages: Iterable[str], min_count: int = 1) -> "Vocabulary":
        counts: Counter = Counter()
        for line in lines:
            counts.update(line.split())
        tags = [target_tag(l) for l in sorted(set(target_languages))]
        clash = [t for t in list(SPECIALS) + tags if t in counts]
        if clash:
            raise ValueError(f"the text contains reserved tokens {clash}")
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        tokens = list(SPECIALS) + tags + words
        return cls(tokens, [0] * (len(SPECIALS) + len(tags)) + [counts[w] for w in words])

    def save(self, path: str | Path) -> None:
        with atomic_open(path) as f:
            for tok, c in zip(self.tokens, self.counts):
                f.write(f"{tok} {c}\n")

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        tokens, counts = [], []
        for n, line in enumerate(read_lines(path), 1):
            parts = line.split(" ")
            if len(parts) != 2 or not parts[1].isdigit():
                raise ValueError(f"{path}:{n}: expected 'token count', got {line!r}")
            tokens.append(parts[0])
            counts.append(int(parts[1]))
        return cls(tokens, counts)

    def tag(self, lang: str) -> int:
        try:
            return self.index[target_tag(lang)]
        except KeyError:
            raise KeyError(f"no target-language tag {target_tag(lang)} in the vocabulary") from None

    def encode(self, line: str) -> list[int]:
        return [self.index.get(t, self.unk) for t in line.split()]

    def decode(self, ids: Iterable[int]) -> str:
        """Token string of ``ids``, stopping at EOS and skipping padding and BOS."""
        out = []
        for i in ids:
            if i == self.eos:
                break
            if i not in (self.pad, self.bos):
                out.append(self.tokens[i])
        return " ".join(out)
