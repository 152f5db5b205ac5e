# Stage 6: the pretrained models (Multilingual and the +TS, +Adapter, +Expansion architectures, all
# pairs with target-language tags) and one Individual model per pair. One tree per training seed.
# Every training rule's params are its settings (neuralloc/settings.py): model, train, seed, pairs.


rule pretrain:
    input:
        unpack(training_inputs),
    output:
        checkpoint=layout.model_file(RUN, "{arch}", "checkpoint_best.pt"),
        card=layout.model_file(RUN, "{arch}", "model.json"),
        train_log=layout.model_file(RUN, "{arch}", "train_log.csv"),
    params:
        settings=pretrain_settings,
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
        "../workflow_scripts/pretrain.py"


rule train_individual:
    input:
        unpack(training_inputs),
    output:
        checkpoint=layout.model_file(RUN, "individual/{pair}", "checkpoint_best.pt"),
        card=layout.model_file(RUN, "individual/{pair}", "model.json"),
        train_log=layout.model_file(RUN, "individual/{pair}", "train_log.csv"),
    params:
        settings=individual_settings,
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
        "../workflow_scripts/train_individual.py"


rule continue_training:
    # Multilingual (continued): the fine-tuning schedule without masks, the control for "it only
    # trained longer".
    input:
        unpack(training_inputs),
        init=layout.model_file(RUN, "multilingual", "checkpoint_best.pt"),
    output:
        checkpoint=layout.model_file(RUN, "continued", "checkpoint_best.pt"),
        card=layout.model_file(RUN, "continued", "model.json"),
        train_log=layout.model_file(RUN, "continued", "train_log.csv"),
    params:
        settings=continue_settings,
    log:
        f"{RUN}/logs/continue_training.log",
    benchmark:
        f"{RUN}/benchmarks/continue_training.tsv"
    threads: settings.finetune_threads(config)
    resources:
        gpu=1,
        mem_mb=16000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/continue_training.py"
