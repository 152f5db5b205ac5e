"""The claims rule on hand-made tables, figure numbers and hypotheses whose verdicts are known."""

import pandas as pd

from neuralloc import claims
from neuralloc.claims import HELD, NOT_HELD, NOT_RUN

TE, AV = "method-te-r0.9-k0.7-pair-paper", "method-av-r0.9-k0.7-pair-paper"


def main_table(**ave) -> pd.DataFrame:
    values = {"multilingual": 20.0, "continued": 20.5, TE: 22.0, AV: 21.5, "ts": 21.0, "adapter": 21.8, **ave}
    params = {"ts": 120e6, "adapter": 77e6}
    return pd.DataFrame([{"system": s, "ave_bleu": b, "parameters": params.get(s, 64e6)} for s, b in values.items()])


def sweep(systems_bleu: dict) -> pd.DataFrame:
    return pd.DataFrame([{"system": s, "ave_bleu": b} for s, b in systems_bleu.items()])


def by_verdict(verdicts):
    return {v.claim: v.verdict for v in verdicts}


def test_gains_need_a_positive_difference_and_significance():
    main = main_table()
    assert claims.gain_claim("c", "p", main, TE, "multilingual", 0.01).verdict == HELD
    assert claims.gain_claim("c", "p", main, TE, "multilingual", 0.2).verdict == NOT_HELD  # not significant
    assert claims.gain_claim("c", "p", main_table(**{TE: 19.0}), TE, "multilingual", 0.01).verdict == NOT_HELD
    assert claims.gain_claim("c", "p", main, TE, "multilingual", None).verdict == NOT_RUN
    assert claims.gain_claim("c", "p", main.iloc[1:], TE, "multilingual", 0.01).verdict == NOT_RUN  # no Multilingual
    low = claims.gain_claim("c", "p", main_table(multilingual=2.0), TE, "multilingual", 0.01)
    assert "below 5" in low.why and low.verdict == HELD


def test_te_over_av_and_the_parameter_heavy_baselines():
    assert claims.te_over_av(main_table(), TE, AV).verdict == HELD
    assert claims.te_over_av(main_table(**{AV: 23.0}), TE, AV).verdict == NOT_HELD
    assert claims.beats_parameter_heavy_baselines(main_table(), TE).verdict == HELD
    assert claims.beats_parameter_heavy_baselines(main_table(adapter=22.5), TE).verdict == NOT_HELD
    assert claims.beats_parameter_heavy_baselines(main_table().iloc[:-1], TE).verdict == NOT_RUN  # no +Adapter


def correlation(values: dict) -> pd.DataFrame:
    pairs = ["en-es", "en-pt", "en-fi"]
    rows = []
    for a in pairs:
        rows.append({"kind": "ffn", "pair": a, **{b: 1.0 if a == b else values[frozenset((a, b))] for b in pairs}})
    return pd.DataFrame(rows)


def test_similar_target_languages_correlate_more():
    es_pt, es_fi, pt_fi = frozenset(("en-es", "en-pt")), frozenset(("en-es", "en-fi")), frozenset(("en-pt", "en-fi"))
    held = claims.similar_languages_share(correlation({es_pt: 0.9, es_fi: 0.5, pt_fi: 0.6}))
    assert held.verdict == HELD and "0.900 (related targets) vs 0.550" in held.measured
    assert claims.similar_languages_share(correlation({es_pt: 0.4, es_fi: 0.5, pt_fi: 0.6})).verdict == NOT_HELD
    only_english = pd.DataFrame([{"kind": "ffn", "pair": "it-en", "it-en": 1.0, "ro-en": 0.9},
                                 {"kind": "ffn", "pair": "ro-en", "it-en": 0.9, "ro-en": 1.0}])
    assert claims.similar_languages_share(only_english).verdict == NOT_RUN  # one target language


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


