"""The paper's claims, checked against this run's numbers: for each, the number that tests it, a
verdict (held / not held / not run) and why. Thresholds are stated in ``CLAIMS`` and in each
verdict's reason; nothing here is tuned to a result.

Inputs are the run's own artifacts: the tables (``tables.py``), the figures' numbers
(``figures.py``) and, for the significance of average gains, the first seed's hypotheses.
"""

from __future__ import annotations

import html as html_text
import json
import logging
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sacrebleu.metrics import BLEU

from .fileio import atomic_open, read_lines
from .languages import LANGUAGE_BRANCHES, Pair
from .scoring import MEANINGFUL_BLEU
from .tables import ALPHA, html_page  # a gain holds when positive with a bootstrap p below ALPHA
from .systems import parse_method_system

log = logging.getLogger(__name__)

HELD, NOT_HELD, NOT_RUN = "held", "not held", "not run"
K_TOLERANCE = 0.1    # "the best k is near 0.7": within this of 0.7
MSCORE_NEAR_ONE = 0.9
ERASE_GENERAL_DROP = 5.0  # "every pair drops a lot": by at least this much BLEU (the paper: 15-20)


@dataclass
class Verdict:
    claim: str
    paper: str       # what the paper reports
    measured: str    # this run's number(s)
    verdict: str     # held, not held, not run
    why: str


def average_bleu_bootstrap(baseline: dict[str, list[str]], system: dict[str, list[str]],
                           references: dict[str, list[str]], samples: int, seed: int = 12345) -> float:
    """One-sided paired bootstrap (Koehn 2004) of the *average* BLEU over pairs: each resample
    draws every pair's sentences with replacement, the same for both systems; the p-value is the
    share of resamples (plus one, of samples plus one) in which ``system`` does not beat ``baseline``."""
    bleu = BLEU()
    rng = np.random.default_rng(seed)
    stats = {}
    for pair, refs in references.items():
        stats[pair] = [np.asarray(bleu._extract_corpus_statistics(h[pair], [refs])) for h in (baseline, system)]

    def average(draws: dict[str, np.ndarray], which: int) -> float:
        return float(np.mean([bleu._compute_score_from_stats(list(stats[p][which][idx].sum(0))).score
                              for p, idx in draws.items()]))

    worse = 0
    for _ in range(samples):
        draws = {p: rng.integers(0, len(r), len(r)) for p, r in references.items()}
        worse += average(draws, 1) <= average(draws, 0)
    return (worse + 1) / (samples + 1)


def _row(table: pd.DataFrame | None, system: str | None) -> pd.Series | None:
    if table is None or system is None or system not in set(table["system"]):
        return None
    return table.set_index("system").loc[system]


def _floor_note(main: pd.DataFrame, baseline: str) -> str:
    row = _row(main, baseline)
    if row is not None and row["ave_bleu"] < MEANINGFUL_BLEU:
        return f" Multilingual averages {row['ave_bleu']:.2f} BLEU, below {MEANINGFUL_BLEU:g}: differences this small say little."
    return ""


def gain_claim(claim: str, paper: str, main: pd.DataFrame, system: str | None, reference: str | None,
               pvalue: float | None) -> Verdict:
    """A system beats a reference on average BLEU, significantly."""
    a, b = _row(main, system), _row(main, reference)
    if a is None or b is None:
        return Verdict(claim, paper, "", NOT_RUN, f"needs {system or 'the system'} and {reference} in the main table")
    gain = a["ave_bleu"] - b["ave_bleu"]
    measured = f"{a['ave_bleu']:.2f} vs {b['ave_bleu']:.2f} ({gain:+.2f})" + (f", p = {pvalue:.3f}" if pvalue is not None else "")
    if pvalue is None:
        return Verdict(claim, paper, measured, NOT_RUN, "no significance test (sweeps.significance_samples is 0)")
    held = gain > 0 and pvalue < ALPHA
    why = f"held means a positive gain with p < {ALPHA} (paired bootstrap of the average BLEU, first seed)."
    return Verdict(claim, paper, measured, HELD if held else NOT_HELD, why + _floor_note(main, "multilingual"))


