"""The paper's claims, checked against this run's numbers: for each, the number that tests it, a
verdict and why. Thresholds are stated in each verdict's reason; nothing here is tuned to a result.

Verdicts: *held* where the run's evidence supports the claim, *not held* where it contradicts it,
*inconclusive* where the test ran but cannot tell (a confidence interval that holds zero), *not
run* where the experiment cannot test the claim (a missing system, too few sweep points, too few
languages to hold one side of a pair fixed). Every comparison of BLEU is a paired bootstrap of the
difference on the first seed's test sets, from the resamples the tables use
(``significance.py``): a difference counts where its 95% interval lies wholly on one side of zero.

Inputs are the run's own artifacts: the tables (``tables.py``), the figures' numbers
(``figures.py``) and the first seed's translations.
"""

from __future__ import annotations

import html as html_text
import json
import logging
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .fileio import atomic_open, read_lines
from .languages import LANGUAGE_BRANCHES, Pair
from .significance import ALPHA, Estimate, Resampled, permutation_test
from .systems import parse_method_system
from .pages import table_page

log = logging.getLogger(__name__)

HELD, NOT_HELD, INCONCLUSIVE, NOT_RUN = "held", "not held", "inconclusive", "not run"
VERDICTS = (HELD, NOT_HELD, INCONCLUSIVE, NOT_RUN)
K_TOLERANCE = 0.1    # "the best k is near 0.7": within this of 0.7
MSCORE_NEAR_ONE = 0.9
ERASE_GENERAL_DROP = 5.0  # "every pair drops a lot": by at least this much BLEU (the paper: 15-20)
CI = f"{100 * (1 - ALPHA):g}% CI"
RULE = (f"a difference counts where its {CI} (paired bootstrap of the first seed's test sets) excludes zero")
NO_BOOTSTRAP = "no bootstrap of the test sets (sweeps.significance_samples is 0)"


@dataclass
class Verdict:
    claim: str
    paper: str       # what the paper reports
    measured: str    # this run's number(s)
    verdict: str     # held, not held, inconclusive, not run
    why: str


def by_sign(sign: int) -> str:
    """The verdict of a claim that a difference is positive: held when its interval lies above
    zero, not held when below, inconclusive when it holds zero."""
    return HELD if sign > 0 else NOT_HELD if sign < 0 else INCONCLUSIVE


def combine(verdicts: Sequence[str]) -> str:
    """A claim made of parts holds when every part holds and fails when any part fails."""
    if any(v == NOT_HELD for v in verdicts):
        return NOT_HELD
    return HELD if all(v == HELD for v in verdicts) else INCONCLUSIVE


def _missing(resampled: Resampled | None, systems: Sequence[str | None]) -> str | None:
    """Why these systems cannot be compared, or None."""
    if resampled is None:
        return NO_BOOTSTRAP
    absent = [s or "the system" for s in systems if s is None or s not in resampled]
    return f"needs the test translations of {', '.join(absent)}" if absent else None


def gain_claim(claim: str, paper: str, resampled: Resampled | None, system: str | None, reference: str | None) -> Verdict:
    """A system beats a reference on average BLEU over pairs."""
    why = _missing(resampled, [system, reference])
    if why:
        return Verdict(claim, paper, "", NOT_RUN, why)
    a, b = resampled.bleu(system).full, resampled.bleu(reference).full
    diff = resampled.difference(system, reference)
    return Verdict(claim, paper, f"{a:.2f} vs {b:.2f} ({diff.text()})", by_sign(diff.sign),
                   f"held when the {CI} of the average gain lies above zero, not held when below, inconclusive "
                   "when it holds zero (paired bootstrap of the first seed's test sets).")


def beats_parameter_heavy_baselines(main: pd.DataFrame, resampled: Resampled | None, te: str | None) -> Verdict:
    claim = "the method beats +TS and +Adapter with fewer parameters"
    paper = "Method-TE 30.12 (64.69M) vs +TS 29.43 (121.42M), +Adapter 29.65 (77.43M)"
    why = _missing(resampled, [te, "ts", "adapter"])
    rows = main.set_index("system")
    if why or not {te, "ts", "adapter"} <= set(rows.index):
        return Verdict(claim, paper, "", NOT_RUN, why or "needs Method-TE, +TS and +Adapter in the main table")
    parts, measured = [], []
    for other, name in (("ts", "+TS"), ("adapter", "+Adapter")):
        diff = resampled.difference(te, other)
        fewer = rows.loc[te, "parameters"] < rows.loc[other, "parameters"]
        parts.append(by_sign(diff.sign) if fewer else NOT_HELD)
        measured.append(f"vs {name} {diff.text()}, {rows.loc[te, 'parameters'] / 1e6:.2f}M vs "
                        f"{rows.loc[other, 'parameters'] / 1e6:.2f}M parameters")
    return Verdict(claim, paper, "; ".join(measured), combine(parts),
                   "held when Method-TE has fewer parameters than each and the CI of its average gain over each "
                   "lies above zero; not held when it has no fewer parameters or a CI lies below zero.")