def test_sweeps():
    ks = {f"method-{i}-r0.9-k{k}-pair-paper": b for i in ("te", "av") for k, b in (("0.5", 20.0), ("0.7", 21.0), ("1", 20.5))}
    assert claims.best_k(sweep(ks)).verdict == HELD
    assert claims.best_k(sweep({**ks, "method-av-r0.9-k1-pair-paper": 22.0})).verdict == NOT_HELD  # AV best at 1
    assert claims.best_k(sweep(dict(list(ks.items())[:2]))).verdict == NOT_RUN
    rhos = {f"method-te-r{r}-k0.7-pair-paper": b for r, b in (("0.8", 20.0), ("0.9", 21.0), ("0.95", 20.5))}
    assert claims.best_rho(sweep(rhos)).verdict == HELD
    assert claims.best_rho(sweep({**rhos, "method-te-r0.8-k0.7-pair-paper": 21.5})).verdict == NOT_HELD
    assert claims.best_rho(sweep(dict(list(rhos.items())[1:]))).verdict == NOT_RUN
    variants = {f"method-te-r0.9-k0.7-{v}-paper": b for v, b in (("pair", 21.0), ("source", 20.0), ("separate", 19.0))}
    assert claims.pair_allocation_best(sweep(variants)).verdict == HELD
    assert claims.pair_allocation_best(sweep({**variants, "method-te-r0.9-k0.7-source-paper": 21.5})).verdict == NOT_HELD


def test_erasure():
    rows = [("general 20%", "a", -16.0), ("general 20%", "b", -18.0),
            ("a specific 50%", "a", -6.0), ("a specific 50%", "b", -1.0),
            ("b specific 50%", "a", -0.5), ("b specific 50%", "b", -4.0)]
    frame = pd.DataFrame(rows, columns=["erased", "pair", "delta"])
    general, specific = claims.erasure_claims(frame)
    assert general.verdict == HELD and specific.verdict == HELD
    frame.loc[1, "delta"] = -2.0  # b hardly suffers from the general erasure
    frame.loc[3, "delta"] = -9.0  # and a's neurons hurt b most
    general, specific = claims.erasure_claims(frame)
    assert general.verdict == NOT_HELD and specific.verdict == NOT_HELD
    assert {v.verdict for v in claims.erasure_claims(None)} == {NOT_RUN}


def test_average_bleu_bootstrap():
    refs = {"a": [f"the quick brown fox {i} jumps over the lazy dog" for i in range(40)],
            "b": [f"a small cat number {i} sleeps on the warm mat" for i in range(40)]}
    bad = {p: [f"nothing like it {i}" for i in range(40)] for p in refs}
    assert claims.average_bleu_bootstrap(bad, refs, refs, 100) < 0.05
    assert claims.average_bleu_bootstrap(refs, bad, refs, 100) == 1.0
    assert claims.average_bleu_bootstrap(bad, bad, refs, 50) == 1.0  # equal systems: no evidence


def test_make_claims_writes_every_claim(tmp_path):
    main = tmp_path / "main.csv"
    main_table().to_csv(main, index=False)
    hyps, refs = [], []
    for pair in ("it-en", "en-it"):
        ref = tmp_path / f"ref.{pair}"
        ref.write_text("".join(f"the cat {i} sat on the mat today\n" for i in range(30)))
        refs.append(str(ref))
    for system in ("multilingual", TE):
        for pair in ("it-en", "en-it"):
            hyp = tmp_path / f"{system}.{pair}"
            hyp.write_text((tmp_path / f"ref.{pair}").read_text() if system == TE else "a dog\n" * 30)
            hyps.append(str(hyp))
    out_csv, out_md = tmp_path / "claims.csv", tmp_path / "claims.md"
    claims.make_claims(["main"], [str(main)], [], [], {"te": TE, "av": AV}, ["it-en", "en-it"], 50, hyps,
                       ["multilingual", TE], refs, str(out_csv), str(out_md), str(tmp_path / "claims.html"))
    table = pd.read_csv(out_csv)
    assert len(table) == 15 and set(table["verdict"]) <= {HELD, NOT_HELD, NOT_RUN}
    first = table.iloc[0]
    assert first["claim"] == "Method-TE beats Multilingual on average" and first["verdict"] == HELD
    assert table.iloc[1]["verdict"] == NOT_RUN  # Method-AV has no hypotheses: no test
    assert "| Claim" in out_md.read_text()
    assert "<th>Verdict</th>" in (tmp_path / "claims.html").read_text()


def test_missing_tables_figures_and_tests_make_claims_not_run():
    verdicts = claims.check_claims({"main": main_table()}, {}, {"te": TE, "av": AV}, {})
    assert [v.verdict for v in verdicts].count(NOT_RUN) == 13  # all but TE >= AV and the baselines
