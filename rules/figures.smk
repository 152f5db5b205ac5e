# Stage 10: the paper's figures (PNG + PDF, with the numbers as CSV beside them), each drawn from
# artifacts already in the DAG, and captions for `snakemake --report`.


rule figure_importance:
    input:
        expand(f"{FIRST}/importance/multilingual/te/{{pair}}.safetensors", pair=figure_pairs()),
    output:
        png=report(f"{FIG}/importance.png", caption="../report/importance.rst", category="Figures"),
        pdf=f"{FIG}/importance.pdf",
    params:
        pairs=figure_pairs(),
        sites=config["figures"]["importance_sites"],
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
        expand(f"{FIRST}/importance/multilingual/te/{{pair}}.safetensors", pair=PAIRS),
    output:
        png=report(f"{FIG}/importance_correlation.png", caption="../report/importance_correlation.rst", category="Figures"),
        pdf=f"{FIG}/importance_correlation.pdf",
        csv=f"{FIG}/importance_correlation.csv",
    params:
        pairs=PAIRS,
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
        "../workflow_scripts/figure_correlation.py"


rule figure_allocation:
    input:
        method_masks_counts(),
    output:
        lscore_png=report(f"{FIG}/lscore.png", caption="../report/lscore.rst", category="Figures"),
        lscore_pdf=f"{FIG}/lscore.pdf",
        lscore_csv=f"{FIG}/lscore.csv",
        mscore_png=report(f"{FIG}/mscore.png", caption="../report/mscore.rst", category="Figures"),
        mscore_pdf=f"{FIG}/mscore.pdf",
        mscore_csv=f"{FIG}/mscore.csv",
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
        k_sweep_inputs,
    output:
        png=report(f"{FIG}/k_sweep.png", caption="../report/k_sweep.rst", category="Figures"),
        pdf=f"{FIG}/k_sweep.pdf",
        csv=f"{FIG}/k_sweep.csv",
    params:
        points=k_sweep_points(),
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
        erasure_inputs,
    output:
        png=report(f"{FIG}/erasure.png", caption="../report/erasure.rst", category="Figures"),
        pdf=f"{FIG}/erasure.pdf",
        csv=f"{FIG}/erasure.csv",
    params:
        runs=erasure_runs(config["erasure"]["seeds"][0]),
        reference=base_system(erasure_runs(config["erasure"]["seeds"][0])[0][1]),
        group="erased",
        ylabel="ΔBLEU over the intact Method system",
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
        "../workflow_scripts/figure_bars.py"


rule figure_variants:
    input:
        variants_inputs,
    output:
        png=report(f"{FIG}/variants.png", caption="../report/variants.rst", category="Figures"),
        pdf=f"{FIG}/variants.pdf",
        csv=f"{FIG}/variants.csv",
    params:
        runs=variant_runs(),
        reference="multilingual",
        group="allocation",
        ylabel="ΔBLEU over Multilingual",
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
        "../workflow_scripts/figure_bars.py"


rule figure_training_curves:
    input:
        [f"{d}/train_log.csv" for d in curve_models().values()],
    output:
        png=[
            report(f"{FIG}/training_curves_{m}.png", caption="../report/training_curves.rst", category="Training")
            for m in curve_models()
        ],
        pdf=[f"{FIG}/training_curves_{m}.pdf" for m in curve_models()],
    params:
        models=list(curve_models()),
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
        "../workflow_scripts/figure_training.py"
