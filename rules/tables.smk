# Stage 9: the paper's tables (main, rho sweep, k sweep, variants, readings) with significance against
# Multilingual, as CSV, Markdown, LaTeX and HTML (the report shows the HTML); the claims checked.


rule tables:
    input:
        unpack(table_inputs),
    output:
        csv=table_targets("csv"),
        md=table_targets("md"),
        tex=table_targets("tex"),
        html=[report(path, caption="../report/table.rst", category="Tables") for path in table_targets("html")],
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


rule claims:
    # Each of the paper's claims against this run's numbers: held, not held or not run, and why.
    input:
        unpack(claims_inputs),
    output:
        csv=layout.table(EXP, "claims", "csv"),
        md=layout.table(EXP, "claims", "md"),
        html=report(layout.table(EXP, "claims", "html"), caption="../report/claims.rst", category="Tables"),
    params:
        settings=settings.claims(config),
    log:
        f"{EXP}/logs/claims.log",
    benchmark:
        f"{EXP}/benchmarks/claims.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/claims.py"