def related_comparisons(pairs: Sequence[str]) -> pd.DataFrame:
    """Every two pairs that share one side (the same target, or the same source) and differ on the
    other: columns a, b, fixed (which side, and its language: the stratum), related (their other
    languages are in the same branch, ``languages.LANGUAGE_BRANCHES``)."""
    rows = []
    parsed = [Pair.parse(p) for p in pairs]
    for i, a in enumerate(parsed):
        for b in parsed[i + 1:]:
            for side, other in (("tgt", "src"), ("src", "tgt")):
                if getattr(a, side) == getattr(b, side) and getattr(a, other) != getattr(b, other):
                    x, y = getattr(a, other), getattr(b, other)
                    rows.append({"a": a.name, "b": b.name, "fixed": f"{side} {getattr(a, side)}",
                                 "related": LANGUAGE_BRANCHES.get(x) == LANGUAGE_BRANCHES.get(y) is not None})
    return pd.DataFrame(rows, columns=["a", "b", "fixed", "related"])


def similar_languages_share(correlation: pd.DataFrame | None) -> Verdict:
    """Importance correlation of two pairs that hold one side fixed and whose other languages are
    related (same branch), against two pairs whose other languages are not: the paper's En→Es and
    En→Pt (alike) against En→Fi. A one-sided permutation test of the difference of the mean
    correlations, labels shuffled within each fixed side and language."""
    claim = "similar languages share important neurons"
    paper = "En→Es and En→Pt importance alike, En→Fi apart (Fig. 2); no number or test"
    if correlation is None:
        return Verdict(claim, paper, "", NOT_RUN, "no importance correlation figure")
    by_pair = correlation.groupby("pair", sort=False).mean(numeric_only=True)  # mean over module kinds
    comparisons = related_comparisons(list(by_pair.index))
    strata = comparisons.groupby("fixed")["related"].agg(["any", "all"])
    usable = strata[strata["any"] & ~strata["all"]].index  # a related and an unrelated comparison
    comparisons = comparisons[comparisons["fixed"].isin(usable)]
    rule = (f"held when the permutation test's one-sided p < {ALPHA}, not held when the opposite test's is, "
            "inconclusive otherwise.")
    if comparisons.empty:
        return Verdict(claim, paper, "", NOT_RUN,
                       "needs, with one side of the pairs fixed (the same source or the same target), both two "
                       "related and two unrelated other languages (languages.LANGUAGE_BRANCHES); this experiment's "
                       "pairs have none")
    values = [float(by_pair.loc[a, b]) for a, b in zip(comparisons["a"], comparisons["b"])]
    related, strata_names = comparisons["related"].tolist(), comparisons["fixed"].tolist()
    test = permutation_test(values, related, strata_names)
    opposite = permutation_test([-v for v in values], related, strata_names)
    r = float(np.mean([v for v, x in zip(values, related) if x]))
    u = float(np.mean([v for v, x in zip(values, related) if not x]))
    measured = (f"mean Spearman {r:.3f} ({sum(related)} related) vs {u:.3f} ({len(related) - sum(related)} unrelated), "
                f"p = {test.p:.3f}")
    if test.smallest_p >= ALPHA:
        return Verdict(claim, paper, measured, NOT_RUN,
                       f"too few comparisons with one side fixed for a test at {ALPHA}: the smallest p-value their "
                       f"labels allow is {test.smallest_p:.3f}")
    verdict = HELD if test.p < ALPHA else NOT_HELD if opposite.p < ALPHA else INCONCLUSIVE
    return Verdict(claim, paper, measured, verdict,
                   "compares two pairs that share their source or their target language, whose other languages "
                   "are related (same branch) or not, by the Spearman correlation of their importance (mean over "
                   "module kinds); " + rule)


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
    if mscore["layer"].nunique() < 3:
        return Verdict(claim, paper, "", NOT_RUN, f"needs 3 layers or more for a trend with depth (has {mscore['layer'].nunique()})")
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