def te_over_av(main: pd.DataFrame, te: str | None, av: str | None) -> Verdict:
    claim, paper = "TE importance is at least as good as AV", "Method-TE 30.12 vs Method-AV 29.89 (M2M)"
    a, b = _row(main, te), _row(main, av)
    if a is None or b is None:
        return Verdict(claim, paper, "", NOT_RUN, "needs Method-TE and Method-AV in the main table")
    held = a["ave_bleu"] >= b["ave_bleu"]
    return Verdict(claim, paper, f"{a['ave_bleu']:.2f} vs {b['ave_bleu']:.2f}", HELD if held else NOT_HELD,
                   "held means TE's average BLEU is not below AV's." + _floor_note(main, "multilingual"))


def beats_parameter_heavy_baselines(main: pd.DataFrame, te: str | None) -> Verdict:
    claim = "the method beats +TS and +Adapter with fewer parameters"
    paper = "Method-TE 30.12 (64.69M) vs +TS 29.43 (121.42M), +Adapter 29.65 (77.43M)"
    m, ts, ad = _row(main, te), _row(main, "ts"), _row(main, "adapter")
    if m is None or ts is None or ad is None:
        return Verdict(claim, paper, "", NOT_RUN, "needs Method-TE, +TS and +Adapter in the main table")
    measured = (f"{m['ave_bleu']:.2f} ({m['parameters'] / 1e6:.2f}M) vs +TS {ts['ave_bleu']:.2f} ({ts['parameters'] / 1e6:.2f}M), "
                f"+Adapter {ad['ave_bleu']:.2f} ({ad['parameters'] / 1e6:.2f}M)")
    held = all(m["ave_bleu"] > r["ave_bleu"] and m["parameters"] < r["parameters"] for r in (ts, ad))
    return Verdict(claim, paper, measured, HELD if held else NOT_HELD,
                   "held means a higher average BLEU than each, with fewer parameters." + _floor_note(main, "multilingual"))


def similar_languages_share(correlation: pd.DataFrame | None) -> Verdict:
    """Importance correlation of pairs whose target languages are related (same branch, different
    languages) against pairs whose targets are unrelated, over every module kind."""
    claim, paper = "similar languages share important neurons", "En→Es and En→Pt curves alike, En→Fi apart (Fig. 2)"
    if correlation is None:
        return Verdict(claim, paper, "", NOT_RUN, "no importance correlation figure")
    related, unrelated = [], []
    for (_, a), row in correlation.set_index(["kind", "pair"]).iterrows():
        for b, value in row.items():
            ta, tb = Pair.parse(a).tgt, Pair.parse(b).tgt
            if a < b and ta != tb:
                (related if LANGUAGE_BRANCHES[ta] == LANGUAGE_BRANCHES[tb] else unrelated).append(value)
    if not related or not unrelated:
        return Verdict(claim, paper, "", NOT_RUN, "needs pairs whose target languages are related and pairs whose are not")
    r, u = float(np.mean(related)), float(np.mean(unrelated))
    return Verdict(claim, paper, f"Spearman {r:.3f} (related targets) vs {u:.3f} (unrelated)", HELD if r > u else NOT_HELD,
                   "held means the mean correlation of pairs with related target languages (same branch, "
                   "languages.LANGUAGE_BRANCHES) exceeds that of pairs with unrelated ones.")


def lscore_peaks_inside(lscore: pd.DataFrame | None) -> Verdict:
    claim, paper = "LScore is low at the bottom and top layers, highest in the middle", "highest at layer 3 or 4 of 6 (Fig. 3a, b)"
    if lscore is None:
        return Verdict(claim, paper, "", NOT_RUN, "no LScore figure")
    peaks, measured = {}, []
    for side, df in lscore.groupby("side"):
        mean = df.groupby("layer")["lscore"].mean()
        if len(mean) < 3:
            return Verdict(claim, paper, "", NOT_RUN, f"needs 3 layers or more on each side ({side} has {len(mean)})")
        peaks[side] = (int(mean.idxmax()), int(mean.index.min()), int(mean.index.max()))
        measured.append(f"{side} peak at layer {peaks[side][0] + 1} of {len(mean)}")
    held = all(lo < peak < hi for peak, lo, hi in peaks.values())
    return Verdict(claim, paper, "; ".join(measured), HELD if held else NOT_HELD,
                   "held means the mean LScore over pairs peaks at neither the first nor the last layer, on both sides.")


