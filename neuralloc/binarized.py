"""Integer-encoded sentences as two memory-mappable arrays: ``X.tokens.npy`` (all ids, int32,
concatenated) and its sibling ``X.offsets.npy`` (int64, n+1 boundaries). Training loads them without
re-reading text; a sentence is ``tokens[offsets[i]:offsets[i+1]]``. The tokens file names the pair
(as fairseq's ``.bin`` names its ``.idx``); its offsets file is always beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from .fileio import atomic_path


TOKENS, OFFSETS = ".tokens.npy", ".offsets.npy"


def offsets_path(tokens: str | Path) -> str:
    """The offsets file that belongs to a ``.tokens.npy`` file."""
    tokens = str(tokens)
    if not tokens.endswith(TOKENS):
        raise ValueError(f"{tokens}: an encoded array's tokens file ends with {TOKENS}")
    return tokens[: -len(TOKENS)] + OFFSETS


def write_indexed(tokens_path: str | Path, sentences: Iterable[list[int]]) -> int:
    """Write ``tokens_path`` and its offsets file; returns the number of sentences."""
    sentences = list(sentences)
    lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
    offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = np.fromiter((t for s in sentences for t in s), dtype=np.int32, count=int(offsets[-1]))
    for path, array in ((offsets_path(tokens_path), offsets), (tokens_path, tokens)):
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, array)
    return len(sentences)


class IndexedText:
    """Read-only, memory-mapped view of one ``write_indexed`` file pair."""

    def __init__(self, tokens_path: str | Path):
        self.tokens = np.load(tokens_path, mmap_mode="r")
        self.offsets = np.load(offsets_path(tokens_path), mmap_mode="r")
        if self.offsets.ndim != 1 or len(self.offsets) == 0 or self.offsets[-1] != len(self.tokens):
            raise ValueError(f"{tokens_path}: offsets do not match the tokens array (corrupt or partial files)")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return np.asarray(self.tokens[self.offsets[i]:self.offsets[i + 1]])

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)
