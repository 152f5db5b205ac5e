# Stage 6: the Multilingual model (all pairs, target-language tags) and one Individual model per pair.


rule pretrain:
    input:
        unpack(training_inputs),
    output:
        checkpoint=f"{EXP}/models/multilingual/checkpoint_best.pt",
    params:
        model=config["model"],
        train=config["train"],
        pairs=PAIRS,
    log:
        f"{EXP}/logs/pretrain.log",
    benchmark:
        f"{EXP}/benchmarks/pretrain.tsv"
    threads: 2
    resources:
        gpu=1,
        mem_mb=16000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/train.py"


rule train_individual:
    input:
        unpack(training_inputs),
    output:
        checkpoint=f"{EXP}/models/individual/{{pair}}/checkpoint_best.pt",
    params:
        model=config["model"],
        train={**config["train"], **config["individual"]},
        pairs=individual_pairs,
    log:
        f"{EXP}/logs/train_individual/{{pair}}.log",
    benchmark:
        f"{EXP}/benchmarks/train_individual/{{pair}}.tsv"
    threads: 2
    resources:
        gpu=1,
        mem_mb=16000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/train.py"
