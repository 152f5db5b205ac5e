# Stage 6: the pretrained models (Multilingual and the +TS, +Adapter, +Expansion architectures, all
# pairs with target-language tags) and one Individual model per pair. One tree per training seed.


rule pretrain:
    input:
        unpack(training_inputs),
    output:
        checkpoint=f"{RUN}/models/{{arch}}/checkpoint_best.pt",
        card=f"{RUN}/models/{{arch}}/model.json",
        train_log=f"{RUN}/models/{{arch}}/train_log.csv",
    params:
        model=model_params,
        train=train_params,
        pairs=PAIRS,
    log:
        f"{RUN}/logs/pretrain/{{arch}}.log",
    benchmark:
        f"{RUN}/benchmarks/pretrain/{{arch}}.tsv"
    threads: config["train"]["threads"]
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
        checkpoint=f"{RUN}/models/individual/{{pair}}/checkpoint_best.pt",
        card=f"{RUN}/models/individual/{{pair}}/model.json",
        train_log=f"{RUN}/models/individual/{{pair}}/train_log.csv",
    params:
        model=config["model"],
        train=train_params,
        pairs=individual_pairs,
    log:
        f"{RUN}/logs/train_individual/{{pair}}.log",
    benchmark:
        f"{RUN}/benchmarks/train_individual/{{pair}}.tsv"
    threads: config["train"]["threads"]
    resources:
        gpu=1,
        mem_mb=16000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/train.py"


rule continue_training:
    # Multilingual (continued): the fine-tuning schedule without masks, the control for "it only
    # trained longer".
    input:
        unpack(training_inputs),
        init=f"{RUN}/models/multilingual/checkpoint_best.pt",
    output:
        checkpoint=f"{RUN}/models/continued/checkpoint_best.pt",
        card=f"{RUN}/models/continued/model.json",
        train_log=f"{RUN}/models/continued/train_log.csv",
    params:
        model=config["model"],
        train=train_params,
        finetune=config["finetune"],
        pairs=PAIRS,
    log:
        f"{RUN}/logs/continue_training.log",
    benchmark:
        f"{RUN}/benchmarks/continue_training.tsv"
    threads: config["train"]["threads"]
    resources:
        gpu=1,
        mem_mb=16000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/finetune.py"
