rule probe_baseline:
    input:
        dataset="resources/datasets/{dataset}.parquet",
        activations="results/{model}/activations/{dataset}",
    output:
        "results/{model}/probes/normal/{dataset}/logreg_l2_layer_{layer}.parquet",
    params:
        engine=config["probes"]["engine"],
    threads: 1
    log:
        "logs/{model}/probes/normal/{dataset}/logreg_l2_layer_{layer}.log",
    benchmark:
        "logs/{model}/probes/normal/{dataset}/logreg_l2_layer_{layer}.bench.tsv"
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/probe_baseline.py"


rule probe_sae:
    input:
        dataset="resources/datasets/{dataset}.parquet",
        latents="results/{model}/latents/{sae}/{dataset}.npz",
    output:
        "results/{model}/probes/normal/{dataset}/sae_{sae}.parquet",
    params:
        layer=lambda wc: SAES[wc.model][wc.sae]["layer"],
        ks=config["probes"]["ks"],
        ranking=config["probes"]["latent_ranking"],
        engine=config["probes"]["engine"],
    threads: 1
    log:
        "logs/{model}/probes/normal/{dataset}/sae_{sae}.log",
    benchmark:
        "logs/{model}/probes/normal/{dataset}/sae_{sae}.bench.tsv"
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/probe_sae.py"
