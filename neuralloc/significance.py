"""How sure a difference is: the paired bootstrap of BLEU (Koehn 2004) and a permutation test,
shared by the tables and the claims.

The bootstrap resamples each pair's test set ``samples`` times (sentences drawn with
replacement). The draws depend only on the seed, the pair and the size of its test set, so every
system of a pair is scored on the same resamples, in the tables' job as in the claims' job. A
system's BLEU on a resample is computed from the sum of its sentences' sufficient statistics
(sacreBLEU's, with the target language's tokenizer, counted by ``References``; sacreBLEU's formula,
smoothing included), so one resample costs a sum, not a rescoring. Every comparison is then
arithmetic on these per-resample scores: two systems on one pair, their averages over pairs, or
the change one pair sees against the change another sees.
Its interval is the central ``1 - ALPHA`` share of the resampled values (the percentile
interval), and its two-sided p-value twice the smaller share of resamples on either side of zero.
A difference is *evidence* when its interval lies wholly on one side of zero.
"""

from __future__ import annotations

import copy
import functools
import itertools
import math
import zlib
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .languages import Pair, bleu_tokenizer

ALPHA = 0.05    # intervals hold 1 - ALPHA of the resamples; tests are at this level
SEED = 12345    # of the resamples (with the pair's name) and of sampled permutations
MAX_ORDER = 4   # BLEU's n-gram orders
# sacreBLEU's regexp post-tokenizer (13a's and zh's): (pattern, replacement) of its rules, and the
# characters one of which a line must hold for the rule to match (None: any line)
POST_TOKENIZER = ((r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 ", None),  # a space either side of each mark
                  (r"([^0-9])([\.,])", r"\1 \2 ", ".,"), (r"([\.,])([^0-9])", r" \1 \2", ".,"),
                  (r"([0-9])(-)", r"\1 \2 ", "-"))


@functools.cache  # one per tokenizer, so that its cache of lines is bounded as sacreBLEU's
def fast_tokenizer(name: str):
    """sacreBLEU's tokenizer ``name``, its post-tokenizer's rules made cheap: the first (which
    matches every space, and Python's re expands each match's template in Python) by str.replace,
    the others skipped on lines without the characters they need. The same tokens, several times
    faster. A tokenizer without those rules is sacreBLEU's as it is."""
    from sacrebleu.metrics import BLEU

    tokenizer = BLEU(tokenize=name).tokenizer
    rules = getattr(getattr(tokenizer, "_post_tokenizer", None), "_re", None)
    if [(r.pattern, s) for r, s in rules or []] != [(p, s) for p, s, _ in POST_TOKENIZER]:
        return tokenizer
    # the class is ASCII; the space first, so that each mark is spaced once, as the regex does
    marks = sorted((chr(c) for c in range(128) if rules[0][0].fullmatch(chr(c))), key=lambda c: c != " ")
    spaced = [(c, f" {c} ") for c in marks]
    others = [(regex, replacement, needs) for (regex, replacement), (_, _, needs) in zip(rules[1:], POST_TOKENIZER[1:])]

    def post_tokenize(line: str) -> str:
        for mark, replacement in spaced:
            if mark in line:
                line = line.replace(mark, replacement)
        for regex, replacement, needs in others:
            if any(c in line for c in needs):
                line = regex.sub(replacement, line)
        return " ".join(line.split())

    fast = copy.copy(tokenizer)
    fast._post_tokenizer = post_tokenize
    call = type(tokenizer).__call__
    return functools.lru_cache(maxsize=2 ** 16)(functools.partial(getattr(call, "__wrapped__", call), fast))


class References:
    """One test set's references, tokenized once with the target language's sacreBLEU tokenizer
    (``languages.bleu_tokenizer``), against which any number of systems' hypotheses are counted.

    The counting is sacreBLEU's (one reference per sentence; a hypothesis n-gram matches at most as
    often as its reference holds it) done on arrays rather than per sentence in Python, so that
    hundreds of pairs times a dozen systems take seconds: a token is its id in the references'
    vocabulary, an n-gram the id of (its (n-1)-gram prefix, its last token) among the references'
    n-grams, and a hypothesis n-gram the references do not hold anywhere matches nothing."""

    def __init__(self, references: Sequence[str], target_lang: str = ""):
        # sacreBLEU's preprocessing with its defaults (case kept): the tokenizer on the stripped line
        self.tokenize = fast_tokenizer(bleu_tokenizer(target_lang))
        self.vocab: dict[str, int] = {}
        tokens = [self.tokenize(r.rstrip()).split() for r in references]
        ids = np.asarray([self.vocab.setdefault(t, len(self.vocab)) for s in tokens for t in s], dtype=np.int64)
        self.lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        self.tables: list[np.ndarray] = []
        sentence, grams = self._grams(ids, self.lengths)
        # per order: the sorted (sentence, n-gram) keys of the references and their counts
        self.keys, self.counts = zip(*(np.unique(self._key(sentence, g, n), return_counts=True)
                                       for n, g in enumerate(grams)))

    def __len__(self) -> int:
        return len(self.lengths)

    def _grams(self, ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """The sentence of each token, and per order the id of the n-gram starting at each token:
        -1 where none starts there or the references hold none like it. The first call (the
        references) makes the tables of n-gram codes whose positions are the ids."""
        sentence = np.repeat(np.arange(len(lengths)), lengths)
        room = np.repeat(np.cumsum(lengths), lengths) - np.arange(len(ids))  # tokens left in the sentence
        grams, build = [ids], not self.tables
        if build:
            self.tables.append(np.arange(len(self.vocab)))
        for n in range(1, MAX_ORDER):
            last = ids[np.minimum(np.arange(len(ids)) + n, max(len(ids) - 1, 0))]
            ok = (room > n) & (grams[-1] >= 0) & (last >= 0)
            code = np.where(ok, grams[-1] * len(self.vocab) + last, -1)
            if build:
                self.tables.append(np.unique(code[ok]))
            table = self.tables[n]
            slot = np.minimum(np.searchsorted(table, code), max(len(table) - 1, 0))
            hit = ok & (table[slot] == code) if len(table) else np.zeros(len(ids), dtype=bool)
            grams.append(np.where(hit, slot, -1))
        return sentence, grams

    def _key(self, sentence: np.ndarray, gram: np.ndarray, n: int) -> np.ndarray:
        """(sentence, n-gram id) as one integer, for the n-grams the references hold."""
        held = gram >= 0
        return sentence[held] * len(self.tables[n]) + gram[held]

    def stats(self, hypotheses: Sequence[str]) -> np.ndarray:
        """sacreBLEU's sufficient statistics of each hypothesis: (n, 2 + 2 * 4) integers, columns
        hypothesis length, reference length, correct n-grams (n = 1..4), total n-grams (n = 1..4)."""
        if len(hypotheses) != len(self):
            raise ValueError(f"{len(hypotheses)} hypotheses but {len(self)} references")
        tokens = [self.tokenize(h.rstrip()).split() for h in hypotheses]
        ids = np.fromiter(map(self.vocab.get, itertools.chain.from_iterable(tokens), itertools.repeat(-1)), dtype=np.int64)
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        out = np.zeros((len(tokens), 2 + 2 * MAX_ORDER), dtype=np.int64)
        out[:, 0], out[:, 1] = lengths, self.lengths
        sentence, grams = self._grams(ids, lengths)
        for n, gram in enumerate(grams):
            keys, counts = np.unique(self._key(sentence, gram, n), return_counts=True)
            slot = np.minimum(np.searchsorted(self.keys[n], keys), max(len(self.keys[n]) - 1, 0))
            found = self.keys[n][slot] == keys if len(self.keys[n]) else np.zeros(len(keys), dtype=bool)
            matched = np.minimum(counts[found], self.counts[n][slot[found]])
            out[:, 2 + n] = np.bincount(keys[found] // len(self.tables[n]), matched, minlength=len(tokens))
            out[:, 2 + MAX_ORDER + n] = np.maximum(lengths - n, 0)
        return out


def sentence_stats(hypotheses: Sequence[str], references: Sequence[str], target_lang: str = "") -> np.ndarray:
    """``References.stats`` of ``hypotheses`` against ``references`` (target language ``target_lang``)."""
    return References(references, target_lang).stats(hypotheses)


def bleu_from_stats(stats: np.ndarray) -> np.ndarray:
    """Corpus BLEU of summed statistics (rows of ``sentence_stats`` summed; any leading shape), as
    sacreBLEU computes it with its defaults (exp smoothing, no effective order)."""
    stats = np.asarray(stats, dtype=np.float64)
    sys_len, ref_len = stats[..., 0], stats[..., 1]
    correct, total = stats[..., 2:2 + MAX_ORDER], stats[..., 2 + MAX_ORDER:]
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(sys_len >= ref_len, 1.0, np.exp(1 - ref_len / np.where(sys_len > 0, sys_len, 1)))
        bp = np.where((sys_len < ref_len) & (sys_len == 0), 0.0, bp)
        zero = correct == 0
        halvings = np.cumsum(zero, axis=-1)  # exp smoothing: 1/2, 1/4, ... of a match per zero order
        precision = np.where(zero, 100.0 / (2.0 ** halvings * total), 100.0 * correct / total)
        score = bp * np.exp(np.log(precision).mean(axis=-1))
    # no match at all, or an order without any n-gram: sacreBLEU gives 0
    return np.where(zero.all(axis=-1) | (total == 0).any(axis=-1), 0.0, score)


def resample_indices(pair: str, n: int, samples: int, seed: int = SEED) -> np.ndarray:
    """(samples, n) sentence indices drawn with replacement; the same for every system of ``pair``."""
    rng = np.random.default_rng([seed, zlib.crc32(pair.encode("utf-8")), n])
    return rng.integers(0, n, size=(samples, n))


def resample_counts(indices: np.ndarray) -> np.ndarray:
    """(samples, n) draws of ``resample_indices`` -> (samples, n) times each sentence is drawn."""
    samples, n = indices.shape
    counts = np.bincount((indices + n * np.arange(samples)[:, None]).ravel(), minlength=samples * n)
    return counts.reshape(samples, n).astype(np.min_scalar_type(counts.max(initial=0)))  # uint8: 1 MB a pair


@dataclass(frozen=True)
class Estimate:
    """A score on the full test sets and on each resample of them; differences and averages of
    estimates drawn from the same resamples are estimates too."""

    full: float
    resampled: np.ndarray

    def __sub__(self, other: "Estimate") -> "Estimate":
        return Estimate(self.full - other.full, self.resampled - other.resampled)

    @staticmethod
    def mean(estimates: Iterable["Estimate"]) -> "Estimate":
        estimates = list(estimates)
        return Estimate(float(np.mean([e.full for e in estimates])), np.mean([e.resampled for e in estimates], axis=0))

    def interval(self) -> "Interval":
        low, high = np.percentile(self.resampled, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
        n = len(self.resampled)
        below, above = int((self.resampled <= 0).sum()), int((self.resampled >= 0).sum())
        p = min(1.0, 2 * (min(below, above) + 1) / (n + 1))
        return Interval(float(self.full), float(low), float(high), p)


@dataclass(frozen=True)
class Interval:
    """A difference, its interval (the central 1 - ALPHA of its resampled values) and its two-sided
    bootstrap p-value."""

    value: float
    low: float
    high: float
    p: float

    @property
    def sign(self) -> int:
        """+1 when the interval lies above zero, -1 when below, 0 when it holds zero."""
        return 1 if self.low > 0 else -1 if self.high < 0 else 0

    def text(self) -> str:
        return f"{signed(self.value)}, {100 * (1 - ALPHA):g}% CI [{signed(self.low)}, {signed(self.high)}]"


def signed(x: float) -> str:
    """A BLEU difference with its sign: two decimals, or two significant digits below 0.01, so that
    a small difference never reads as zero."""
    return f"{x:+.2f}" if x == 0 or abs(x) >= 0.01 else f"{x:+.2g}"


class Resampled:
    """BLEU of systems on the same resamples of each pair's test set."""

    def __init__(self, references: dict[str, Sequence[str]], samples: int, seed: int = SEED):
        if samples < 1:
            raise ValueError("a bootstrap needs at least one resample")
        self.references = {pair: References(refs, Pair.parse(pair).tgt) for pair, refs in references.items()}
        self.samples = samples
        # how often each resample draws each sentence: a resample's statistics are then one row of
        # a matrix product, and the draws are kept in the smallest integer type that holds them
        self.draws = {pair: resample_counts(resample_indices(pair, len(refs), samples, seed))
                      for pair, refs in self.references.items()}
        self.scores: dict[tuple[str, str], Estimate] = {}

    def add(self, system: str, hypotheses: dict[str, Sequence[str]]) -> None:
        """A system's translations of every pair's test set (input order)."""
        for pair, refs in self.references.items():
            stats = refs.stats(hypotheses[pair]).astype(np.float64)  # sums of integers: exact below 2 ** 53
            self.scores[(system, pair)] = Estimate(float(bleu_from_stats(stats.sum(0))),
                                                   bleu_from_stats(self.draws[pair].astype(np.float64) @ stats))

    def __contains__(self, system: str) -> bool:
        return all((system, pair) in self.scores for pair in self.references)

    def bleu(self, system: str, pairs: Sequence[str] | None = None) -> Estimate:
        """The system's BLEU averaged over ``pairs`` (every pair when None; one pair: its BLEU)."""
        return Estimate.mean(self.scores[(system, pair)] for pair in (pairs or list(self.references)))

    def difference(self, system: str, reference: str, pairs: Sequence[str] | None = None) -> Interval:
        """``system`` minus ``reference``, averaged over ``pairs``."""
        return (self.bleu(system, pairs) - self.bleu(reference, pairs)).interval()


@dataclass(frozen=True)
class Permutation:
    """Mean of the values labelled True minus the mean of the others, and the one-sided p-value of
    a difference at least that large when the labels are shuffled within their strata."""

    difference: float
    p: float
    smallest_p: float  # the smallest p-value the labels allow: the test cannot go below it
    exact: bool        # every distinct labelling counted (else ``samples`` random ones)


def permutation_test(values: Sequence[float], labels: Sequence[bool], strata: Sequence[str] | None = None,
                     samples: int = 10000, seed: int = SEED, exact_up_to: int = 100000) -> Permutation:
    """One-sided permutation test that the values labelled True are larger. Labels move only
    within their stratum (``strata``: one name per value; all one stratum when None). Exact when
    the strata allow at most ``exact_up_to`` labellings (p = the share of labellings whose
    difference reaches the observed one), else ``samples`` random labellings and the observed one
    ((hits + 1) / (samples + 1))."""
    values, labels = np.asarray(values, dtype=float), np.asarray(labels, dtype=bool)
    strata = np.asarray(strata if strata is not None else ["all"] * len(values))
    if labels.all() or not labels.any():
        raise ValueError("a permutation test needs values of both labels")

    def statistic(lab: np.ndarray) -> np.ndarray:  # (..., n) labellings -> differences
        return (np.where(lab, values, 0).sum(-1) / lab.sum(-1)
                - np.where(lab, 0, values).sum(-1) / (~lab).sum(-1))

    observed = float(statistic(labels))
    groups = [np.flatnonzero(strata == s) for s in dict.fromkeys(strata.tolist())]
    counts = [math.comb(len(g), int(labels[g].sum())) for g in groups]
    total = math.prod(counts)
    tolerance = 1e-12 * max(1.0, abs(observed))
    if total <= exact_up_to:
        choices = [list(itertools.combinations(g, int(labels[g].sum()))) for g in groups]
        lab = np.zeros((total, len(values)), dtype=bool)
        for row, combo in enumerate(itertools.product(*choices)):
            lab[row, [i for part in combo for i in part]] = True
        hits = int((statistic(lab) >= observed - tolerance).sum())
        return Permutation(observed, hits / total, 1 / total, True)
    rng = np.random.default_rng(seed)
    lab = np.repeat(labels[None, :], samples, axis=0)
    for g in groups:
        lab[:, g] = rng.permuted(lab[:, g], axis=1)
    hits = int((statistic(lab) >= observed - tolerance).sum())
    return Permutation(observed, (hits + 1) / (samples + 1), 1 / (samples + 1), False)
