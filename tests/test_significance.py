"""The paired bootstrap and the permutation test against sacreBLEU's own scores and against cases
whose answers are counted by hand."""

import numpy as np
import pytest
from sacrebleu.metrics import BLEU

from neuralloc import significance
from neuralloc.significance import (ALPHA, Estimate, References, Resampled, bleu_from_stats, permutation_test,
                                    resample_indices, sentence_stats)

WORDS = "the a cat dog sat ran on under mat log red big small old new house tree river".split()


def _sentences(rng, n, lo=0, hi=12):
    return [" ".join(rng.choice(WORDS, rng.integers(lo, hi))) for _ in range(n)]


def test_bleu_of_summed_statistics_is_sacrebleus_corpus_bleu():
    """On resamples (sentences repeated, short and empty hypotheses, corpora without any 4-gram
    match), the BLEU of summed statistics equals sacreBLEU's corpus_score of the resampled text."""
    rng = np.random.default_rng(3)
    refs = _sentences(rng, 30, 1)
    hyps = [r if i % 3 == 0 else h for i, (r, h) in enumerate(zip(refs, _sentences(rng, 30)))]
    stats = sentence_stats(hyps, refs)
    bleu = BLEU()
    cases = [rng.integers(0, 30, 30) for _ in range(20)] + [np.array([1, 2]), np.array([4]), np.arange(30)]
    cases += [np.array([i]) for i in range(30) if not hyps[i]][:2]  # an empty hypothesis alone: BLEU 0
    for idx in cases:
        expected = bleu.corpus_score([hyps[i] for i in idx], [[refs[i] for i in idx]]).score
        assert bleu_from_stats(stats[idx].sum(0)) == pytest.approx(expected, abs=1e-9), idx
    batch = np.stack([stats[idx].sum(0) for idx in cases[:5]])
    assert bleu_from_stats(batch).tolist() == pytest.approx([float(bleu_from_stats(b)) for b in batch])


# Real-looking outputs: punctuation, numbers, hyphens, quotes, repeated n-grams (clipping), words the
# references never hold, empty lines; Chinese without spaces.
EN = ["The cat sat on the mat, didn't it?", "Prices rose 3.5% in 2019 -- a record.", "\"Yes,\" she said; \"yes, yes.\"",
      "the the the the", "New-York's mayor (aged 61) met the U.S. envoy.", "", "I paid $4,200.50 for it!",
      "Well... that's that.", "a b c d a b c d a b", "Hello world"]
ZH = ["我们今天去公园散步。", "他说：“你好，世界！”", "这是2019年的数据，增长了3.5%。", "", "天气很好天气很好",
      "我不知道他为什么没有来。", "北京是中国的首都", "请把门关上。", "他们在讨论人工智能的未来。", "好"]


def _outputs(rng, refs, n):
    """``n`` translations of ``refs`` (cycled): a reference with words dropped, repeated or swapped
    for others, the reference itself, or nothing."""
    words = " ".join(refs).split()
    out = []
    for i in range(n):
        ref = refs[i % len(refs)]
        toks = ref.split() if " " in ref else list(ref)
        kind = rng.integers(0, 5)
        if kind == 0:
            out.append(ref)
        elif kind == 1:
            out.append("")
        else:
            toks = [t for t in toks if rng.random() > 0.2] + [str(rng.choice(words))] * int(rng.integers(0, 3))
            out.append((" " if " " in ref else "").join(toks))
    return out


@pytest.mark.parametrize("name", ["13a", "zh", "char"])
def test_the_fast_tokenizers_give_sacrebleus_tokens(name):
    """Every ASCII character, entities, digits next to periods, commas and dashes, runs of
    punctuation and spaces, Chinese: the same tokens as sacreBLEU's own tokenizer."""
    rng = np.random.default_rng(6)
    alphabet = list("ab1 9.,-&;:'\"()[]{}/?!<>$%@#*+=_`~^|\\") + ["&amp;", "&quot;", "<skipped>", "中", "。", "\n", "-\n", "\t"]
    lines = EN + ZH + ["".join(map(chr, range(32, 127)))]
    lines += ["".join(rng.choice(alphabet, rng.integers(0, 30))) for _ in range(2000)]
    ours, theirs = significance.fast_tokenizer(name), BLEU(tokenize=name).tokenizer
    assert [ours(x) for x in lines] == [theirs(x) for x in lines]
    assert isinstance(ours, type(theirs)) == (name == "char")  # no regexp post-tokenizer: sacreBLEU's own


