rule aggregate_setting:
    input:
        lambda wc: probe_results(wc.model, wc.setting),
    output:
        table=paths.setting_table(),
        csv=paths.setting_table(suffix=".csv"),
    localrule: True
    log:
        paths.job_log("aggregate_setting"),
    benchmark:
        paths.job_benchmark("aggregate_setting")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/aggregate_results.py"


rule summary_tables:
    input:
        lambda wc: [paths.setting_table(wc.model, setting) for setting in PROBE_SETTINGS],
    output:
        **{name: paths.summary_table(name=name) for name in paths.SUMMARY_TABLES},
    params:
        main_layer=lambda wc: main_layer(MODELS[wc.model]),
    localrule: True
    log:
        paths.job_log("summary_tables"),
    benchmark:
        paths.job_benchmark("summary_tables")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/summary_tables.py"


rule aggregate_sae_metrics:
    input:
        lambda wc: [paths.sae_quality(wc.model, sae) for sae in SAES[wc.model]],
    output:
        paths.sae_metrics_table(),
    localrule: True
    log:
        paths.job_log("aggregate_sae_metrics"),
    benchmark:
        paths.job_benchmark("aggregate_sae_metrics")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/aggregate_sae_metrics.py"


rule figure_auc_vs_k:
    input:
        paths.setting_table(setting=TABLE_FIGURE_SETTINGS["auc_vs_k"]),
    output:
        report(
            paths.figure(name="auc_vs_k"),
            caption="../report/auc_vs_k.rst",
            category="Probing",
            labels={"model": "{model}", "figure": "AUC against k"},
        ),
    localrule: True
    log:
        paths.job_log("figure_auc_vs_k"),
    benchmark:
        paths.job_benchmark("figure_auc_vs_k")
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_auc_vs_k.py"


rule figure_auc_vs_setting:
    input:
        lambda wc: paths.setting_table(wc.model, SETTING_FIGURES[wc.axis]),
    output:
        report(
            paths.figure(name=paths.setting_figure_name()),
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
        paths.job_log("figure_auc_vs_setting"),
    benchmark:
        paths.job_benchmark("figure_auc_vs_setting")
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_auc_vs_setting.py"


rule figure_baselines_by_layer:
    input:
        paths.setting_table(setting=TABLE_FIGURE_SETTINGS["baselines_by_layer"]),
    output:
        report(
            paths.figure(name="baselines_by_layer"),
            caption="../report/baselines_by_layer.rst",
            category="Probing",
            labels={"model": "{model}", "figure": "baselines by layer"},
        ),
    localrule: True
    log:
        paths.job_log("figure_baselines_by_layer"),
    benchmark:
        paths.job_benchmark("figure_baselines_by_layer")
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_baselines_by_layer.py"


rule figure_win_rates:
    input:
        paths.summary_table(name="win_rates"),
    output:
        report(
            paths.figure(name="win_rates"),
            caption="../report/win_rates.rst",
            category="Probing",
            labels={"model": "{model}", "figure": "win rates"},
        ),
    localrule: True
    log:
        paths.job_log("figure_win_rates"),
    benchmark:
        paths.job_benchmark("figure_win_rates")
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_win_rates.py"


rule figure_fve_vs_l0:
    input:
        paths.sae_metrics_table(),
    output:
        report(
            paths.figure(name="fve_vs_l0"),
            caption="../report/fve_vs_l0.rst",
            category="SAE quality",
            labels={"model": "{model}", "figure": "FVE against L0"},
        ),
    localrule: True
    log:
        paths.job_log("figure_fve_vs_l0"),
    benchmark:
        paths.job_benchmark("figure_fve_vs_l0")
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_fve_vs_l0.py"
