# Multi-token probes (SAE-Probes, its multi-token section): per dataset, the
# residual and each SAE's codes pooled over a prompt's tokens, probed in the
# normal setting beside the last-token probes.


rule multitoken_pool:
    input:
        model=paths.model_dir(),
        dataset=paths.dataset_file(),
        saes=lambda wc: [paths.sae_weights(wc.model, sae) for sae in MULTITOKEN_SAES[wc.model]],
    output:
        directory(paths.pooled_dir()),
    params:
        layer=lambda wc: multitoken_layer(wc.model),
        saes=lambda wc: MULTITOKEN_SAES[wc.model],
        poolings=MULTI_TOKEN["poolings"],
        model=model_params,
    threads: job_threads("multitoken_pool")
    resources:
        **cluster_resources("multitoken_pool"),
    log:
        paths.job_log("multitoken_pool"),
    benchmark:
        paths.job_benchmark("multitoken_pool")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/multitoken_pool.py"


rule multitoken_probe:
    wildcard_constraints:
        pooling=_alternatives(paths.POOLINGS),
    input:
        pooled=paths.pooled_dir(),
        dataset=paths.dataset_file(),
    output:
        paths.multitoken_probe_file(),
    params:
        layer=lambda wc: multitoken_layer(wc.model),
        saes=lambda wc: MULTITOKEN_SAES[wc.model],
        ks=MULTI_TOKEN["ks"],
        baselines=MULTI_TOKEN["baselines"],
        ranking=config["probes"]["latent_ranking"],
        engine=config["probes"]["engine"],
    threads: job_threads("multitoken_probe")
    resources:
        **cluster_resources("multitoken_probe"),
    log:
        paths.job_log("multitoken_probe"),
    benchmark:
        paths.job_benchmark("multitoken_probe")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/multitoken_probe.py"


rule multitoken_table:
    input:
        pooled=lambda wc: [paths.multitoken_probe_file(wc.model, d, p) for d in MULTITOKEN_DATASETS
                           for p in MULTI_TOKEN["poolings"]],
        last_token=lambda wc: paths.setting_table(wc.model, "normal"),
    output:
        report(paths.multitoken_table(), category="Multi-token probes", labels={"model": "{model}"}),
    params:
        layer=lambda wc: multitoken_layer(wc.model),
        saes=lambda wc: MULTITOKEN_SAES[wc.model],
        ks=MULTI_TOKEN["ks"],
        baselines=MULTI_TOKEN["baselines"],
    localrule: True
    log:
        paths.job_log("multitoken_table"),
    benchmark:
        paths.job_benchmark("multitoken_table")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/multitoken_table.py"


rule figure_multitoken:
    input:
        paths.multitoken_table(),
    output:
        report(paths.figure(name="multi_token"), caption="../report/multi_token.rst", category="Multi-token probes",
               labels={"model": "{model}", "figure": "multi-token probes"}),
    localrule: True
    log:
        paths.job_log("figure_multitoken"),
    benchmark:
        paths.job_benchmark("figure_multitoken")
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_multitoken.py"
