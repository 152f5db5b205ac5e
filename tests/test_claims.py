"""The claims rule on hand-made tables, figure numbers and resampled scores whose verdicts are
known: every BLEU comparison is decided by its interval, the similar-languages claim by a
permutation test over pairs that hold one side fixed."""

import numpy as np
import pandas as pd
import pytest

from neuralloc import claims
from neuralloc.claims import HELD, INCONCLUSIVE, NOT_HELD, NOT_RUN
from neuralloc.significance import Estimate, Resampled

TE, AV = "method-te-r0.9-k0.7-pair-paper", "method-av-r0.9-k0.7-pair-paper"
PAIRS = ("it-en", "en-it")
SAMPLES = 2000


def resampled(bleu: dict[str, float | dict[str, float]], pairs=PAIRS) -> Resampled:
    """Scores on SAMPLES resamples: each system's BLEU per pair (one number: the same on every
    pair) plus noise shared by every system of a pair (the test set's) and noise of its own (sd 1).
    A difference of the average over two pairs then has sd 1: 3 BLEU is sure, 0.3 is not."""
    r = Resampled({p: ["x"] for p in pairs}, SAMPLES)
    rng = np.random.default_rng(0)
    shared = {p: rng.normal(0, 2, SAMPLES) for p in pairs}
    for system, value in bleu.items():
        for p in pairs:
            v = value[p] if isinstance(value, dict) else value
            r.scores[(system, p)] = Estimate(v, v + shared[p] + rng.normal(0, 1, SAMPLES))
    return r


BLEU = {"multilingual": 20.0, "continued": 20.3, TE: 25.0, AV: 24.8, "ts": 21.0, "adapter": 21.5}


def main_table(**params) -> pd.DataFrame:
    sizes = {"ts": 120e6, "adapter": 77e6, **params}
    return pd.DataFrame([{"system": s, "ave_bleu": b, "parameters": sizes.get(s, 64e6)} for s, b in BLEU.items()])


def test_a_gain_holds_where_its_interval_lies_above_zero():
    r = resampled(BLEU | {"lower": 15.0, "split": {"it-en": 26.0, "en-it": 14.0}})
    held = claims.gain_claim("c", "p", r, TE, "multilingual")
    assert held.verdict == HELD and "25.00 vs 20.00 (+5.00, 95% CI [" in held.measured
    assert claims.gain_claim("c", "p", r, "continued", "multilingual").verdict == INCONCLUSIVE  # +0.3: within the noise
    assert claims.gain_claim("c", "p", r, "lower", "multilingual").verdict == NOT_HELD
    assert claims.gain_claim("c", "p", r, "split", "multilingual").verdict == INCONCLUSIVE  # +6 and -6: no average gain
    assert claims.gain_claim("c", "p", r, TE, "nope").verdict == NOT_RUN
    assert claims.gain_claim("c", "p", r, None, "multilingual").verdict == NOT_RUN
    no_test = claims.gain_claim("c", "p", None, TE, "multilingual")
    assert no_test.verdict == NOT_RUN and "significance_samples is 0" in no_test.why


def test_small_scores_need_no_fixed_threshold():
    """6.31 against 4.9 BLEU decides nothing by itself: a sure difference between small scores
    holds, an unsure one between large scores does not."""
    r = resampled({"multilingual": 1.0, "m": 4.0, "big": 30.0, "bigger": 30.3})
    assert claims.gain_claim("c", "p", r, "m", "multilingual").verdict == HELD
    assert claims.gain_claim("c", "p", r, "bigger", "big").verdict == INCONCLUSIVE


def test_the_parameter_heavy_baselines():
    r = resampled(BLEU)
    assert claims.beats_parameter_heavy_baselines(main_table(), r, TE).verdict == HELD
    assert claims.beats_parameter_heavy_baselines(main_table(adapter=50e6), r, TE).verdict == NOT_HELD  # fewer than ours
    assert claims.beats_parameter_heavy_baselines(main_table(), resampled(BLEU | {"ts": 24.9}), TE).verdict == INCONCLUSIVE
    assert claims.beats_parameter_heavy_baselines(main_table(), resampled(BLEU | {"adapter": 30.0}), TE).verdict == NOT_HELD
    assert claims.beats_parameter_heavy_baselines(main_table().iloc[:-1], r, TE).verdict == NOT_RUN  # no +Adapter


def correlation(values: dict[str, float], pairs: list[str]) -> pd.DataFrame:
    """The figure's CSV: per module kind a matrix; ffn holds ``values`` (keyed "a b"), self_attn the
    same plus 0.1, so their mean is the value plus 0.05."""
    rows = []
    for kind, shift in (("ffn", 0.0), ("self_attn", 0.1)):
        for a in pairs:
            rows.append({"kind": kind, "pair": a, **{b: 1.0 if a == b else values.get(f"{a} {b}", values.get(f"{b} {a}")) + shift
                                                     for b in pairs}})
    return pd.DataFrame(rows)


O2M = ["en-es", "en-pt", "en-fr", "en-fi", "en-tr"]  # source fixed: Es, Pt, Fr related; Fi, Tr not


