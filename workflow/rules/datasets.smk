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
    threads: job_threads("datasets_prepare")
    resources:
        **cluster_resources("datasets_prepare"),
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
    threads: job_threads("datasets_prepare_ood")
    resources:
        **cluster_resources("datasets_prepare_ood"),
    log:
        "logs/datasets/ood/{dataset}.log",
    benchmark:
        "logs/datasets/ood/{dataset}.bench.tsv"


rule datasets_reference_catalog:
    input:
        reference_master_path(),
    output:
        "resources/datasets/reference_catalog.parquet",
    threads: job_threads("datasets_reference_catalog")
    resources:
        **cluster_resources("datasets_reference_catalog"),
    log:
        "logs/datasets/reference_catalog.log",
    benchmark:
        "logs/datasets/reference_catalog.bench.tsv"
    conda:
        "../../envs/datasets.yaml"
    script:
        "../scripts/reference_catalog.py"
