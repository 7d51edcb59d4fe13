# Autointerp. SAEBench's detection: an LLM explains each sampled latent from
# its marked windows, then picks its active windows out of shuffled, unmarked
# ones. kurexi/SAEs' per-dataset analyses: the dataset's top latents
# described, ranked for its OOD shift, and its labels audited.


rule autointerp_detection:
    input:
        examples=paths.latent_examples_file(),
        explainer_model=offline_explainer_model,
    output:
        paths.detection_scores_file(),
    params:
        explainer=EXPLAINER,
        latents=config["autointerp"]["latents"],
        seed=config["autointerp"]["seed"],
        # Not an output: replies outlive every rerun, so none is paid for twice.
        cache_dir=paths.llm_cache_dir(),
    # Compute nodes often cannot reach the API: by default the calls run in the driver.
    localrule: not EXPLAINER["run_on_cluster"]
    threads: job_threads("autointerp_detection")
    resources:
        **cluster_resources("autointerp_detection"),
    log:
        paths.job_log("autointerp_detection"),
    benchmark:
        paths.job_benchmark("autointerp_detection")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/autointerp_detection.py"


rule autointerp_table:
    input:
        scores=lambda wc: [paths.detection_scores_file(wc.model, sae) for sae in AUTOINTERP_SAES[wc.model]],
        sae_configs=lambda wc: [paths.sae_config(wc.model, sae) for sae in AUTOINTERP_SAES[wc.model]],
    output:
        latents=report(paths.autointerp_table(), category="Autointerp", labels={"model": "{model}", "table": "latents"}),
        latents_csv=paths.autointerp_table(suffix=".csv"),
        scores=report(paths.autointerp_scores_table(), category="Autointerp",
                      labels={"model": "{model}", "table": "autointerp scores"}),
    params:
        saes=lambda wc: AUTOINTERP_SAES[wc.model],
    localrule: True
    log:
        paths.job_log("autointerp_table"),
    benchmark:
        paths.job_benchmark("autointerp_table")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/autointerp_table.py"


rule figure_autointerp_scores:
    input:
        paths.autointerp_table(),
    output:
        report(
            paths.figure(name="autointerp_scores"),
            caption="../report/autointerp_scores.rst",
            category="Autointerp",
            labels={"model": "{model}", "figure": "autointerp detection"},
        ),
    localrule: True
    log:
        paths.job_log("figure_autointerp_scores"),
    benchmark:
        paths.job_benchmark("figure_autointerp_scores")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/plot_autointerp_scores.py"


rule autointerp_describe:
    input:
        unpack(dataset_analysis_inputs),
    output:
        **{analysis: paths.dataset_analysis_file(analysis=analysis) for analysis in paths.DATASET_ANALYSES},
    params:
        explainer=EXPLAINER,
        spec=config["autointerp"]["descriptions"],
        ranking=config["probes"]["latent_ranking"],
        engine=config["probes"]["engine"],
        cache_dir=paths.llm_cache_dir(),
    localrule: not EXPLAINER["run_on_cluster"]
    threads: job_threads("autointerp_describe")
    resources:
        **cluster_resources("autointerp_describe"),
    log:
        paths.job_log("autointerp_describe"),
    benchmark:
        paths.job_benchmark("autointerp_describe")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/autointerp_describe.py"


rule autointerp_dataset_tables:
    input:
        **{analysis: lambda wc, analysis=analysis: [paths.dataset_analysis_file(wc.model, sae, dataset, analysis)
                                                    for sae in DESCRIBED_SAES[wc.model]
                                                    for dataset in DESCRIBED_DATASETS]
           for analysis in paths.DATASET_ANALYSES},
    output:
        **{analysis: report(paths.dataset_analysis_table(analysis=analysis), category="Autointerp",
                            labels={"model": "{model}", "table": analysis})
           for analysis in paths.DATASET_ANALYSES},
        **{f"{analysis}_csv": paths.dataset_analysis_table(analysis=analysis, suffix=".csv")
           for analysis in paths.DATASET_ANALYSES},
    localrule: True
    log:
        paths.job_log("autointerp_dataset_tables"),
    benchmark:
        paths.job_benchmark("autointerp_dataset_tables")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/autointerp_dataset_tables.py"


rule figure_dataset_analysis:
    wildcard_constraints:
        analysis=_alternatives(paths.DATASET_ANALYSES),
    input:
        paths.dataset_analysis_table(),
    output:
        report(
            paths.figure(name="autointerp_{analysis}"),
            caption="../report/autointerp_dataset_analysis.rst",
            category="Autointerp",
            labels={"model": "{model}", "figure": "{analysis}"},
        ),
    localrule: True
    log:
        paths.job_log("figure_dataset_analysis"),
    benchmark:
        paths.job_benchmark("figure_dataset_analysis")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/plot_dataset_analysis.py"
