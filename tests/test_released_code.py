"""The released code's reading against an independent transcription of the authors' code
(tests/fixtures/fairseq09.py): fairseq 0.9's batches, importance summed over them, and the
allocation's edge rules (int(W·ρ), torch.topk's ties, Eq. 9's threshold in double)."""

import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from fairseq09 import focus_batches, released_importance, released_masks

from neuralloc import layout, readings
from neuralloc.allocate import allocate, allocate_site, n_general
from neuralloc.binarized import write_indexed
from neuralloc.data import ParallelData, round_robin_batches
from neuralloc.importance import importance, importance_batches
from neuralloc.languages import Pair
from neuralloc.model import ModelConfig, Transformer
from neuralloc.vocab import Vocabulary

# pairs of different sizes, in an order that is not sorted by anything
SIZES = {"ro-en": 23, "en-it": 37, "it-en": 5, "en-ro": 12}
SYMBOLS = [f"w{i}" for i in range(10)]
CODE = readings.of_name("code")
RULES = {o: CODE[o] for o in ("general_count", "general_ties", "threshold_rounding")}
PAPER_RULES = {o: readings.of_name("paper")[o] for o in RULES}


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    """A dev set of four pairs with different sizes and length distributions (short and long
    sentences, many equal lengths, targets longer or shorter than sources)."""
    root = tmp_path_factory.mktemp("dev")
    rng = random.Random(3)
    vocab = Vocabulary.build(SYMBOLS, sorted({Pair.parse(p).tgt for p in SIZES}))
    vocab.save(layout.vocab(str(root)))
    for k, (pair, n) in enumerate(SIZES.items()):
        src = [[rng.choice(SYMBOLS) for _ in range(rng.choice([1, 2, 3, 3, 5, 8, 13, 21]))] for _ in range(n)]
        tgt = [s[: max(1, len(s) - k)] if k % 2 else s + s[: rng.randint(0, 4)] for s in src]
        for side, lines in (("src", src), ("tgt", tgt)):
            write_indexed(layout.encoded(str(root), "dev", pair, side), [vocab.encode(" ".join(x)) for x in lines])
    data = ParallelData.from_experiment(root, "dev", list(SIZES), vocab, 64)
    torch.manual_seed(0)
    model = Transformer(ModelConfig(vocab_size=len(vocab), d_model=16, ffn_dim=24, heads=2, encoder_layers=2,
                                    decoder_layers=2, dropout=0.3, max_positions=64))
    return data, model


@pytest.mark.parametrize("max_tokens", [2048, 400, 150, 60, 25])
def test_fairseq_batches_are_fairseqs(dev, max_tokens):
    """Each pair's part of each batch, sentence for sentence and in order, as fairseq 0.9 batches
    the zipped dev sets (seeded order, round robin, cut at max_tokens, trimmed to multiples of 8)."""
    data, _ = dev
    for p, pair in enumerate(data.pairs):
        assert importance_batches(data, p, "fairseq", max_tokens) == focus_batches(data, pair, max_tokens)
    zipped = round_robin_batches(data, max_tokens)
    rows = [len(b) // len(SIZES) for b in zipped]
    assert sum(rows) == max(SIZES.values())  # as many rows as the largest pair has sentences
    if max_tokens in (400, 150):  # full batches trimmed to 8 or 16 rows, the rest carried over
        assert len(zipped) > 2 and rows[0] % 8 == 0
    if max_tokens <= 60:  # fewer than 8 rows fit: batches kept whole
        assert len(zipped) > 10 and max(rows) < 8
    small = [i for b in importance_batches(data, data.pairs.index("it-en"), "fairseq", max_tokens) for _, i in b]
    assert sorted(set(small)) == list(range(5)) and len(small) == 37  # a smaller pair starts over


class Side(list):
    """One side of a pair as batching reads ``ParallelData.src[p]`` (``data.Sentences``): its
    sentences and their lengths."""

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self], dtype=np.int64)


def test_fairseq_batches_of_random_dev_sets_at_many_batch_sizes():
    """Random dev sets (2 to 4 pairs of 3 to 40 sentences, few distinct lengths, some long ones),
    cut at many batch sizes: every branch of fairseq's cut is taken (a batch kept whole below 8
    rows, trimmed to a multiple of 8, rows carried over that are longer than the next)."""
    rng = random.Random(0)
    for trial in range(30):
        pairs = list(SIZES)[: rng.randint(2, 4)]
        lengths = [[(rng.choice([1, 1, 1, 1, 1, 1, 2, 18]), rng.choice([1, 1, 2, 2])) for _ in range(rng.randint(3, 40))]
                   for _ in pairs]
        data = SimpleNamespace(pairs=pairs, src=[Side(np.zeros(x + 2) for x, _ in p) for p in lengths],
                               tgt=[Side(np.zeros(y) for _, y in p) for p in lengths])  # our layout: <2tgt> x </s>
        for max_tokens in range(21, 300, 5):
            parts = zip(*(focus_batches(data, pair, max_tokens) for pair in pairs))  # batch -> each pair's part
            expected = [[item for part in batch for item in part] for batch in parts]
            assert round_robin_batches(data, max_tokens) == expected, (trial, max_tokens)


def test_the_random_stream_runs_across_pairs_in_their_order(dev):
    """One seeded stream drawn pair after pair: another seed gives other batches, and fairseq's
    with that seed."""
    data, _ = dev
    p = data.pairs.index("en-it")
    seeded = [[i for q, i in b if q == p] for b in round_robin_batches(data, 60, seed=2)]
    assert seeded != [[i for _, i in b] for b in importance_batches(data, p, "fairseq", 60)]
    assert seeded == [[i for _, i in b] for b in focus_batches(data, "en-it", 60, seed=2)]


