# Stage 7: beam-search translation (post-processed back to raw text) and sacreBLEU scores.


rule translate:
    input:
        unpack(translate_inputs),
        vocab=f"{EXP}/data/dict.txt",
        src=f"{EXP}/data/{{split}}.{{pair}}.src.tokens.npy",
        offsets=f"{EXP}/data/{{split}}.{{pair}}.src.offsets.npy",
    output:
        f"{EXP}/translations/{{system}}/{{split}}.{{pair}}.txt",
    params:
        decode=config["decode"],
        detruecase=PRE["truecase"],
        erase=erasure_params,
    log:
        f"{EXP}/logs/translate/{{system}}/{{split}}.{{pair}}.log",
    benchmark:
        f"{EXP}/benchmarks/translate/{{system}}/{{split}}.{{pair}}.tsv"
    threads: 1  # small jobs: on a CPU two at a time beat one with two threads
    resources:
        gpu=1,
        mem_mb=8000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/translate.py"


rule score:
    input:
        hypotheses=expand(f"{EXP}/translations/{{{{system}}}}/{{{{split}}}}.{{pair}}.txt", pair=PAIRS),
        references=expand(f"{EXP}/raw/{{{{split}}}}.{{pair}}.tgt", pair=PAIRS),
    output:
        f"{EXP}/scores/{{system}}.{{split}}.csv",
    params:
        pairs=PAIRS,
    log:
        f"{EXP}/logs/score/{{system}}.{{split}}.log",
    benchmark:
        f"{EXP}/benchmarks/score/{{system}}.{{split}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/score.py"