def _points(table: pd.DataFrame | None, key: str) -> dict[float, str]:
    """A sweep table's systems by the value of ``key`` (k, rho) in their names."""
    if table is None:
        return {}
    return {float(parse_method_system(s)[key]): s for s in table["system"]}


def best_near(points: dict[float, str], target: float, tolerance: float, resampled: Resampled | None,
              name: str) -> tuple[str, str, str | None]:
    """(verdict, measured, why not run) of "the best ``name`` is within ``tolerance`` of
    ``target``": held when the best point near the target beats every point away from it, not
    held when a point away from it beats every point near it (each by its CI)."""
    near = {v: s for v, s in points.items() if abs(v - target) <= tolerance + 1e-9}
    far = {v: s for v, s in points.items() if v not in near}
    if len(points) < 3:
        return NOT_RUN, "", f"needs 3 values of {name} or more (has {len(points)})"
    if not near or not far:
        return NOT_RUN, "", f"needs values of {name} both within {tolerance:g} of {target:g} and further away"
    why = _missing(resampled, list(points.values()))
    if why:
        return NOT_RUN, "", why
    best = max(near, key=lambda v: resampled.bleu(near[v]).full)
    diffs = {v: resampled.difference(near[best], s) for v, s in far.items()}
    if all(d.sign > 0 for d in diffs.values()):
        verdict = HELD
    elif any(all(resampled.difference(s, n).sign > 0 for n in near.values()) for s in far.values()):
        verdict = NOT_HELD
    else:
        verdict = INCONCLUSIVE
    top = max(points, key=lambda v: resampled.bleu(points[v]).full)
    measured = (f"highest at {name} = {top:g}; {name} = {best:g} minus " +
                ", ".join(f"{name} = {v:g}: {d.text()}" for v, d in diffs.items()))
    return verdict, measured, None


def best_k(k_table: pd.DataFrame | None, resampled: Resampled | None) -> Verdict:
    claim, paper = "the best k is near 0.7", "best at k = 0.7 for TE and AV, of k from 0 to 1 (Fig. 4)"
    if k_table is None or k_table.empty:
        return Verdict(claim, paper, "", NOT_RUN, "no k sweep")
    imps = {parse_method_system(s)["imp"] for s in k_table["system"]}
    verdicts, measured = [], []
    for imp in sorted(imps):
        rows = k_table[[parse_method_system(s)["imp"] == imp for s in k_table["system"]]]
        verdict, text, why = best_near(_points(rows, "k"), 0.7, K_TOLERANCE, resampled, "k")
        if why:
            return Verdict(claim, paper, "", NOT_RUN, f"{imp.upper()}: {why}")
        verdicts.append(verdict)
        measured.append(f"{imp.upper()}: {text}")
    return Verdict(claim, paper, "; ".join(measured), combine(verdicts),
                   f"held when, for every importance, the best k within {K_TOLERANCE} of 0.7 beats every k further "
                   f"away; not held when a k further away beats every k near 0.7 ({RULE}).")


def best_rho(rho_table: pd.DataFrame | None, resampled: Resampled | None) -> Verdict:
    claim, paper = "ρ = 0.9 beats 0.8 and 0.95", "29.94, 30.11, 29.64 at ρ = 0.8, 0.9, 0.95 (Table 3)"
    points = _points(rho_table, "rho")
    if not {0.8, 0.9, 0.95} <= set(points):
        return Verdict(claim, paper, "", NOT_RUN, f"needs ρ = 0.8, 0.9 and 0.95 in the sweep (has {sorted(points)})")
    why = _missing(resampled, [points[r] for r in (0.8, 0.9, 0.95)])
    if why:
        return Verdict(claim, paper, "", NOT_RUN, why)
    diffs = {r: resampled.difference(points[0.9], points[r]) for r in (0.8, 0.95)}
    return Verdict(claim, paper, "; ".join(f"ρ 0.9 minus ρ {r:g}: {d.text()}" for r, d in diffs.items()),
                   combine([by_sign(d.sign) for d in diffs.values()]),
                   f"held when ρ = 0.9 beats both, not held when either beats it ({RULE}).")


