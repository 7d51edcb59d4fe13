# Feature sensitivity (Tian, Tian & Hu 2025): the explainer is shown each
# sampled latent's strongest and importance-weighted windows and writes new
# texts of the same kind; a latent's sensitivity is the fraction of those
# texts on which it fires, re-scored through the model and the SAE.


rule sensitivity_generate:
    input:
        examples=paths.latent_examples_file(),
        explainer_model=offline_explainer_model,
    output:
        examples=paths.sensitivity_file("feature_examples"),
        samples=paths.sensitivity_file("generated_samples"),
        queries=paths.sensitivity_file("generation_queries_with_responses"),
    params:
        explainer=EXPLAINER,
        features=config["sensitivity"]["features"],
        reply_tokens=config["sensitivity"]["reply_tokens"],
        seed=config["autointerp"]["seed"],
        eval_name=paths.sensitivity_dir(),
        # Not an output: replies outlive every rerun, so none is paid for twice.
        cache_dir=paths.llm_cache_dir(),
    # Compute nodes often cannot reach the API: by default the calls run in the driver.
    localrule: not EXPLAINER["run_on_cluster"]
    threads: job_threads("sensitivity_generate")
    resources:
        **cluster_resources("sensitivity_generate"),
    log:
        paths.job_log("sensitivity_generate"),
    benchmark:
        paths.job_benchmark("sensitivity_generate")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/sensitivity_generate.py"


rule sensitivity_score:
    input:
        examples=paths.sensitivity_file("feature_examples"),
        samples=paths.sensitivity_file("generated_samples"),
        sae=paths.sae_weights(),
        model=paths.model_dir(),
    output:
        generated=paths.sensitivity_file("generated_samples_with_activations"),
        original=paths.sensitivity_file("original_examples_with_activations"),
        stats=paths.sensitivity_file("feature_stats"),
    params:
        layer=lambda wc: SAES[wc.model][wc.sae]["layer"],
        model=model_params,
    threads: job_threads("sensitivity_score")
    resources:
        **cluster_resources("sensitivity_score"),
    log:
        paths.job_log("sensitivity_score"),
    benchmark:
        paths.job_benchmark("sensitivity_score")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/sensitivity_score.py"


rule sensitivity_table:
    input:
        stats=lambda wc: [paths.sensitivity_file("feature_stats", wc.model, sae) for sae in SENSITIVITY_SAES[wc.model]],
        queries=lambda wc: [paths.sensitivity_file("generation_queries_with_responses", wc.model, sae)
                            for sae in SENSITIVITY_SAES[wc.model]],
        sae_configs=lambda wc: [paths.sae_config(wc.model, sae) for sae in SENSITIVITY_SAES[wc.model]],
    output:
        latents=report(paths.sensitivity_table(), category="Sensitivity", labels={"model": "{model}", "table": "latents"}),
        latents_csv=paths.sensitivity_table(suffix=".csv"),
        scores=report(paths.sensitivity_scores_table(), category="Sensitivity",
                      labels={"model": "{model}", "table": "sensitivity scores"}),
    params:
        saes=lambda wc: SENSITIVITY_SAES[wc.model],
    localrule: True
    log:
        paths.job_log("sensitivity_table"),
    benchmark:
        paths.job_benchmark("sensitivity_table")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/sensitivity_table.py"


rule figure_sensitivity:
    input:
        paths.sensitivity_table(),
    output:
        report(
            paths.figure(name="sensitivity"),
            caption="../report/sensitivity.rst",
            category="Sensitivity",
            labels={"model": "{model}", "figure": "feature sensitivity"},
        ),
    localrule: True
    log:
        paths.job_log("figure_sensitivity"),
    benchmark:
        paths.job_benchmark("figure_sensitivity")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/plot_sensitivity.py"
