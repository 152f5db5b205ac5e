# Stage 10: the paper's figures (PNG + PDF, with the numbers as CSV beside them), each drawn from
# artifacts already in the DAG; the report shows each figure's HTML page (the figure with its
# caption under it, report/*.rst).


rule figure_importance:
    input:
        [layout.importance(FIRST, "multilingual", design.reading(config), "te", pair) for pair in design.figure_pairs(config)],
    output:
        png=layout.figure(EXP, "importance", "png"),
        pdf=layout.figure(EXP, "importance", "pdf"),
        csv=layout.figure(EXP, "importance", "csv"),
        html=report(layout.figure(EXP, "importance", "html"), caption="../report/importance.rst", category="Figures"),
    params:
        settings=settings.figure_importance(config),
    log:
        f"{EXP}/logs/figures/importance.log",
    benchmark:
        f"{EXP}/benchmarks/figures/importance.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/figure_importance.py"


rule figure_importance_correlation:
    input:
        [layout.importance(FIRST, "multilingual", design.reading(config), "te", pair) for pair in PAIRS],
    output:
        png=layout.figure(EXP, "importance_correlation", "png"),
        pdf=layout.figure(EXP, "importance_correlation", "pdf"),
        csv=layout.figure(EXP, "importance_correlation", "csv"),
        html=report(layout.figure(EXP, "importance_correlation", "html"), caption="../report/importance_correlation.rst", category="Figures"),
    params:
        settings=settings.figure_importance_correlation(config),
    log:
        f"{EXP}/logs/figures/importance_correlation.log",
    benchmark:
        f"{EXP}/benchmarks/figures/importance_correlation.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/figure_importance_correlation.py"


rule figure_allocation:
    input:
        figure_allocation_counts(),
    output:
        lscore_png=layout.figure(EXP, "lscore", "png"),
        lscore_pdf=layout.figure(EXP, "lscore", "pdf"),
        lscore_csv=layout.figure(EXP, "lscore", "csv"),
        lscore_html=report(layout.figure(EXP, "lscore", "html"), caption="../report/lscore.rst", category="Figures"),
        mscore_png=layout.figure(EXP, "mscore", "png"),
        mscore_pdf=layout.figure(EXP, "mscore", "pdf"),
        mscore_csv=layout.figure(EXP, "mscore", "csv"),
        mscore_html=report(layout.figure(EXP, "mscore", "html"), caption="../report/mscore.rst", category="Figures"),
    params:
        settings=settings.figure_allocation(config),
    log:
        f"{EXP}/logs/figures/allocation.log",
    benchmark:
        f"{EXP}/benchmarks/figures/allocation.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/figure_allocation.py"


rule figure_k_sweep:
    input:
        all_scores([p[2] for p in design.k_sweep_points(config)] + [design.MULTILINGUAL]),
    output:
        png=layout.figure(EXP, "k_sweep", "png"),
        pdf=layout.figure(EXP, "k_sweep", "pdf"),
        csv=layout.figure(EXP, "k_sweep", "csv"),
        html=report(layout.figure(EXP, "k_sweep", "html"), caption="../report/k_sweep.rst", category="Figures"),
    params:
        settings=settings.figure_k_sweep(config),
    log:
        f"{EXP}/logs/figures/k_sweep.log",
    benchmark:
        f"{EXP}/benchmarks/figures/k_sweep.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/figure_k_sweep.py"


rule figure_erasure:
    input:
        erasure_figure_scores(),
    output:
        png=layout.figure(EXP, "erasure", "png"),
        pdf=layout.figure(EXP, "erasure", "pdf"),
        csv=layout.figure(EXP, "erasure", "csv"),
        html=report(layout.figure(EXP, "erasure", "html"), caption="../report/erasure.rst", category="Figures"),
    params:
        settings=settings.figure_erasure(config),
    log:
        f"{EXP}/logs/figures/erasure.log",
    benchmark:
        f"{EXP}/benchmarks/figures/erasure.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/figure_erasure.py"


rule figure_variants:
    input:
        all_scores([r[1] for r in design.variant_runs(config)] + [design.MULTILINGUAL]),
    output:
        png=layout.figure(EXP, "variants", "png"),
        pdf=layout.figure(EXP, "variants", "pdf"),
        csv=layout.figure(EXP, "variants", "csv"),
        html=report(layout.figure(EXP, "variants", "html"), caption="../report/variants.rst", category="Figures"),
    params:
        settings=settings.figure_variants(config),
    log:
        f"{EXP}/logs/figures/variants.log",
    benchmark:
        f"{EXP}/benchmarks/figures/variants.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/figure_variants.py"


rule figure_training_curves:
    input:
        [layout.model_file(FIRST, m, "train_log.csv") for m in design.curve_models(config)],
    output:
        png=curve_figures("png"),
        pdf=curve_figures("pdf"),
        csv=curve_figures("csv"),
        html=[report(path, caption="../report/training_curves.rst", category="Training") for path in curve_figures("html")],
    params:
        settings=settings.figure_training_curves(config),
    log:
        f"{EXP}/logs/figures/training_curves.log",
    benchmark:
        f"{EXP}/benchmarks/figures/training_curves.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/figure_training_curves.py"
