# Stage 1: fetch the corpus files into the download cache shared by all experiments.


rule download:
    output:
        f"{DL}/{{file}}",
    params:
        spec=download_spec,
        options={k: config["download"][k] for k in ("retries", "timeout_s")},
    log:
        f"{DL}/logs/{{file}}.log",
    benchmark:
        f"{DL}/benchmarks/{{file}}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/download.py"