@pytest.mark.parametrize("method", ["te", "av"])
def test_released_code_importance_is_the_authors_sum_over_their_batches(dev, method):
    """importance.py's loop (hooks, summed NLL, per-batch means over every position) on the same
    model and batches: the same vectors."""
    data, model = dev
    for p, pair in enumerate(data.pairs):
        got, _ = importance(model, data, p, method, label_smoothing=0.0, normalisation="batch_mean_sum",
                            batches="fairseq", max_tokens=60)
        ref = released_importance(model, data, pair, method, max_tokens=60)
        assert set(got) == set(ref)
        for site in ref:
            torch.testing.assert_close(got[site], ref[site].float(), rtol=1e-5, atol=1e-7)


def test_the_paper_reading_does_not_depend_on_the_batches(dev):
    """A mean over real tokens: the same with either batches (but for rounding) where they hold the
    same sentences (the largest pair: fairseq's round robin repeats only the smaller ones)."""
    data, model = dev
    p = data.pairs.index("en-it")
    a, _ = importance(model, data, p, "te", max_tokens=60)
    b, _ = importance(model, data, p, "te", batches="fairseq", max_tokens=60)
    for site in a:
        torch.testing.assert_close(a[site], b[site], rtol=1e-4, atol=1e-6)


# ---- allocation's edge rules against importance_mask.py -------------------------------------

def test_general_count_int_against_floor():
    """int(W·ρ) (theirs) and floor(ρW + 1e-9) (ours) differ where ρW falls just below an integer."""
    differ = [w for w in range(1, 4097) if n_general(w, 0.7, "int") != n_general(w, 0.7, "floor")]
    assert differ[:3] == [90, 170, 180] and len(differ) == 70
    assert all(n_general(w, 0.7, "int") == int(w * 0.7) for w in (90, 170, 512, 2048))
    theta = np.random.default_rng(0).random((3, 90)).astype(np.float32)
    assert allocate_site(theta, 0.7, 0.9, "gt", **RULES)[0].sum() == 62
    assert allocate_site(theta, 0.7, 0.9, "gt")[0].sum() == 63


def _as_masks(sets, pairs, widths):
    return {p: {s: np.isin(np.arange(widths[s]), sorted(keep)) for s, keep in sets[j].items()} for j, p in enumerate(pairs)}


def test_released_code_allocation_is_importance_masks(dev):
    """Randomised importance with ties (dead units at exactly 0, repeated values), widths where
    int(W·ρ) and floor differ, values at the threshold: every mask entry as importance_mask.py
    computes it; the paper's edge rules differ on some."""
    pairs = list(SIZES)
    rng = np.random.default_rng(7)
    widths = {f"decoder.layers.{i}.ffn.fc1": w for i, w in enumerate((90, 170, 180, 64, 33, 200))}
    differing = 0
    for trial in range(20):
        imp = {p: {} for p in pairs}
        for s, w in widths.items():
            levels = rng.integers(0, 6, size=(len(pairs), w)).astype(np.float32) / 4  # many ties, zeros included
            levels[:, rng.random(w) < 0.2] = 0.0  # dead units: zero for every pair
            noise = rng.random((len(pairs), w)).astype(np.float32) * (rng.random(w) < 0.3)
            for j, p in enumerate(pairs):
                imp[p][s] = levels[j] + noise[j]
        ref = _as_masks(released_masks([{s: torch.from_numpy(v) for s, v in imp[p].items()} for p in pairs]),
                        pairs, widths)
        _, ours = allocate(imp, pairs, 0.7, 0.9, "pair", threshold="gt", **RULES)
        for p in pairs:
            for s in widths:
                assert (ours[p][s] == ref[p][s]).all(), (trial, p, s)
        _, paper_rules = allocate(imp, pairs, 0.7, 0.9, "pair", threshold="gt", **PAPER_RULES)
        differing += sum(int((paper_rules[p][s] != ref[p][s]).sum()) for p in pairs for s in widths)
    assert differing > 0


def test_threshold_in_double_against_float32():
    """k · max rounded once from double (theirs: a Python float against a float32 tensor) or
    computed in float32: a value between the two is specific under one rule only."""
    rng = np.random.default_rng(1)
    for m in rng.random(10000).astype(np.float32) + np.float32(0.5):
        in_f32 = np.float32(np.float32(0.9) * m)
        in_f64 = np.float32(0.9 * float(m))
        if in_f32 != in_f64:
            break
    else:
        pytest.fail("no float32 value where the two roundings differ")
    x = max(in_f32, in_f64)  # above the lower bound, at the higher one
    theta = np.array([[m], [x]], dtype=np.float32)
    ref = released_masks([{"s": torch.tensor([m])}, {"s": torch.tensor([x])}], ratio=0.0, partion=0.9)
    got = allocate_site(theta, 0.0, 0.9, "gt", **RULES)[1]
    assert got[:, 0].tolist() == [0 in ref[0]["s"], 0 in ref[1]["s"]]
    assert allocate_site(theta, 0.0, 0.9, "gt", threshold_rounding="float32")[1][1, 0] != got[1, 0]


def test_edge_rules_are_options_of_the_released_code_reading():
    code, paper = readings.of_name("code"), readings.of_name("paper")
    assert (code["general_count"], code["general_ties"], code["threshold_rounding"], code["importance_batches"]) == \
        ("int", "topk", "float64", "fairseq")
    assert all(paper[o] == readings.OPTIONS[o][0] for o in readings.OPTIONS)
