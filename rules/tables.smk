# Stage 9: the paper's tables (main, rho sweep, k sweep, variants) with significance against
# Multilingual, as CSV, Markdown and LaTeX.


rule tables:
    input:
        unpack(table_inputs),
    output:
        [report(path, caption="../report/table.rst", category="Tables") for path in table_targets("csv")],
        table_targets("md"),
        table_targets("tex"),
    params:
        layout={name: [[r.system, r.label] for r in rows] for name, rows in TABLE_LAYOUT.items()},
        pairs=PAIRS,
        split=TABLE_SPLIT,
        model_dirs={s: model_dirs(s, SEEDS[0]) for s in table_systems()},
        samples=config["sweeps"]["significance_samples"],
    log:
        f"{EXP}/logs/tables.log",
    benchmark:
        f"{EXP}/benchmarks/tables.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/tables.py"