def o2m(related: list[float], unrelated: list[float]) -> pd.DataFrame:
    names = [f"{a} {b}" for i, a in enumerate(O2M) for b in O2M[i + 1:]]
    rel = [n for n in names if all(p in ("en-es", "en-pt", "en-fr") for p in n.split())]
    values = dict(zip(rel, related)) | dict(zip([n for n in names if n not in rel], unrelated))
    return correlation(values, O2M)


def test_similar_languages_by_a_permutation_test_with_one_side_fixed():
    """Ten comparisons with the source fixed (three related): related correlations the three largest
    give p = 1/120; the reverse, p = 1/120 for the opposite test; mixed, neither."""
    unrelated = [0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    held = claims.similar_languages_share(o2m([0.9, 0.8, 0.7], unrelated))
    assert held.verdict == HELD and "p = 0.008" in held.measured
    assert "0.850 (3 related) vs 0.350 (7 unrelated)" in held.measured  # means over both module kinds
    assert claims.similar_languages_share(o2m([-0.1, -0.2, -0.3], unrelated)).verdict == NOT_HELD
    assert claims.similar_languages_share(o2m([0.6, 0.3, 0.0], [0.5, 0.4, 0.2, 0.1, 0.7, -0.1, 0.35])).verdict == INCONCLUSIVE


def test_similar_languages_not_run_where_no_side_can_be_held_fixed_against_an_unrelated_language():
    # the demo: It and Ro are related, English is on every pair: no unrelated comparison
    demo = ["it-en", "en-it", "ro-en", "en-ro"]
    values = {f"{a} {b}": 0.8 for i, a in enumerate(demo) for b in demo[i + 1:]}
    verdict = claims.similar_languages_share(correlation(values, demo))
    assert verdict.verdict == NOT_RUN and "none" in verdict.why
    # one related and two unrelated comparisons: 3 labellings, p cannot go below 1/3
    three = ["en-es", "en-pt", "en-fi"]
    few = claims.similar_languages_share(correlation({"en-es en-pt": 0.9, "en-es en-fi": 0.1, "en-pt en-fi": 0.1}, three))
    assert few.verdict == NOT_RUN and "0.333" in few.why
    assert claims.similar_languages_share(None).verdict == NOT_RUN


def test_related_comparisons_hold_one_side_fixed():
    table = claims.related_comparisons(["it-en", "ro-en", "de-en", "en-it", "it-ro"])
    got = {(a, b): (fixed, related) for a, b, fixed, related in table.itertuples(index=False)}
    assert got == {("it-en", "ro-en"): ("tgt en", True), ("it-en", "de-en"): ("tgt en", False),
                   ("ro-en", "de-en"): ("tgt en", False), ("it-en", "it-ro"): ("src it", False)}


def lscore(values_by_layer: list[float]) -> pd.DataFrame:
    return pd.DataFrame([{"side": side, "layer": layer, "pair": pair, "lscore": v}
                         for side in ("encoder", "decoder") for layer, v in enumerate(values_by_layer)
                         for pair in ("a", "b")])


def test_lscore_and_mscore_shapes():
    assert claims.lscore_peaks_inside(lscore([0.1, 0.4, 0.3, 0.2])).verdict == HELD
    assert claims.lscore_peaks_inside(lscore([0.1, 0.2, 0.3, 0.4])).verdict == NOT_HELD
    assert claims.lscore_peaks_inside(lscore([0.1, 0.4])).verdict == NOT_RUN
    rows = [{"side": "encoder", "layer": layer, "kind": kind, "mscore": v}
            for layer in range(3) for kind, v in (("self_attn", 0.97), ("ffn", 0.9 - 0.2 * layer))]
    assert claims.mscore_shape(pd.DataFrame(rows)).verdict == HELD
    rising = [{**r, "mscore": 0.1 + r["layer"] * 0.2} if r["kind"] == "ffn" else r for r in rows]
    assert claims.mscore_shape(pd.DataFrame(rising)).verdict == NOT_HELD
    low_attention = [{**r, "mscore": 0.5} if r["kind"] == "self_attn" else r for r in rows]
    assert claims.mscore_shape(pd.DataFrame(low_attention)).verdict == NOT_HELD
    two_layers = pd.DataFrame([r for r in rows if r["layer"] < 2])  # two points are no trend
    assert claims.mscore_shape(two_layers).verdict == NOT_RUN


def sweep(names) -> pd.DataFrame:
    return pd.DataFrame({"system": list(names)})


def test_best_k():
    k = {f"method-{i}-r0.9-k{k}-pair-paper": b for i in ("te", "av") for k, b in (("0.5", 20.0), ("0.7", 24.0), ("1", 21.0))}
    assert claims.best_k(sweep(k), resampled(k)).verdict == HELD
    av_best_at_1 = k | {"method-av-r0.9-k1-pair-paper": 28.0}
    assert claims.best_k(sweep(k), resampled(av_best_at_1)).verdict == NOT_HELD
    close = k | {"method-te-r0.9-k0.5-pair-paper": 23.8}  # TE at 0.5 as good as at 0.7, within the noise
    assert claims.best_k(sweep(k), resampled(close)).verdict == INCONCLUSIVE
    two = {s: b for s, b in k.items() if "k1-" not in s}  # the demo's two settings
    assert claims.best_k(sweep(two), resampled(two)).verdict == NOT_RUN
    assert claims.best_k(sweep(k), None).verdict == NOT_RUN


def test_best_rho_and_the_pair_allocation():
    rho = {f"method-te-r{r}-k0.7-pair-paper": b for r, b in (("0.8", 20.0), ("0.9", 24.0), ("0.95", 21.0))}
    assert claims.best_rho(sweep(rho), resampled(rho)).verdict == HELD
    assert claims.best_rho(sweep(rho), resampled(rho | {"method-te-r0.8-k0.7-pair-paper": 30.0})).verdict == NOT_HELD
    assert claims.best_rho(sweep(rho), resampled(rho | {"method-te-r0.8-k0.7-pair-paper": 24.2})).verdict == INCONCLUSIVE
    assert claims.best_rho(sweep(list(rho)[1:]), resampled(rho)).verdict == NOT_RUN
    variants = {f"method-te-r0.9-k0.7-{v}-paper": b for v, b in (("pair", 24.0), ("source", 20.0), ("separate", 19.0))}
    assert claims.pair_allocation_best(sweep(variants), resampled(variants)).verdict == HELD
    better_source = variants | {"method-te-r0.9-k0.7-source-paper": 28.0}
    assert claims.pair_allocation_best(sweep(variants), resampled(better_source)).verdict == NOT_HELD


ERASURE = {"runs": [["general 20%", "g"], ["it-en specific 50%", "s-it-en"], ["en-it specific 50%", "s-en-it"]],
           "reference": TE}


def test_erasure():
    r = {TE: 30.0, "g": 12.0, "s-it-en": {"it-en": 22.0, "en-it": 29.0}, "s-en-it": {"it-en": 29.5, "en-it": 21.0}}
    general, specific = claims.erasure_claims(ERASURE, PAIRS, resampled(r))
    assert general.verdict == HELD and specific.verdict == HELD
    general, specific = claims.erasure_claims(ERASURE, PAIRS, resampled(r | {"g": {"it-en": 12.0, "en-it": 29.0}}))
    assert general.verdict == NOT_HELD  # en-it loses 1, surely less than 5
    general, _ = claims.erasure_claims(ERASURE, PAIRS, resampled(r | {"g": {"it-en": 12.0, "en-it": 25.5}}))
    assert general.verdict == INCONCLUSIVE  # en-it loses 4.5 +- 3
    _, specific = claims.erasure_claims(ERASURE, PAIRS, resampled(r | {"s-en-it": {"it-en": 20.0, "en-it": 28.0}}))
    assert specific.verdict == NOT_HELD  # en-it's neurons hurt it-en most
    assert {v.verdict for v in claims.erasure_claims(None, PAIRS, resampled(r))} == {NOT_RUN}


def test_make_claims_writes_every_claim(tmp_path):
    main = tmp_path / "main.csv"
    main_table().to_csv(main, index=False)
    hyps, refs = [], []
    for pair in PAIRS:
        ref = tmp_path / f"ref.{pair}"
        ref.write_text("".join(f"the cat {i} sat on the mat today\n" for i in range(30)))
        refs.append(str(ref))
    for system in ("multilingual", TE):
        for pair in PAIRS:
            hyp = tmp_path / f"{system}.{pair}"
            hyp.write_text((tmp_path / f"ref.{pair}").read_text() if system == TE else "a dog\n" * 30)
            hyps.append(str(hyp))
    out_csv, out_md = tmp_path / "claims.csv", tmp_path / "claims.md"
    claims.make_claims(["main"], [str(main)], [], [], {"te": TE, "av": AV}, list(PAIRS), 50, hyps,
                       ["multilingual", TE], refs, str(out_csv), str(out_md), str(tmp_path / "claims.html"))
    table = pd.read_csv(out_csv)
    assert len(table) == 15 and set(table["verdict"]) <= set(claims.VERDICTS)
    first = table.iloc[0]
    assert first["claim"] == "Method-TE beats Multilingual on average" and first["verdict"] == HELD
    assert table.iloc[1]["verdict"] == NOT_RUN  # Method-AV has no translations: no test
    assert "| Claim" in out_md.read_text()
    assert "<th>Verdict</th>" in (tmp_path / "claims.html").read_text()


def test_missing_tables_figures_and_tests_make_claims_not_run():
    verdicts = claims.check_claims({"main": main_table()}, {}, {"te": TE, "av": AV}, None)
    assert [v.verdict for v in verdicts] == [NOT_RUN] * 15
    verdicts = claims.check_claims({"main": main_table()}, {}, {"te": TE, "av": AV}, resampled(BLEU))
    assert [v.verdict for v in verdicts][:6] == [HELD, HELD, HELD, HELD, INCONCLUSIVE, HELD]
    assert [v.verdict for v in verdicts][6:] == [NOT_RUN] * 9
