rule datasets_prepare:
    input:
        lambda wc: DATASETS[wc.dataset].file,
    output:
        paths.dataset_file(),
    params:
        source=lambda wc: {
            "name": DATASETS[wc.dataset].name,
            "text_column": DATASETS[wc.dataset].text_column,
            "label_column": DATASETS[wc.dataset].label_column,
            "link": DATASETS[wc.dataset].link,
        },
        max_rows=config["datasets"]["max_rows"],
        seed=config["datasets"]["subsample_seed"],
        drop_duplicates=config["datasets"]["drop_duplicates"],
    # Reads a local file in a second: on a cluster, not worth a job.
    localrule: True
    log:
        paths.job_log("datasets_prepare"),
    benchmark:
        paths.job_benchmark("datasets_prepare")
    conda:
        "../../envs/datasets.yaml"
    script:
        "../scripts/prepare_dataset.py"


use rule datasets_prepare as datasets_prepare_ood with:
    input:
        lambda wc: reference_ood_files()[wc.dataset],
    output:
        paths.dataset_file(ood=True),
    params:
        source=lambda wc: {"name": wc.dataset, "text_column": "prompt", "label_column": "target", "link": ""},
        max_rows=None,
        seed=0,
    localrule: True
    log:
        paths.job_log("datasets_prepare_ood"),
    benchmark:
        paths.job_benchmark("datasets_prepare_ood")


rule datasets_reference_catalog:
    input:
        reference_master_path(),
    output:
        paths.reference_catalog(),
    # Reads a local file in a second: on a cluster, not worth a job.
    localrule: True
    log:
        paths.job_log("datasets_reference_catalog"),
    benchmark:
        paths.job_benchmark("datasets_reference_catalog")
    conda:
        "../../envs/datasets.yaml"
    script:
        "../scripts/reference_catalog.py"


rule datasets_rejected:
    output:
        report(
            paths.rejected_datasets_table(),
            caption="../report/rejected_datasets.rst",
            category="Datasets",
            labels={"table": "rejected datasets"},
        ),
    params:
        # As params, so that a change of verdict rewrites the table.
        rejected=REJECTED.to_dict("records"),
    localrule: True
    log:
        paths.job_log("datasets_rejected"),
    benchmark:
        paths.job_benchmark("datasets_rejected")
    conda:
        "../../envs/datasets.yaml"
    script:
        "../scripts/rejected_datasets.py"
