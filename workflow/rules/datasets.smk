rule datasets_prepare:
    input:
        lambda wc: DATASETS[wc.dataset].file,
    output:
        "resources/datasets/{dataset}.parquet",
    params:
        source=lambda wc: {
            "name": DATASETS[wc.dataset].name,
            "text_column": DATASETS[wc.dataset].text_column,
            "label_column": DATASETS[wc.dataset].label_column,
            "link": DATASETS[wc.dataset].link,
        },
        max_rows=config["datasets"]["max_rows"],
        seed=config["datasets"]["subsample_seed"],
    # Reads a local file in a second: on a cluster, not worth a job.
    localrule: True
    log:
        "logs/datasets/{dataset}.log",
    benchmark:
        "logs/datasets/{dataset}.bench.tsv"
    conda:
        "../../envs/datasets.yaml"
    script:
        "../scripts/prepare_dataset.py"


use rule datasets_prepare as datasets_prepare_ood with:
    input:
        lambda wc: reference_ood_files()[wc.dataset],
    output:
        "resources/datasets/ood/{dataset}.parquet",
    params:
        source=lambda wc: {"name": wc.dataset, "text_column": "prompt", "label_column": "target", "link": ""},
        max_rows=None,
        seed=0,
    localrule: True
    log:
        "logs/datasets/ood/{dataset}.log",
    benchmark:
        "logs/datasets/ood/{dataset}.bench.tsv"


rule datasets_reference_catalog:
    input:
        reference_master_path(),
    output:
        "resources/datasets/reference_catalog.parquet",
    # Reads a local file in a second: on a cluster, not worth a job.
    localrule: True
    log:
        "logs/datasets/reference_catalog.log",
    benchmark:
        "logs/datasets/reference_catalog.bench.tsv"
    conda:
        "../../envs/datasets.yaml"
    script:
        "../scripts/reference_catalog.py"
