# Stage 8: the method. Importance of every pair (TE, AV; one job loads the model once) -> allocation (rho, k, variant are wildcards,
# so sweeps are just more targets) -> masked fine-tuning from a pretrained checkpoint: the
# Multilingual model for Method systems, the wide-FFN model for +Expansion.


rule importance:
    input:
        unpack(importance_inputs),
    output:
        [layout.importance(RUN, "{arch}", "{reading}", "{imp}", pair) for pair in PAIRS],
    params:
        settings=importance_settings,
    log:
        f"{RUN}/logs/importance/{{arch}}/{{reading}}/{{imp}}.log",
    benchmark:
        f"{RUN}/benchmarks/importance/{{arch}}/{{reading}}/{{imp}}.tsv"
    threads: 1  # on a CPU two jobs at a time beat one with two threads
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=importance_runtime,  # minutes, grown with the pairs
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/importance.py"


rule allocate:
    input:
        [layout.importance(RUN, "{arch}", "{reading}", "{imp}", pair) for pair in PAIRS],
    output:
        masks=layout.masks(RUN, "{arch}", "{reading}", "{imp}", "{rho}", "{k}", "{variant}"),
        counts_csv=layout.masks(RUN, "{arch}", "{reading}", "{imp}", "{rho}", "{k}", "{variant}", "counts.csv"),
        counts_json=layout.masks(RUN, "{arch}", "{reading}", "{imp}", "{rho}", "{k}", "{variant}", "counts.json"),
    params:
        settings=allocate_settings,
    log:
        f"{RUN}/logs/allocate/{{arch}}/{{reading}}/{{imp}}-r{{rho}}-k{{k}}-{{variant}}.log",
    benchmark:
        f"{RUN}/benchmarks/allocate/{{arch}}/{{reading}}/{{imp}}-r{{rho}}-k{{k}}-{{variant}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/allocate.py"


rule finetune:
    input:
        unpack(training_inputs),
        unpack(finetune_inputs),
    output:
        checkpoint=layout.model_file(RUN, "{family}-{imp}-r{rho}-k{k}-{variant}-{reading}", "checkpoint_best.pt"),
        card=layout.model_file(RUN, "{family}-{imp}-r{rho}-k{k}-{variant}-{reading}", "model.json"),
        train_log=layout.model_file(RUN, "{family}-{imp}-r{rho}-k{k}-{variant}-{reading}", "train_log.csv"),
    params:
        settings=finetune_settings,
    log:
        f"{RUN}/logs/finetune/{{family}}-{{imp}}-r{{rho}}-k{{k}}-{{variant}}-{{reading}}.log",
    benchmark:
        f"{RUN}/benchmarks/finetune/{{family}}-{{imp}}-r{{rho}}-k{{k}}-{{variant}}-{{reading}}.tsv"
    threads: settings.finetune_threads(config)
    resources:
        gpu=1,
        mem_mb=16000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/finetune.py"