def mscore_shape(mscore: pd.DataFrame | None) -> Verdict:
    claim, paper = "MScore of attention near 1, of the FFN falling with depth", "attention ≈ 1.0, FFN decreasing (Fig. 3c, d)"
    if mscore is None:
        return Verdict(claim, paper, "", NOT_RUN, "no MScore figure")
    if mscore["layer"].nunique() < 2:
        return Verdict(claim, paper, "", NOT_RUN, "needs 2 layers or more")
    attention = float(mscore[mscore["kind"] != "ffn"]["mscore"].mean())
    falling = []
    for side, df in mscore[mscore["kind"] == "ffn"].groupby("side"):
        by_layer = df.set_index("layer")["mscore"].sort_index()
        falling.append(float(np.corrcoef(by_layer.index, by_layer.values)[0, 1]) < 0)
    held = attention >= MSCORE_NEAR_ONE and all(falling)
    return Verdict(claim, paper, f"attention mean {attention:.3f}; FFN falling on {sum(falling)} of {len(falling)} sides",
                   HELD if held else NOT_HELD,
                   f"held means attention MScore averages at least {MSCORE_NEAR_ONE} and the FFN's correlates "
                   "negatively with the layer on every side.")


def best_k(k_table: pd.DataFrame | None) -> Verdict:
    claim, paper = "the best k is near 0.7", "best at k = 0.7 for TE and AV (Fig. 4)"
    if k_table is None or k_table.empty:
        return Verdict(claim, paper, "", NOT_RUN, "no k sweep")
    found = []
    for imp, df in k_table.assign(imp=[parse_method_system(s)["imp"] for s in k_table["system"]],
                                  k=[float(parse_method_system(s)["k"]) for s in k_table["system"]]).groupby("imp"):
        if len(df) < 3:
            return Verdict(claim, paper, "", NOT_RUN, f"needs 3 values of k or more ({imp} has {len(df)})")
        found.append((imp, float(df.loc[df["ave_bleu"].idxmax(), "k"])))
    held = all(abs(k - 0.7) <= K_TOLERANCE + 1e-9 for _, k in found)
    return Verdict(claim, paper, "; ".join(f"{imp.upper()} best at k = {k:g}" for imp, k in found), HELD if held else NOT_HELD,
                   f"held means the k of the highest average BLEU lies within {K_TOLERANCE} of 0.7 for every importance.")


def best_rho(rho_table: pd.DataFrame | None) -> Verdict:
    claim, paper = "ρ = 0.9 beats 0.8 and 0.95", "29.94, 30.11, 29.64 at ρ = 0.8, 0.9, 0.95 (Table 3)"
    if rho_table is None:
        return Verdict(claim, paper, "", NOT_RUN, "no ρ sweep")
    ave = {float(parse_method_system(s)["rho"]): b for s, b in zip(rho_table["system"], rho_table["ave_bleu"])}
    if not {0.8, 0.9, 0.95} <= set(ave):
        return Verdict(claim, paper, "", NOT_RUN, f"needs ρ = 0.8, 0.9 and 0.95 in the sweep (has {sorted(ave)})")
    held = ave[0.9] > ave[0.8] and ave[0.9] > ave[0.95]
    return Verdict(claim, paper, ", ".join(f"{ave[r]:.2f}" for r in (0.8, 0.9, 0.95)) + " at ρ = 0.8, 0.9, 0.95",
                   HELD if held else NOT_HELD, "held means the highest average BLEU of the three is at ρ = 0.9.")


