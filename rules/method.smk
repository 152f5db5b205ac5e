# Stage 8: the method. Importance per pair (TE, AV) -> allocation (rho, k, variant are wildcards,
# so sweeps are just more targets) -> masked fine-tuning from a pretrained checkpoint: the
# Multilingual model for Method systems, the wide-FFN model for +Expansion.


rule importance:
    input:
        checkpoint=f"{RUN}/models/{{arch}}/checkpoint_best.pt",
        vocab=f"{EXP}/data/dict.txt",
        arrays=expand(
            f"{EXP}/data/train.{{{{pair}}}}.{{side}}.{{kind}}.npy", side=SIDES, kind=("tokens", "offsets")
        ),
    output:
        f"{RUN}/importance/{{arch}}/{{imp}}/{{pair}}.safetensors",
    params:
        label_smoothing=config["train"]["label_smoothing"],
        token_cap=config["method"]["importance_tokens"],
    log:
        f"{RUN}/logs/importance/{{arch}}/{{imp}}/{{pair}}.log",
    benchmark:
        f"{RUN}/benchmarks/importance/{{arch}}/{{imp}}/{{pair}}.tsv"
    threads: 1  # small jobs: on a CPU two at a time beat one with two threads
    resources:
        gpu=1,
        mem_mb=8000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/importance.py"


rule allocate:
    input:
        expand(f"{RUN}/importance/{{{{arch}}}}/{{{{imp}}}}/{{pair}}.safetensors", pair=PAIRS, allow_missing=True),
    output:
        masks=f"{RUN}/masks/{{arch}}/{{imp}}/r{{rho}}-k{{k}}-{{variant}}.safetensors",
        counts_csv=f"{RUN}/masks/{{arch}}/{{imp}}/r{{rho}}-k{{k}}-{{variant}}.counts.csv",
        counts_json=f"{RUN}/masks/{{arch}}/{{imp}}/r{{rho}}-k{{k}}-{{variant}}.counts.json",
    params:
        pairs=",".join(PAIRS),
        site_kinds=",".join(config["method"]["site_kinds"]),
    log:
        f"{RUN}/logs/allocate/{{arch}}/{{imp}}-r{{rho}}-k{{k}}-{{variant}}.log",
    benchmark:
        f"{RUN}/benchmarks/allocate/{{arch}}/{{imp}}-r{{rho}}-k{{k}}-{{variant}}.tsv"
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
        checkpoint=f"{RUN}/models/{{family}}-{{imp}}-r{{rho}}-k{{k}}-{{variant}}/checkpoint_best.pt",
        card=f"{RUN}/models/{{family}}-{{imp}}-r{{rho}}-k{{k}}-{{variant}}/model.json",
        train_log=f"{RUN}/models/{{family}}-{{imp}}-r{{rho}}-k{{k}}-{{variant}}/train_log.csv",
    params:
        model=model_params,
        train=train_params,
        finetune=config["finetune"],
        pairs=PAIRS,
    log:
        f"{RUN}/logs/finetune/{{family}}-{{imp}}-r{{rho}}-k{{k}}-{{variant}}.log",
    benchmark:
        f"{RUN}/benchmarks/finetune/{{family}}-{{imp}}-r{{rho}}-k{{k}}-{{variant}}.tsv"
    threads: config["train"]["threads"]
    resources:
        gpu=1,
        mem_mb=16000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/finetune.py"
