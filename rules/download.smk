# Stage 1: fetch the corpus files into the download cache shared by all experiments. A file's
# name (package and version) is its identity: mirrors, retries and timeouts are no params.


rule download:
    output:
        layout.download(DL, "{file}"),
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
