"""Aggregation and figures."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from saeprobe.atomic import atomic_path
from saeprobe.methods import SAE_METHOD
from saeprobe.settings import setting as setting_named


def combine_results(paths: list[str | Path]) -> pd.DataFrame:
    """Concatenate per-job result tables in a stable order."""
    frames = [pd.read_parquet(p) for p in paths]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if table.empty:
        return table
    return table.sort_values(["model", "setting", "dataset", "method", "sae", "layer", "k"], kind="stable",
                             na_position="first").reset_index(drop=True)


BOOTSTRAP_SEED = 0
"""Seeds seaborn's bootstrapped confidence bands, so a figure is a function of its table."""


@contextmanager
def _figure(path: str | Path, size=(7, 4.5), panels: int | None = None):
    """A themed seaborn figure that is saved atomically to ``path`` on exit:
    its axes, or a row of ``panels`` axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(1, panels or 1, figsize=size, squeeze=False)
    try:
        yield ax[0] if panels else ax[0][0]
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=150, format=Path(path).suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)


def plot_auc_vs_setting(table: pd.DataFrame, setting: str, main_layer: int, path: str | Path, title: str = "") -> None:
    """Mean test AUC over datasets against the setting's grid value, one line
    per method (baselines at the main layer, each SAE probe per k)."""
    import seaborn as sns

    from saeprobe.summary import fitted_rows, method_labels

    figure = setting_named(setting).figure
    if figure is None:
        raise ValueError(f"the {setting} setting has no figure against its grid")
    sae, base = fitted_rows(table, main_layer)
    rows = pd.concat([base, sae], ignore_index=True)
    rows = rows.assign(method_label=method_labels(rows), setting_value=rows["setting_value"].astype(float))
    with _figure(path, size=(8, 5)) as ax:
        sns.lineplot(data=rows, x="setting_value", y="test_auc", hue="method_label", style="method_label",
                     markers=True, dashes=False, errorbar=None, ax=ax)
        if figure.log_scale:
            ax.set_xscale("log", base=2)
        ax.set_xlabel(figure.axis_label)
        ax.set_ylabel(f"mean test AUC ({rows['dataset'].nunique()} datasets)")
        ax.set_title(title or f"{setting}: test AUC of each method")
        ax.legend(fontsize="x-small", ncol=2, loc="lower right")


def plot_baselines_by_layer(table: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Mean test AUC of each baseline against layer (normal setting)."""
    import seaborn as sns

    base = table[table["method"] != SAE_METHOD].assign(layer=lambda t: t["layer"].astype(int))
    with _figure(path) as ax:
        sns.pointplot(data=base, x="layer", y="test_auc", hue="method", hue_order=sorted(base["method"].unique()),
                      dodge=0.3, errorbar=("ci", 95), seed=BOOTSTRAP_SEED, markersize=5, ax=ax)
        ax.set_xlabel("layer (block output)")
        ax.set_ylabel(f"mean test AUC ({base['dataset'].nunique()} datasets)")
        ax.set_title(title or "Baselines by layer (normal setting)")
        ax.legend(fontsize="small", loc="lower right")