def erasure_claims(erasure: dict | None, pairs: Sequence[str], resampled: Resampled | None) -> list[Verdict]:
    """``erasure``: {"runs": [[label, system]], "reference": the intact Method system}; the first
    run erases general neurons, each other one pair's specific neurons (its label starts with the pair)."""
    general_claim, general_paper = "erasing 20% of the general neurons costs every pair a lot", "15-20 BLEU for every pair (Fig. 5)"
    specific_claim, specific_paper = "erasing 50% of one pair's specific neurons hurts that pair most", "that pair drops most (Fig. 5)"
    if not erasure:
        return [Verdict(c, p, "", NOT_RUN, "no erasure runs (erasure.enabled)")
                for c, p in ((general_claim, general_paper), (specific_claim, specific_paper))]
    reference, (general, *specific) = erasure["reference"], erasure["runs"]
    why = _missing(resampled, [reference, *(system for _, system in erasure["runs"])])
    if why:
        return [Verdict(c, p, "", NOT_RUN, why) for c, p in ((general_claim, general_paper), (specific_claim, specific_paper))]

    def change(system: str, pair: str) -> Estimate:
        return resampled.bleu(system, [pair]) - resampled.bleu(reference, [pair])

    drops = {pair: change(general[1], pair).interval() for pair in pairs}
    # held where the whole interval lies below -DROP, not held where it lies above
    parts = [HELD if d.high < -ERASE_GENERAL_DROP else NOT_HELD if d.low > -ERASE_GENERAL_DROP else INCONCLUSIVE
             for d in drops.values()]
    g = Verdict(general_claim, general_paper, "; ".join(f"{pair} {d.text()}" for pair, d in drops.items()), combine(parts),
                f"held when every pair's {CI} of its BLEU change lies below -{ERASE_GENERAL_DROP:g}; not held when "
                f"a pair's lies above -{ERASE_GENERAL_DROP:g}; inconclusive otherwise.")
    if not specific:
        return [g, Verdict(specific_claim, specific_paper, "", NOT_RUN, "no pair's specific neurons erased (erasure.pairs)")]
    parts, measured = [], []
    for label, system in specific:
        own = label.split()[0]
        if len(pairs) < 2:
            return [g, Verdict(specific_claim, specific_paper, "", NOT_RUN, "needs two pairs or more")]
        vs = {q: (change(system, own) - change(system, q)).interval() for q in pairs if q != own}
        parts.append(combine([by_sign(-d.sign) for d in vs.values()]))
        measured.append(f"{own}'s neurons: {own} {change(system, own).full:+.2f}, " +
                        ", ".join(f"{q} {change(system, q).full:+.2f}" for q in vs) +
                        f" (own minus each other: {', '.join(f'{d.low:+.2f} to {d.high:+.2f}' for d in vs.values())})")
    s = Verdict(specific_claim, specific_paper, "; ".join(measured), combine(parts),
                f"held when, for every erased pair, its own BLEU change is below every other pair's change ({CI} of "
                "the difference below zero); not held when another pair's change is surely below its own.")
    return [g, s]


