rule aggregate_setting:
    input:
        lambda wc: probe_results(wc.model, wc.setting),
    output:
        table="results/{model}/tables/{setting}.parquet",
        csv="results/{model}/tables/{setting}.csv",
    localrule: True
    log:
        "logs/{model}/tables/{setting}.log",
    benchmark:
        "logs/{model}/tables/{setting}.bench.tsv"
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/aggregate_results.py"


rule summary_tables:
    input:
        lambda wc: [f"results/{wc.model}/tables/{setting}.parquet" for setting in PROBE_SETTINGS],
    output:
        comparison="results/{model}/tables/comparison.csv",
        win_rates="results/{model}/tables/win_rates.csv",
        quiver="results/{model}/tables/quiver.csv",
    params:
        main_layer=lambda wc: main_layer(MODELS[wc.model]),
    localrule: True
    log:
        "logs/{model}/tables/summary.log",
    benchmark:
        "logs/{model}/tables/summary.bench.tsv"
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/summary_tables.py"


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


rule figure_auc_vs_setting:
    input:
        lambda wc: f"results/{wc.model}/tables/{SETTING_FIGURES[wc.axis]}.parquet",
    output:
        report(
            "results/{model}/figures/auc_vs_{axis}.png",
            caption="../report/auc_vs_setting.rst",
            category="Probing",
            labels={"model": "{model}", "figure": "AUC against {axis}"},
        ),
    params:
        setting=lambda wc: SETTING_FIGURES[wc.axis],
        main_layer=lambda wc: main_layer(MODELS[wc.model]),
    wildcard_constraints:
        axis=_alternatives(SETTING_FIGURES),
    localrule: True
    log:
        "logs/{model}/figures/auc_vs_{axis}.log",
    benchmark:
        "logs/{model}/figures/auc_vs_{axis}.bench.tsv"
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_auc_vs_setting.py"


rule figure_baselines_by_layer:
    input:
        "results/{model}/tables/normal.parquet",
    output:
        report(
            "results/{model}/figures/baselines_by_layer.png",
            caption="../report/baselines_by_layer.rst",
            category="Probing",
            labels={"model": "{model}", "figure": "baselines by layer"},
        ),
    localrule: True
    log:
        "logs/{model}/figures/baselines_by_layer.log",
    benchmark:
        "logs/{model}/figures/baselines_by_layer.bench.tsv"
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_baselines_by_layer.py"


rule figure_win_rates:
    input:
        "results/{model}/tables/win_rates.csv",
    output:
        report(
            "results/{model}/figures/win_rates.png",
            caption="../report/win_rates.rst",
            category="Probing",
            labels={"model": "{model}", "figure": "win rates"},
        ),
    localrule: True
    log:
        "logs/{model}/figures/win_rates.log",
    benchmark:
        "logs/{model}/figures/win_rates.bench.tsv"
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_win_rates.py"


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
