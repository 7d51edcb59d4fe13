# One job per (setting, dataset) and feature set: every baseline of the
# setting on the activations at one layer, or one SAE's top-k probes for
# every k. Each job fits every grid value of its setting. The jobs are
# small, so on a cluster they run in groups (group:).


rule probe_baselines:
    input:
        unpack(probe_inputs),
    output:
        paths.baseline_probe_file(),
    params:
        baselines=lambda wc: PROBE_SETTINGS[wc.setting]["baselines"],
        grid=lambda wc: PROBE_SETTINGS[wc.setting]["grid"],
        engine=config["probes"]["engine"],
    threads: job_threads("probe_baselines")
    resources:
        **cluster_resources("probe_baselines"),
    group:
        "probe_fits"
    log:
        paths.job_log("probe_baselines"),
    benchmark:
        paths.job_benchmark("probe_baselines")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/probe_baselines.py"


rule probe_sae:
    input:
        unpack(probe_inputs),
    output:
        paths.sae_probe_file(),
    params:
        grid=lambda wc: PROBE_SETTINGS[wc.setting]["grid"],
        ks=lambda wc: PROBE_SETTINGS[wc.setting]["ks"],
        layer=lambda wc: SAES[wc.model][wc.sae]["layer"],
        ranking=config["probes"]["latent_ranking"],
        engine=config["probes"]["engine"],
    threads: job_threads("probe_sae")
    resources:
        **cluster_resources("probe_sae"),
    group:
        "probe_fits"
    log:
        paths.job_log("probe_sae"),
    benchmark:
        paths.job_benchmark("probe_sae")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/probe_sae.py"