def plot_win_rates(rates: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Bars: per setting, the fraction of cases where each SAE's best probe
    (chosen on validation) beats the best baseline on test AUC."""
    import seaborn as sns

    with _figure(path) as ax:
        sns.barplot(data=rates, x="setting", y="win_rate", hue="sae", hue_order=sorted(rates["sae"].unique()),
                    errorbar=None, ax=ax)  # one rate per bar
        ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("setting")
        ax.set_ylabel("SAE probe win rate over the best baseline")
        ax.set_title(title or "How often an SAE probe beats the baselines")
        ax.legend(fontsize="small", title="SAE")


def plot_auc_vs_k(table: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Mean test AUC over datasets against k, one line per SAE, baselines as
    horizontal lines (one per layer)."""
    import seaborn as sns

    sae = table[table["method"] == SAE_METHOD].copy()
    base = table[table["method"] == "logreg_l2"]
    n_datasets = table["dataset"].nunique()
    with _figure(path) as ax:
        if not sae.empty:
            sae["k"] = sae["k"].astype(int)
            sns.lineplot(data=sae, x="k", y="test_auc", hue="sae", hue_order=sorted(sae["sae"].unique()),
                         marker="o", errorbar=("ci", 95), seed=BOOTSTRAP_SEED, ax=ax)
        palette = sns.color_palette("dark", n_colors=max(1, base["layer"].nunique()))
        for color, (layer, group) in zip(palette, base.groupby("layer")):
            ax.axhline(group["test_auc"].mean(), color=color, linestyle="--",
                       label=f"logistic regression, layer {layer}")
        ax.set_xscale("log", base=2)
        if not sae.empty:
            ks = sorted(sae["k"].unique())
            ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlabel("k (SAE latents in the probe)")
        ax.set_ylabel(f"mean test AUC ({n_datasets} datasets)")
        ax.set_title(title or "SAE probes against the activation baseline (normal setting)")
        ax.legend(fontsize="small", loc="lower right")


def plot_fve_vs_l0(table: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Fraction of variance explained against L0, one point per SAE, annotated
    with the fraction of CE loss recovered."""
    import seaborn as sns

    with _figure(path) as ax:
        sns.scatterplot(data=table, x="l0", y="fve", hue="architecture", style="architecture", s=90, ax=ax)
        for row in table.itertuples():
            ax.annotate(f"{row.sae}\nCE rec. {row.ce_loss_recovered:.2f}", (row.l0, row.fve), fontsize=7,
                        xytext=(5, -10), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("mean L0 (active latents per token)")
        ax.set_ylabel("fraction of variance explained")
        ax.set_title(title or "SAE quality on held-out activations")


def plot_autointerp_scores(latents: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Detection accuracy of each scored latent, a column per SAE coloured by
    architecture, with the SAE's mean (its autointerp_score) marked."""
    import seaborn as sns

    scored = latents.dropna(subset=["score"])
    order = sorted(latents["sae"].unique())
    with _figure(path) as ax:
        if len(scored):
            sns.stripplot(data=scored, x="sae", y="score", hue="architecture", order=order,
                          hue_order=sorted(scored["architecture"].unique()), jitter=0.2, alpha=0.7, ax=ax)
            means = scored.groupby("sae")["score"].mean().reindex(order)
            ax.scatter(range(len(order)), means, marker="_", s=800, color="black", zorder=3, label="mean")
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no latent could be scored (see the table's 'skipped')", ha="center",
                    transform=ax.transAxes)
        ax.set_xticks(range(len(order)), order, rotation=20, ha="right", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("")
        ax.set_ylabel("detection accuracy (14 windows)")
        explainers = ", ".join(sorted(latents["explainer"].dropna().unique()))
        ax.set_title(title or f"Autointerp detection, explained by {explainers}")


def plot_sensitivity(latents: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Generated sensitivity of each measured latent, a column per SAE coloured
    by architecture, with the SAE's mean marked and each column's mean
    original sensitivity (the shown windows re-scored) as a grey tick."""
    import seaborn as sns

    measured = latents.dropna(subset=["generated_sensitivity"])
    order = sorted(latents["sae"].unique())
    with _figure(path) as ax:
        if len(measured):
            sns.stripplot(data=measured, x="sae", y="generated_sensitivity", hue="architecture", order=order,
                          hue_order=sorted(measured["architecture"].unique()), jitter=0.2, alpha=0.7, ax=ax)
            means = measured.groupby("sae")["generated_sensitivity"].mean().reindex(order)
            ax.scatter(range(len(order)), means, marker="_", s=800, color="black", zorder=3, label="mean")
            original = latents.groupby("sae")["original_sensitivity"].mean().reindex(order)
            ax.scatter(range(len(order)), original, marker="_", s=400, color="grey", zorder=3,
                       label="mean on the shown windows")
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, "no latent was measured (no reply held a sample)", ha="center",
                    transform=ax.transAxes)
        ax.set_xticks(range(len(order)), order, rotation=20, ha="right", fontsize=8)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("")
        ax.set_ylabel("fraction of generated texts that fire")
        explainers = ", ".join(sorted(latents["explainer"].dropna().unique()))
        ax.set_title(title or f"Feature sensitivity, texts written by {explainers}")


def plot_ood_pruning(table: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """OOD AUC of the first n latents against n, a line per order (the probes'
    mean-difference order, the explainer's ranking for the shift), a panel per
    (SAE, dataset); dashed where the explainer's reply did not parse and its
    order is the probes'."""
    panels = sorted(table.groupby(["sae", "dataset"]).groups) if len(table) else []
    with _figure(path, size=(4 * max(1, len(panels)), 3.8), panels=max(1, len(panels))) as axes:
        for ax, (sae, dataset) in zip(axes, panels):
            rows = table[(table["sae"] == sae) & (table["dataset"] == dataset)]
            for order in ("probe", "explainer"):
                line = rows[rows["order"] == order].sort_values("n")
                style = "--" if order == "explainer" and not line["ranking_parsed"].all() else "-"
                ax.plot(line["n"], line["ood_auc"], style, marker="o", label=f"{order} order")
            ax.set_title(f"{dataset}\n{sae}", fontsize=8)
            ax.set_xlabel("top-n latents")
            ax.set_ylim(0.4, 1.0)
        axes[0].set_ylabel("OOD test AUC")
        if panels:
            axes[0].legend(fontsize=8)
        else:
            axes[0].text(0.5, 0.5, "no analysed dataset has an OOD set", ha="center", transform=axes[0].transAxes)
        axes[0].figure.suptitle(title or "OOD AUC of the top-n latents")


def plot_described_latents(table: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Single-latent test AUC of each described latent, by dataset: the top
    latents by the probes' rank, and the best single latent."""
    import seaborn as sns

    with _figure(path, size=(max(5, 1.2 * table["dataset"].nunique() + 3), 4.5)) as ax:
        if len(table):
            sns.stripplot(data=table, x="dataset", y="test_auc", hue="role", hue_order=["top", "best_single"],
                          order=sorted(table["dataset"].unique()), dodge=True, jitter=0.1, ax=ax)
            ax.tick_params(axis="x", rotation=20, labelsize=8)
        ax.set_ylim(0.4, 1.02)
        ax.set_xlabel("")
        ax.set_ylabel("single-latent test AUC")
        ax.set_title(title or "Described latents")


def plot_audit(table: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Each audited dataset's most common last characters, by label."""
    import seaborn as sns

    ends = table[table["kind"] == "last_character"] if len(table) else table
    panels = sorted(ends["dataset"].unique()) if len(ends) else []
    with _figure(path, size=(4.5 * max(1, len(panels)), 3.8), panels=max(1, len(panels))) as axes:
        for ax, dataset in zip(axes, panels):
            rows = ends[ends["dataset"] == dataset].drop_duplicates(["label", "character"])
            sns.barplot(data=rows, x="character", y="count", hue="label", ax=ax)
            ax.set_title(dataset, fontsize=9)
            ax.set_xlabel("last character")
        if not panels:
            axes[0].text(0.5, 0.5, "no audited dataset", ha="center", transform=axes[0].transAxes)
        axes[0].figure.suptitle(title or "Last characters by label")


# The figure of each per-dataset analysis (saeprobe.paths.DATASET_ANALYSES).
DATASET_ANALYSIS_PLOTS = {"descriptions": plot_described_latents, "ood_pruning": plot_ood_pruning,
                          "audit": plot_audit}
