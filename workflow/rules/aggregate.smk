rule aggregate_normal:
    input:
        lambda wc: probe_results(wc.model),
    output:
        table="results/{model}/tables/normal.parquet",
        csv="results/{model}/tables/normal.csv",
    localrule: True
    log:
        "logs/{model}/tables/normal.log",
    benchmark:
        "logs/{model}/tables/normal.bench.tsv"
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/aggregate_results.py"


rule aggregate_sae_metrics:
    input:
        lambda wc: [f"results/{wc.model}/saes/{sae}/quality.json" for sae in SAES[wc.model]],
    output:
        "results/{model}/tables/sae_metrics.csv",
    localrule: True
    log:
        "logs/{model}/tables/sae_metrics.log",
    benchmark:
        "logs/{model}/tables/sae_metrics.bench.tsv"
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/aggregate_sae_metrics.py"


rule figure_auc_vs_k:
    input:
        "results/{model}/tables/normal.parquet",
    output:
        report(
            "results/{model}/figures/auc_vs_k.png",
            caption="../report/auc_vs_k.rst",
            category="Probing",
            labels={"model": "{model}", "figure": "AUC against k"},
        ),
    localrule: True
    log:
        "logs/{model}/figures/auc_vs_k.log",
    benchmark:
        "logs/{model}/figures/auc_vs_k.bench.tsv"
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_auc_vs_k.py"


rule figure_fve_vs_l0:
    input:
        "results/{model}/tables/sae_metrics.csv",
    output:
        report(
            "results/{model}/figures/fve_vs_l0.png",
            caption="../report/fve_vs_l0.rst",
            category="SAE quality",
            labels={"model": "{model}", "figure": "FVE against L0"},
        ),
    localrule: True
    log:
        "logs/{model}/figures/fve_vs_l0.log",
    benchmark:
        "logs/{model}/figures/fve_vs_l0.bench.tsv"
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_fve_vs_l0.py"
