# Stage 9: the paper's tables (main, rho sweep, k sweep, variants) with significance against
# Multilingual, as CSV, Markdown and LaTeX.


rule tables:
    input:
        unpack(table_inputs),
    output:
        csv=[report(path, caption="../report/table.rst", category="Tables") for path in table_targets("csv")],
        md=table_targets("md"),
        tex=table_targets("tex"),
    params:
        settings=settings.tables(config),
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
