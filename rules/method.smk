# Stage 8: the method. Importance per pair (TE, AV) -> allocation (rho, k, variant are wildcards,
# so sweeps are just more targets) -> masked fine-tuning from the Multilingual checkpoint.


rule importance:
    input:
        checkpoint=f"{EXP}/models/multilingual/checkpoint_best.pt",
        vocab=f"{EXP}/data/dict.txt",
        arrays=expand(
            f"{EXP}/data/train.{{{{pair}}}}.{{side}}.{{kind}}.npy", side=SIDES, kind=("tokens", "offsets")
        ),
    output:
        f"{EXP}/importance/{{imp}}/{{pair}}.safetensors",
    params:
        label_smoothing=config["train"]["label_smoothing"],
        token_cap=config["method"]["importance_tokens"],
    log:
        f"{EXP}/logs/importance/{{imp}}/{{pair}}.log",
    benchmark:
        f"{EXP}/benchmarks/importance/{{imp}}/{{pair}}.tsv"
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
        expand(f"{EXP}/importance/{{{{imp}}}}/{{pair}}.safetensors", pair=PAIRS),
    output:
        masks=f"{EXP}/masks/{{imp}}/r{{rho}}-k{{k}}-{{variant}}.safetensors",
        counts_csv=f"{EXP}/masks/{{imp}}/r{{rho}}-k{{k}}-{{variant}}.counts.csv",
        counts_json=f"{EXP}/masks/{{imp}}/r{{rho}}-k{{k}}-{{variant}}.counts.json",
    params:
        pairs=",".join(PAIRS),
        site_kinds=",".join(config["method"]["site_kinds"]),
    log:
        f"{EXP}/logs/allocate/{{imp}}-r{{rho}}-k{{k}}-{{variant}}.log",
    benchmark:
        f"{EXP}/benchmarks/allocate/{{imp}}-r{{rho}}-k{{k}}-{{variant}}.tsv"
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
        init=f"{EXP}/models/multilingual/checkpoint_best.pt",
        masks=f"{EXP}/masks/{{imp}}/r{{rho}}-k{{k}}-{{variant}}.safetensors",
    output:
        checkpoint=f"{EXP}/models/method-{{imp}}-r{{rho}}-k{{k}}-{{variant}}/checkpoint_best.pt",
    params:
        model=config["model"],
        train=config["train"],
        finetune=config["finetune"],
        pairs=PAIRS,
    log:
        f"{EXP}/logs/finetune/{{imp}}-r{{rho}}-k{{k}}-{{variant}}.log",
    benchmark:
        f"{EXP}/benchmarks/finetune/{{imp}}-r{{rho}}-k{{k}}-{{variant}}.tsv"
    threads: 2
    resources:
        gpu=1,
        mem_mb=16000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/finetune.py"