def pair_allocation_best(variants: pd.DataFrame | None, resampled: Resampled | None) -> Verdict:
    claim, paper = "allocation by language pair beats by source, by target and separate enc-dec", "pair-based best (Fig. 6)"
    if variants is None or len(variants) < 2:
        return Verdict(claim, paper, "", NOT_RUN, "needs two allocation variants or more")
    systems = {parse_method_system(s)["variant"]: s for s in variants["system"]}
    if "pair" not in systems:
        return Verdict(claim, paper, "", NOT_RUN, "the variants sweep lacks the pair allocation")
    why = _missing(resampled, list(systems.values()))
    if why:
        return Verdict(claim, paper, "", NOT_RUN, why)
    diffs = {v: resampled.difference(systems["pair"], s) for v, s in systems.items() if v != "pair"}
    return Verdict(claim, paper, "; ".join(f"pair minus {v}: {d.text()}" for v, d in diffs.items()),
                   combine([by_sign(d.sign) for d in diffs.values()]),
                   f"held when the pair allocation beats every other variant, not held when one beats it ({RULE}).")


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
                 resampled: Resampled | None, erasure: dict | None = None,
                 trends: dict[str, dict | None] | None = None) -> list[Verdict]:
    """Every claim. ``systems`` names the run's Method-TE (``te``) and Method-AV (``av``);
    ``resampled`` holds the first seed's test BLEU of the systems on the bootstrap's resamples
    (None without a bootstrap); ``erasure`` the erasure runs (None without); ``trends`` model ->
    its card's ``trend`` (last: ``models_trained``)."""
    main, te, av = tables["main"], systems.get("te"), systems.get("av")
    pairs = list(resampled.references) if resampled else []
    out = []
    paper = "+1.25 (TE), +1.02 (AV) M2M; +0.32, +0.40 O2M"
    for name, system in (("Method-TE", te), ("Method-AV", av)):
        out.append(gain_claim(f"{name} beats Multilingual on average", paper, resampled, system, "multilingual"))
    for name, system in (("Method-TE", te), ("Method-AV", av)):
        out.append(gain_claim(f"{name} beats Multilingual (continued), the control for training longer",
                              "not in the paper", resampled, system, "continued"))
    out += [gain_claim("Method-TE beats Method-AV", "30.12 vs 29.89 (M2M); 36.58 vs 36.66 (O2M)", resampled, te, av),
            beats_parameter_heavy_baselines(main, resampled, te)]
    out += [similar_languages_share(figures.get("importance_correlation")), lscore_peaks_inside(figures.get("lscore")),
            mscore_shape(figures.get("mscore"))]
    out += [best_k(tables.get("k"), resampled), best_rho(tables.get("rho"), resampled),
            *erasure_claims(erasure, pairs, resampled), pair_allocation_best(tables.get("variants"), resampled)]
    return out + [models_trained(trends or {})]


def write_claims(verdicts: list[Verdict], csv: str, md: str, html_path: str | None = None) -> None:
    frame = pd.DataFrame([asdict(v) for v in verdicts])
    with atomic_open(csv) as f:
        frame.to_csv(f, index=False)
    with atomic_open(md) as f:
        f.write(frame.rename(columns=str.capitalize).to_markdown(index=False) + "\n")
    if html_path:
        cells = frame.rename(columns=str.capitalize).map(html_text.escape)
        with atomic_open(html_path) as f:
            f.write(table_page("claims", cells.to_html(index=False, escape=False, border=0), f"Each claim of the paper against this run: held, not held, inconclusive "
                              f"(the test ran and cannot tell) or not run (the experiment cannot test it); {RULE}. "
                              "Each row states its own rule (neuralloc/claims.py)."))


def make_claims(table_names: list[str], tables: list[str], figure_names: list[str], figures: list[str],
                systems: dict[str, str | None], pairs: list[str], samples: int, hypotheses: list[str],
                hypothesis_systems: list[str], references: list[str], csv: str, md: str, html: str | None = None,
                erasure: dict | None = None, cards: list[str] = (), card_models: list[str] = ()) -> None:
    """Entry point of the claims rule: ``tables`` and ``figures`` are the CSVs of the tables and
    figures named by ``table_names`` and ``figure_names``; ``hypotheses`` (first seed) run over
    ``hypothesis_systems`` with ``pairs`` inner; ``references`` follow ``pairs``; ``erasure`` names
    the erasure runs ({"runs": [[label, system]], "reference": system}) when there are some;
    ``cards`` (model cards) follow ``card_models``."""
    frames = {name: pd.read_csv(path) for name, path in zip(table_names, tables, strict=True)}
    figs = {name: pd.read_csv(path) for name, path in zip(figure_names, figures, strict=True)}
    if len(hypotheses) != len(hypothesis_systems) * len(pairs):
        raise ValueError(f"{len(hypotheses)} hypothesis files for {len(hypothesis_systems)} systems x {len(pairs)} pairs")
    files = iter(hypotheses)
    paths = {s: {p: next(files) for p in pairs} for s in hypothesis_systems}
    resampled = None
    if samples:
        resampled = Resampled(dict(zip(pairs, map(read_lines, references), strict=True)), samples)
        for system, by_pair in paths.items():
            resampled.add(system, {p: read_lines(path) for p, path in by_pair.items()})
    trends = {}
    for model, card in zip(card_models, cards, strict=True):
        with open(card, encoding="utf-8") as f:
            trends[model] = json.load(f).get("trend")
    verdicts = check_claims(frames, figs, systems, resampled, erasure, trends)
    write_claims(verdicts, csv, md, html)
    log.info("claims: %s", ", ".join(f"{v.verdict}" for v in verdicts))