def erasure_claims(erasure: pd.DataFrame | None) -> list[Verdict]:
    general_claim = "erasing 20% of the general neurons costs every pair a lot"
    specific_claim = "erasing 50% of one pair's specific neurons hurts that pair most"
    if erasure is None:
        return [Verdict(c, p, "", NOT_RUN, "no erasure runs (erasure.enabled)") for c, p in
                ((general_claim, "15-20 BLEU for every pair (Fig. 5)"), (specific_claim, "that pair drops most (Fig. 5)"))]
    general = erasure[erasure["erased"].str.startswith("general")]
    worst = float(general["delta"].max()) if len(general) else float("nan")
    g = Verdict(general_claim, "15-20 BLEU for every pair (Fig. 5)",
                f"ΔBLEU of the least hurt pair {worst:+.2f}" if len(general) else "", NOT_RUN if general.empty else
                (HELD if worst <= -ERASE_GENERAL_DROP else NOT_HELD),
                f"held means every pair loses at least {ERASE_GENERAL_DROP:g} BLEU.")
    hurt = []
    for label, df in erasure[~erasure["erased"].str.startswith("general")].groupby("erased", sort=False):
        pair = label.split()[0]
        hurt.append((pair, df.loc[df["delta"].idxmin(), "pair"]))
    s = Verdict(specific_claim, "that pair drops most (Fig. 5)",
                "; ".join(f"{p}'s neurons: {w} dropped most" for p, w in hurt), NOT_RUN if not hurt else
                (HELD if all(p == w for p, w in hurt) else NOT_HELD),
                "held means, for every erased pair, its own ΔBLEU is the lowest of all pairs.")
    return [g, s]


def pair_allocation_best(variants: pd.DataFrame | None) -> Verdict:
    claim, paper = "allocation by language pair beats by source, by target and separate enc-dec", "pair-based best (Fig. 6)"
    if variants is None or len(variants) < 2:
        return Verdict(claim, paper, "", NOT_RUN, "needs two allocation variants or more")
    ave = {parse_method_system(s)["variant"]: b for s, b in zip(variants["system"], variants["ave_bleu"])}
    if "pair" not in ave:
        return Verdict(claim, paper, "", NOT_RUN, "the variants sweep lacks the pair allocation")
    held = all(ave["pair"] > b for v, b in ave.items() if v != "pair")
    return Verdict(claim, paper, ", ".join(f"{v} {b:.2f}" for v, b in ave.items()), HELD if held else NOT_HELD,
                   "held means the pair allocation has the highest average BLEU.")


def models_trained(trends: dict[str, dict | None]) -> Verdict:
    """Not the paper's: every model behind a table ended no worse than it started (its dev metric,
    or its training loss where it validated once: ``validation.training_trend``, in its model card);
    a model that got worse diverged or overfit, and what the other claims say of it means little."""
    claim, paper = "every model trained: none ended worse than it started", "not in the paper"
    seen = {m: t for m, t in trends.items() if t}
    if not seen:
        return Verdict(claim, paper, "", NOT_RUN, "no model was measured twice (validations or training-log rows)")
    worse = [f"{m}: {t['metric']} {t['first']:g} at update {t['first_update']} → {t['last']:g} at {t['last_update']}"
             for m, t in seen.items() if t["worse"]]
    measured = "; ".join(worse) if worse else f"{len(seen)} models, each no worse at the end"
    return Verdict(claim, paper, measured, NOT_HELD if worse else HELD,
                   "held means every model ends with the dev metric that picks its best checkpoint no worse than "
                   "at its first validation (its training loss no worse than at its first log row, where it "
                   "validated once); a model that got worse diverged or overfit, and its rows in the tables say little.")