@pytest.mark.parametrize("lang, refs", [("en", EN), ("zh", ZH)])
def test_sentence_statistics_are_sacrebleus(lang, refs):
    """The array counting gives sacreBLEU's statistics with the target language's tokenizer (zh:
    sacreBLEU's "zh"), sentence for sentence, for outputs that share some n-grams and not others."""
    from neuralloc.languages import bleu_tokenizer

    rng = np.random.default_rng(4)
    refs = [refs[i % len(refs)] for i in range(60)]
    hyps = _outputs(rng, refs[::-1], 60) if lang == "en" else _outputs(rng, refs, 60)
    expected = BLEU(tokenize=bleu_tokenizer(lang))._extract_corpus_statistics(hyps, [refs])
    assert bleu_tokenizer("zh") == "zh"
    assert sentence_stats(hyps, refs, lang).tolist() == expected
    assert References(refs, lang).stats(refs).tolist() == BLEU(tokenize=bleu_tokenizer(lang))._extract_corpus_statistics(refs, [refs])
    if lang == "zh":  # 13a would split Chinese differently: the tokenizer matters
        assert sentence_stats(hyps, refs).tolist() != expected


@pytest.mark.parametrize("lang, refs", [("en", EN), ("zh", ZH)])
def test_the_bootstrap_is_sacrebleus_paired_bootstrap(monkeypatch, lang, refs):
    """Given sacreBLEU's own draws (``significance._paired_bs_test``: numpy's default_rng(12345),
    ``choice(n, (samples, n))``), the resampled BLEU of each system, the baseline's and the system's
    bootstrap mean and 95% interval, and sacreBLEU's paired p-value computed from our resampled
    scores are those of sacreBLEU's PairedTest."""
    from sacrebleu.significance import PairedTest, _compute_p_value

    from neuralloc.languages import bleu_tokenizer

    rng = np.random.default_rng(5)
    refs = [refs[i % len(refs)] for i in range(80)]
    base, system = _outputs(rng, refs, 80), _outputs(rng, refs, 80)
    n, samples = len(refs), 300
    draws = np.random.default_rng(12345).choice(n, size=(samples, n), replace=True)
    monkeypatch.setattr(significance, "resample_indices", lambda *args, **kw: draws)
    monkeypatch.delenv("SACREBLEU_SEED", raising=False)
    pair = f"xx-{lang}"
    ours = Resampled({pair: refs}, samples)
    ours.add("base", {pair: base})
    ours.add("system", {pair: system})

    metric = BLEU(tokenize=bleu_tokenizer(lang))
    _, results = PairedTest([("base", base), ("system", system)], {"BLEU": metric}, [refs], "bs", samples)()
    bl, sy = results["BLEU"]
    stats = np.asarray(metric._extract_corpus_statistics(system, [refs]), dtype="float32")
    resampled = [metric._compute_score_from_stats(s.sum(0)).score for s in stats[draws]]
    # sacreBLEU scores its resamples from float32 sums; ours are exact (text rescoring agrees to 1e-9)
    assert ours.bleu("system").resampled == pytest.approx(resampled, rel=1e-6)
    for j in (0, 7, samples - 1):  # and a few resamples rescored from their text
        text = metric.corpus_score([system[i] for i in draws[j]], [[refs[i] for i in draws[j]]]).score
        assert ours.bleu("system").resampled[j] == pytest.approx(text, abs=1e-9)
    for result, name in ((bl, "base"), (sy, "system")):
        assert ours.bleu(name).full == pytest.approx(result.score, abs=1e-9)
        scores = np.sort(ours.bleu(name).resampled)
        assert scores.mean() == pytest.approx(result.mean, rel=1e-6)
        assert 0.5 * (scores[samples - samples // 40 - 1] - scores[samples // 40]) == pytest.approx(result.ci, rel=1e-5)
    differences = np.abs(ours.bleu("system").resampled - ours.bleu("base").resampled)
    observed = abs(ours.bleu("system").full - ours.bleu("base").full)
    assert _compute_p_value(differences - differences.mean(), observed) == pytest.approx(sy.p_value)
    assert 0 < sy.p_value < 1


def test_two_sentences_each_system_gets_one_right():
    """A translates sentence 1 exactly and leaves sentence 2 empty; B the other way round. A
    resample of sentence 1 twice gives A 100 and B 0 (+100), sentence 2 twice -100, one of each
    0 (both get the same brevity penalty): P = 1/4, 1/2, 1/4. On the full set they tie."""
    refs = {"x-y": ["one two three four five", "six seven eight nine ten"]}
    r = Resampled(refs, samples=4000)
    r.add("a", {"x-y": [refs["x-y"][0], ""]})
    r.add("b", {"x-y": ["", refs["x-y"][1]]})
    diff = r.difference("a", "b")
    assert diff.value == pytest.approx(0.0)
    assert (diff.low, diff.high) == (pytest.approx(-100.0), pytest.approx(100.0))
    shares = {v: np.mean(np.isclose((r.bleu("a") - r.bleu("b")).resampled, v)) for v in (-100, 0, 100)}
    assert shares == {-100: pytest.approx(0.25, abs=0.03), 0: pytest.approx(0.5, abs=0.03), 100: pytest.approx(0.25, abs=0.03)}
    assert diff.p == 1.0 and diff.sign == 0
    assert r.bleu("a").full == pytest.approx(100 * np.exp(1 - 2))  # half the reference length: BP e^-1


def test_the_same_translations_differ_by_nothing_and_a_constant_difference_is_sure():
    refs = {"x-y": ["the cat sat on the mat today", "a dog ran under the old tree"], "y-x": ["one two three four"]}
    r = Resampled(refs, samples=500)
    good = {"x-y": refs["x-y"], "y-x": refs["y-x"]}
    r.add("a", good)
    r.add("same", good)
    r.add("half", {"x-y": refs["x-y"], "y-x": ["one two"]})
    same = r.difference("same", "a")
    assert (same.value, same.low, same.high, same.p, same.sign) == (0.0, 0.0, 0.0, 1.0, 0)
    # y-x has one sentence: every resample is that sentence, so the difference never varies. "one
    # two" has no trigram at all, which sacreBLEU scores 0; the exact translation scores 100.
    only = r.difference("a", "half", ["y-x"])
    assert only.low == only.high == only.value == pytest.approx(100.0)
    assert only.p == pytest.approx(2 / 501) and only.sign == 1
    average = r.difference("a", "half")  # x-y adds nothing: the average gain is half of y-x's
    assert average.value == pytest.approx(50.0) and average.low == pytest.approx(50.0)


def test_every_system_of_a_pair_is_scored_on_the_same_resamples():
    a, b = resample_indices("it-en", 50, 10), resample_indices("it-en", 50, 10)
    assert (a == b).all() and a.shape == (10, 50) and a.max() < 50
    assert not (resample_indices("en-it", 50, 10) == a).all()  # another pair, other draws
    assert Estimate.mean([Estimate(1.0, np.array([1.0, 3.0])), Estimate(3.0, np.array([3.0, 5.0]))]).full == 2.0


def test_permutation_test_counts_labellings_by_hand():
    """Ten comparisons, three related: 120 labellings. Related values the three largest: only the
    observed labelling reaches its difference (p = 1/120). With the related 0.9, 0.8, 0.5 and the
    largest unrelated 0.6: labellings whose three values sum to 2.2 or more are {0.9, 0.8, 0.6} and
    {0.9, 0.8, 0.5}: p = 2/120."""
    unrelated = [0.6, 0.4, 0.3, 0.2, 0.1, 0.05, 0.0]
    values = [0.9, 0.8, 0.7] + unrelated
    labels = [True] * 3 + [False] * 7
    test = permutation_test(values, labels)
    assert test.exact and test.p == pytest.approx(1 / 120) and test.smallest_p == pytest.approx(1 / 120)
    assert test.difference == pytest.approx(0.8 - np.mean(unrelated))
    values[2] = 0.5
    assert permutation_test(values, labels).p == pytest.approx(2 / 120)
    # sampled labellings agree with the exact count
    sampled = permutation_test(values, labels, exact_up_to=10, samples=20000)
    assert not sampled.exact and sampled.p == pytest.approx(2 / 120, abs=0.004)


def test_permutation_test_shuffles_within_strata():
    """Two strata of three comparisons, one related in each: 3 x 3 = 9 labellings. Stratum s: related
    1.0 against 0.0, 0.1; stratum t: related 0.2 against 0.9, 0.15. With two related values S of six
    (sum 2.35) the difference is S/2 - (2.35 - S)/4, rising with S; observed S = 1.2. Within strata the
    labellings reaching S >= 1.2 are (1.0, 0.2) and (1.0, 0.9): p = 2/9. Unstratified, of the 15 ways
    to pick 2 of 6 the same two reach it and (1.0, 0.15) = 1.15 does not: p = 2/15."""
    values = [1.0, 0.0, 0.1, 0.2, 0.9, 0.15]
    labels = [True, False, False, True, False, False]
    test = permutation_test(values, labels, ["s", "s", "s", "t", "t", "t"])
    assert test.difference == pytest.approx(1.2 / 2 - 1.15 / 4)
    assert test.p == pytest.approx(2 / 9) and test.smallest_p == pytest.approx(1 / 9)
    assert permutation_test(values, labels).p == pytest.approx(2 / 15)
    with pytest.raises(ValueError):
        permutation_test([1.0, 2.0], [True, True])


def test_alpha_is_the_level_of_the_intervals():
    r = Resampled({"x-y": [f"w{i} w{i + 1} w{i + 2} w{i + 3}" for i in range(40)]}, samples=2000)
    r.add("a", {"x-y": [f"w{i} w{i + 1} w{i + 2} w{i + 3}" if i % 2 else "" for i in range(40)]})
    r.add("b", {"x-y": [f"w{i} w{i + 1} w{i + 2} w{i + 3}" if i % 3 else "" for i in range(40)]})
    d = r.bleu("b") - r.bleu("a")
    interval = d.interval()
    assert np.mean(d.resampled < interval.low) == pytest.approx(ALPHA / 2, abs=0.005)
    assert np.mean(d.resampled > interval.high) == pytest.approx(ALPHA / 2, abs=0.005)
