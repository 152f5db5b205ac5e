"""Integer-encoded sentences as two memory-mappable arrays: ``.tokens.npy`` (all ids, int32,
concatenated) and ``.offsets.npy`` (int64, n+1 boundaries). Training loads them without
re-reading text; a sentence is ``tokens[offsets[i]:offsets[i+1]]``."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from .fileio import atomic_path


def write_indexed(prefix: str | Path, sentences: Iterable[list[int]]) -> int:
    sentences = list(sentences)
    lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
    offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = np.fromiter((t for s in sentences for t in s), dtype=np.int32, count=int(offsets[-1]))
    for suffix, array in ((".tokens.npy", tokens), (".offsets.npy", offsets)):
        with atomic_path(f"{prefix}{suffix}") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, array)
    return len(sentences)


class IndexedText:
    """Read-only, memory-mapped view of one ``write_indexed`` file pair."""

    def __init__(self, prefix: str | Path):
        self.tokens = np.load(f"{prefix}.tokens.npy", mmap_mode="r")
        self.offsets = np.load(f"{prefix}.offsets.npy", mmap_mode="r")
        if self.offsets.ndim != 1 or len(self.offsets) == 0 or self.offsets[-1] != len(self.tokens):
            raise ValueError(f"{prefix}: offsets do not match the tokens array (corrupt or partial files)")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return np.asarray(self.tokens[self.offsets[i]:self.offsets[i + 1]])

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)
