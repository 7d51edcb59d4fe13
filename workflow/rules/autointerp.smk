# Autointerp (SAEBench): an LLM explains each sampled latent from its marked
# windows, then picks its active windows out of shuffled, unmarked ones.


rule autointerp_detection:
    input:
        examples=paths.latent_examples_file(),
        # The offline explainer is a configured model: its prepared folder.
        explainer_model=lambda wc: [paths.model_dir(EXPLAINER["model"])] if EXPLAINER["provider"] == "offline" else [],
    output:
        paths.detection_scores_file(),
    params:
        explainer=EXPLAINER,
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
