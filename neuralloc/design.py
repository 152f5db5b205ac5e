"""The experiment's design: which systems, table rows, figure runs and models a validated config
asks for. Pure functions of the config (no files, no torch, no pandas), so the workflow's start-up
stays light and every decision here is unit-tested. Paths are not spelled here: the rules turn
these names into files.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import layout, readings
from .systems import (FAMILY_BASE, base_system, erasure_system, expand_systems, label, method_system, number,
                      parse_method_system)

MULTILINGUAL = "multilingual"  # the reference of every gain, significance test and ΔBLEU
VARIANT_LABELS = {"pair": "by pair", "source": "by source", "target": "by target", "separate": "separate enc-dec"}
TABLES = ("main", "rho", "k", "variants", "readings")
FIGURE_FORMATS = ("png", "pdf", "csv", "html")  # each figure, its numbers and its report page (figure and caption)


@dataclass(frozen=True)
class Row:
    system: str  # the system whose scores fill the row
    label: str   # what the table calls it


def systems(config: dict) -> list[str]:
    """The configured systems (the main table's rows), shorthands expanded."""
    return expand_systems(config["systems"], config["method"])


def reading(config: dict) -> str:
    """The name of the configured reading of the method (``paper``, ``code`` or a mix)."""
    return readings.name(readings.options(config["method"]))


def reading_systems(config: dict) -> list[list[str]]:
    """[reading, system] of Method-TE and Method-AV of every reading the experiment runs (the
    configured one at method.rho and k, the others of sweeps.follow at their own); empty when only
    one reading runs."""
    m = config["method"]
    runs = {reading(config): (m["rho"], m["k"])}
    for follow in config["sweeps"].get("follow", []):
        runs.setdefault(readings.SHORT[follow], readings.defaults(follow))
    if len(runs) < 2:
        return []
    return [[r, method_system(imp, rho, k, m["variant"], r)] for r, (rho, k) in runs.items() for imp in ("te", "av")]


def table_layout(config: dict) -> dict[str, list[Row]]:
    """Which systems each table shows, in order: main (the configured systems), rho (Table 3),
    k (the k sweep, per importance), variants (Figure 6's allocations) and readings (the method as
    the paper reads and as the released code does); empty sweeps are left out."""
    m, sweeps, r = config["method"], config["sweeps"], reading(config)
    layout = {
        "main": [Row(s, label(s)) for s in systems(config)],
        "rho": [Row(method_system("te", x, m["k"], m["variant"], r), f"ρ = {number(x)}") for x in sweeps["rho"]],
        "k": [Row(method_system(i, m["rho"], k, m["variant"], r), f"{i.upper()} k = {number(k)}")
              for i in sweeps["importance"] for k in sweeps["k"]],
        "variants": [Row(method_system("te", m["rho"], m["k"], v, r), VARIANT_LABELS[v]) for v in sweeps["variants"]],
        "readings": [Row(s, f"{label(s)} ({readings.label(x)})") for x, s in reading_systems(config)],
    }
    return {name: rows for name, rows in layout.items() if rows}


def reported_split(config: dict) -> str:
    """The split the tables and figures report: test whenever it is translated, so that asking
    for dev as well changes no table."""
    splits = config["decode"]["splits"]
    return "test" if "test" in splits else splits[0]


def table_systems(config: dict) -> list[str]:
    """Every system a table reports, and Multilingual, the reference of every gain."""
    rows = [r.system for rows in table_layout(config).values() for r in rows]
    return list(dict.fromkeys(rows + [MULTILINGUAL]))


ERASURE_DEFAULT_PAIRS = 4  # erasure runs when erasure.pairs is empty: each translates every pair


def erasure_pairs(config: dict) -> list[str]:
    """The pairs whose specific neurons are erased, one run each: the configured ones, else the
    first few (a run per pair of a 132-pair experiment would translate 17k pair test sets)."""
    return config["erasure"]["pairs"] or config["pairs"][:ERASURE_DEFAULT_PAIRS]


def erasure_runs(config: dict, seed: int) -> list[list[str]]:
    """[label, system] of the erasure runs of one erasure seed (Figure 5): a share of the general
    neurons, and a share of each erasure pair's specific neurons."""
    er = config["erasure"]
    method = expand_systems([er["system"]], config["method"])[0]
    runs = [[f"general {100 * er['general_fraction']:g}%", erasure_system(method, "general", er["general_fraction"], seed)]]
    for pair in erasure_pairs(config):
        runs.append([f"{pair} specific {100 * er['specific_fraction']:g}%",
                     erasure_system(method, pair, er["specific_fraction"], seed)])
    return runs


def erasure_systems(config: dict) -> list[str]:
    er = config["erasure"]
    return [system for seed in er["seeds"] for _, system in erasure_runs(config, seed)] if er["enabled"] else []


def scored_systems(config: dict) -> list[str]:
    """Every system translated and scored: the tables' and the erasure runs."""
    return table_systems(config) + erasure_systems(config)


def k_sweep_points(config: dict) -> list[list]:
    """[importance, k, system] of the k table's rows (Figure 4)."""
    points = []
    for row in table_layout(config).get("k", []):
        m = parse_method_system(row.system)
        points.append([m["imp"], float(m["k"]), row.system])
    return points


def variant_runs(config: dict) -> list[list[str]]:
    """[label, system] of the variants table's rows (Figure 6)."""
    return [[row.label, row.system] for row in table_layout(config).get("variants", [])]


def erasure_figure_runs(config: dict) -> tuple[list[list[str]], str]:
    """Figure 5: the runs of the first erasure seed, and the intact Method system they are compared to."""
    runs = erasure_runs(config, config["erasure"]["seeds"][0])
    return runs, base_system(runs[0][1])


def models_of(system: str, pairs: list[str]) -> list[str]:
    """The trained model(s) a system translates with, as model names: ``individual/{pair}`` for
    each pair of Individual, else the system itself (an erasure run: its Method system)."""
    system = base_system(system)
    if system == "individual":
        return [f"individual/{pair}" for pair in pairs]
    return [system]


def translation_files(run: str, system: str, pairs: list[str], name: str = "checkpoint_best.pt") -> dict:
    """What a system translates with, in a training seed's tree ``run``: its checkpoint(s) (one per
    pair for Individual), and for a Method system the masks of its allocation. The translate rule
    and ``neuralloc translate`` both ask this."""
    out = {"checkpoints": [layout.model_file(run, m, name) for m in models_of(system, pairs)]}
    method = parse_method_system(system)
    if method:
        out["masks"] = layout.masks(run, FAMILY_BASE[method["family"]], method["reading"], method["imp"], method["rho"],
                                    method["k"], method["variant"])
    return out


def trained_models(config: dict) -> list[list]:
    """[seed, model] of every model behind a table's system, for every seed (the claims check how
    each trained)."""
    pairs = config["pairs"]
    models = dict.fromkeys(m for s in table_systems(config) for m in models_of(s, pairs))
    return [[seed, m] for seed in config["seeds"] for m in models]


def curve_models(config: dict) -> list[str]:
    """Every model behind a main-table system (training curves)."""
    return list(dict.fromkeys(m for s in systems(config) for m in models_of(s, config["pairs"])))


def curve_name(model: str) -> str:
    """``individual/it-en`` -> ``individual-it-en``: a model's name in figure file names."""
    return model.replace("/", "-")


def figure_pairs(config: dict) -> list[str]:
    """Figure 2's pairs: the configured ones, else the first three."""
    return config["figures"]["importance_pairs"] or config["pairs"][:3]


def figure_allocation(config: dict) -> dict[str, str]:
    """The allocation Figure 3 shows: TE importance at the configured rho, k, variant and reading."""
    m = config["method"]
    return {"reading": reading(config), "imp": "te", "rho": number(m["rho"]), "k": number(m["k"]), "variant": m["variant"]}


def claim_systems(config: dict) -> dict[str, str | None]:
    """The Method-TE and Method-AV systems whose claims the run checks (None where not configured)."""
    names = dict(zip(config["systems"], systems(config)))
    return {"te": names.get("method-te"), "av": names.get("method-av")}


def claim_erasure(config: dict) -> dict | None:
    """The erasure runs the claims compare (those of Figure 5), None without erasure runs."""
    if not config["erasure"]["enabled"]:
        return None
    runs, reference = erasure_figure_runs(config)
    return {"runs": runs, "reference": reference}


def claim_hypothesis_systems(config: dict) -> list[str]:
    """The systems whose first-seed translations the claims compare: every table's and Figure 5's."""
    erasure = claim_erasure(config)
    erased = [system for _, system in erasure["runs"]] if erasure else []
    return list(dict.fromkeys(table_systems(config) + erased))


def claim_figures(config: dict) -> list[str]:
    """The figures whose numbers the claims read (each a CSV beside the figure)."""
    return ["importance_correlation", "lscore", "mscore"]


def figure_stems(config: dict) -> list[str]:
    """The figures the config asks for (each written in every FIGURE_FORMATS)."""
    stems = ["importance", "importance_correlation", "lscore", "mscore"]
    stems += [f"training_curves_{curve_name(m)}" for m in curve_models(config)]
    if config["sweeps"]["k"]:
        stems.append("k_sweep")
    if config["sweeps"]["variants"]:
        stems.append("variants")
    if config["erasure"]["enabled"]:
        stems.append("erasure")
    return stems