def check_claims(tables: dict[str, pd.DataFrame], figures: dict[str, pd.DataFrame], systems: dict[str, str | None],
                 pvalues: dict[tuple[str, str], float], trends: dict[str, dict | None] | None = None) -> list[Verdict]:
    """Every claim. ``systems`` names the run's Method-TE (``te``) and Method-AV (``av``);
    ``pvalues`` (system, reference) -> p of the average-BLEU bootstrap; ``trends`` model -> its
    card's ``trend`` (last: ``models_trained``)."""
    main, te, av = tables["main"], systems.get("te"), systems.get("av")
    out = []
    for name, system in (("Method-TE", te), ("Method-AV", av)):
        paper = "+1.25 (TE), +1.02 (AV) M2M; +0.32, +0.40 O2M"
        out.append(gain_claim(f"{name} beats Multilingual on average", paper, main, system, "multilingual",
                              pvalues.get((system, "multilingual"))))
    for name, system in (("Method-TE", te), ("Method-AV", av)):
        out.append(gain_claim(f"{name} beats Multilingual (continued), the control for training longer",
                              "not in the paper", main, system, "continued", pvalues.get((system, "continued"))))
    out += [te_over_av(main, te, av), beats_parameter_heavy_baselines(main, te)]
    shapes = [similar_languages_share(figures.get("importance_correlation")), lscore_peaks_inside(figures.get("lscore")),
              mscore_shape(figures.get("mscore"))]
    sweeps = [best_k(tables.get("k")), best_rho(tables.get("rho")), *erasure_claims(figures.get("erasure")),
              pair_allocation_best(tables.get("variants"))]
    note = _floor_note(main, "multilingual")
    for v in sweeps:  # BLEU differences, like the gains above (which carry the note already)
        if v.verdict != NOT_RUN:
            v.why += note
    return out + shapes + sweeps + [models_trained(trends or {})]


def write_claims(verdicts: list[Verdict], csv: str, md: str, html_path: str | None = None) -> None:
    frame = pd.DataFrame([asdict(v) for v in verdicts])
    with atomic_open(csv) as f:
        frame.to_csv(f, index=False)
    with atomic_open(md) as f:
        f.write(frame.rename(columns=str.capitalize).to_markdown(index=False) + "\n")
    if html_path:
        cells = frame.rename(columns=str.capitalize).map(html_text.escape)
        with atomic_open(html_path) as f:
            f.write(html_page("claims", cells, f"Each claim of the paper against this run; held means {ALPHA}-level "
                              "significance for gains, and each row says its own rule (neuralloc/claims.py)."))


def make_claims(table_names: list[str], tables: list[str], figure_names: list[str], figures: list[str],
                systems: dict[str, str | None], pairs: list[str], samples: int, hypotheses: list[str],
                hypothesis_systems: list[str], references: list[str], csv: str, md: str, html: str | None = None,
                cards: list[str] = (), card_models: list[str] = ()) -> None:
    """Entry point of the claims rule: ``tables`` and ``figures`` are the CSVs of the tables and
    figures named by ``table_names`` and ``figure_names``; ``hypotheses`` (first seed) run over
    ``hypothesis_systems`` with ``pairs`` inner; ``references`` follow ``pairs``; ``cards`` (model
    cards) follow ``card_models``."""
    frames = {name: pd.read_csv(path) for name, path in zip(table_names, tables, strict=True)}
    figs = {name: pd.read_csv(path) for name, path in zip(figure_names, figures, strict=True)}
    files = iter(hypotheses)
    hyps = {s: {p: read_lines(next(files)) for p in pairs} for s in hypothesis_systems}
    refs = dict(zip(pairs, map(read_lines, references), strict=True))
    pvalues = {}
    if samples:
        for system in (systems.get("te"), systems.get("av")):
            for reference in ("multilingual", "continued"):
                if system in hyps and reference in hyps:
                    pvalues[(system, reference)] = average_bleu_bootstrap(hyps[reference], hyps[system], refs, samples)
    trends = {}
    for model, card in zip(card_models, cards, strict=True):
        with open(card, encoding="utf-8") as f:
            trends[model] = json.load(f).get("trend")
    verdicts = check_claims(frames, figs, systems, pvalues, trends)
    write_claims(verdicts, csv, md, html)
    log.info("claims: %s", ", ".join(f"{v.verdict}" for v in verdicts))
