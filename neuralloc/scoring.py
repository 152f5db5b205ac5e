"""Corpus BLEU and chrF with sacreBLEU against the untouched raw references, with signatures."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from sacrebleu.metrics import BLEU, CHRF

from .fileio import DataError, atomic_open
from .languages import Pair, bleu_tokenizer


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str], target_lang: str | None = None) -> dict:
    """BLEU (mixed case, exp smoothing: the paper's settings; sacreBLEU's tokenizer for the target
    language, 13a unless it is written without spaces, ``languages.BLEU_TOKENIZERS``) and chrF,
    with signatures that say which."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    bleu, chrf = BLEU(tokenize=bleu_tokenizer(target_lang or "")), CHRF()
    b = bleu.corpus_score(list(hypotheses), [list(references)])
    c = chrf.corpus_score(list(hypotheses), [list(references)])
    return {"bleu": b.score, "chrf": c.score, "bleu_signature": str(bleu.get_signature()),
            "chrf_signature": str(chrf.get_signature()), "sentences": len(hypotheses)}


SCORE_FIELDS = ["system", "split", "seed", "pair", "bleu", "chrf", "sentences", "bleu_signature", "chrf_signature"]


def write_scores(rows: list[dict], path: str | Path) -> None:
    with atomic_open(path) as f:
        w = csv.DictWriter(f, SCORE_FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{r[k]:.2f}" if k in ("bleu", "chrf") else r[k]) for k in SCORE_FIELDS})


def score_system(system: str, split: str, seed: int, pairs: list[str], hypotheses: list[str], references: list[str],
                 out: str) -> None:
    """Entry point of the score rule: one CSV row per pair (``hypotheses`` and ``references``
    follow ``pairs``), hypotheses against raw references."""
    from .fileio import read_lines

    rows = []
    for pair, hyp, ref in zip(pairs, hypotheses, references, strict=True):
        h, r = read_lines(hyp), read_lines(ref)
        if not r or len(h) != len(r):
            raise DataError(f"{pair}: {hyp} holds {len(h)} translations, the references {ref} {len(r)} sentences: "
                            + ("no sentence to score" if not r else "they must be of one test set") + "; rebuild them")
        rows.append({"system": system, "split": split, "seed": seed, "pair": pair, **corpus_scores(h, r, Pair.parse(pair).tgt)})
    write_scores(rows, out)


def read_scores(paths: list[str | Path]) -> "pd.DataFrame":
    """Score CSVs (one per system, split and seed) -> one frame."""
    import pandas as pd

    if not paths:
        raise ValueError("no score files")
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
