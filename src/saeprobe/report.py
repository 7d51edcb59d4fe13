"""Aggregation and figures."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
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


def _latents_by_sae(latents: pd.DataFrame, value: str, path: str | Path, ylabel: str, title: str, empty: str,
                    extra_means: dict[str, str] | None = None) -> None:
    """A latent-level score ``value`` as a strip per SAE coloured by
    architecture, the SAE's mean as a black tick (and each column of
    ``extra_means``, label -> column, as a grey one); ``empty`` is said
    where no latent has a value."""
    import seaborn as sns

    valued = latents.dropna(subset=[value])
    order = sorted(latents["sae"].unique())
    with _figure(path) as ax:
        if len(valued):
            # Seeded jitter (seaborn's stripplot draws from the global RNG): the same table, the same pixels.
            x = valued["sae"].map({sae: i for i, sae in enumerate(order)}).to_numpy()
            x = x + np.random.default_rng(0).uniform(-0.2, 0.2, len(valued))
            architectures = sorted(valued["architecture"].unique())
            for architecture, colour in zip(architectures, sns.color_palette(n_colors=len(architectures))):
                mine = (valued["architecture"] == architecture).to_numpy()
                ax.scatter(x[mine], valued[value].to_numpy()[mine], color=colour, alpha=0.7, s=25,
                           label=architecture)
            means = valued.groupby("sae")[value].mean().reindex(order)
            ax.scatter(range(len(order)), means, marker="_", s=800, color="black", zorder=3, label="mean")
            for label, column in (extra_means or {}).items():
                ax.scatter(range(len(order)), latents.groupby("sae")[column].mean().reindex(order), marker="_",
                           s=400, color="grey", zorder=3, label=label)
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, empty, ha="center", transform=ax.transAxes)
        ax.set_xticks(range(len(order)), order, rotation=20, ha="right", fontsize=8)
        ax.set_xlim(-0.5, len(order) - 0.5)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("")
        ax.set_ylabel(ylabel)
        ax.set_title(title)


def _titled(model: str, what: str) -> str:
    return f"{model}: {what}" if model else what[0].upper() + what[1:]


def _explainers(latents: pd.DataFrame) -> str:
    return ", ".join(sorted(latents["explainer"].dropna().unique()))


def plot_autointerp_scores(latents: pd.DataFrame, path: str | Path, model: str = "") -> None:
    """Detection accuracy of each scored latent, a column per SAE coloured by
    architecture, with the SAE's mean (its autointerp_score) marked."""
    _latents_by_sae(latents, "score", path, "detection accuracy (14 windows)",
                    _titled(model, f"autointerp detection, explained by {_explainers(latents)}"),
                    "no latent could be scored (see the table's 'skipped')")


def plot_sensitivity(latents: pd.DataFrame, path: str | Path, model: str = "") -> None:
    """Generated sensitivity of each measured latent, a column per SAE coloured
    by architecture, with the SAE's mean marked and its mean original
    sensitivity (the shown windows re-scored) as a grey tick."""
    _latents_by_sae(latents, "generated_sensitivity", path, "fraction of generated texts that fire",
                    _titled(model, f"feature sensitivity, texts written by {_explainers(latents)}"),
                    "no latent was measured (no reply held a sample)",
                    {"mean on the shown windows": "original_sensitivity"})


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
            # No jitter: seaborn draws it from the global RNG, and the same table should give the same pixels.
            sns.stripplot(data=table, x="dataset", y="test_auc", hue="role", hue_order=["top", "best_single"],
                          order=sorted(table["dataset"].unique()), dodge=True, jitter=False, ax=ax)
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


# Smoothness metrics drawn per column group (§5.4); lower is smoother for all of them.
SMOOTHNESS_PANELS = {"smoothness_tv": "total variation", "lipschitz_cont": "Lipschitz", "fft": "FFT high/low power",
                     "wavelet": "Haar detail/approximation", "multiscale": "variance ratio, scale 1 / 8"}
SMOOTHNESS_GROUPS = {"h": "high-level", "l": "low-level", "tot": "all latents"}


def plot_smoothness(table: pd.DataFrame, path: str | Path, model: str = "") -> None:
    """One panel per smoothness metric: each SAE's value on its high-level,
    low-level and all latents (an SAE without groups has only the last)."""
    import seaborn as sns

    long = [{"sae": row["sae"], "metric": label, "group": SMOOTHNESS_GROUPS[group], "value": row[f"{metric}_{group}"]}
            for _, row in table.iterrows() for metric, label in SMOOTHNESS_PANELS.items()
            for group in SMOOTHNESS_GROUPS if pd.notna(row.get(f"{metric}_{group}"))]
    long = pd.DataFrame(long)
    order = sorted(table["sae"])
    with _figure(path, size=(4 * len(SMOOTHNESS_PANELS), 4.5), panels=len(SMOOTHNESS_PANELS)) as axes:
        for ax, label in zip(axes, SMOOTHNESS_PANELS.values()):
            sns.barplot(long[long["metric"] == label], x="sae", y="value", hue="group", order=order,
                        hue_order=list(SMOOTHNESS_GROUPS.values()), ax=ax)
            ax.set_title(label)
            ax.set_xlabel("")
            ax.set_ylabel("mean per held-out sequence (lower: smoother)" if ax is axes[0] else "")
            ax.tick_params(axis="x", rotation=30)
            if ax is not axes[-1] and ax.get_legend():
                ax.get_legend().remove()
        axes[0].figure.suptitle(_titled(model, "smoothness of latent codes along held-out sequences"))


def plot_chunk_probing(table: pd.DataFrame, path: str | Path, model: str = "") -> None:
    """Test accuracy of each task's probe on the residual and on each SAE's chunks."""
    import seaborn as sns

    tasks = [t for t in ("semantics", "syntax", "context") if t in set(table["task"])]
    table = table.assign(features=np.where(table["sae"].isna() | (table["sae"] == ""), table["representation"],
                                           table["sae"].astype(str) + ": " + table["representation"]))
    order = sorted(table["features"].unique(), key=lambda f: (f != "residual", f))
    with _figure(path, size=(4.5 * len(tasks), 4.5), panels=len(tasks)) as axes:
        for ax, task in zip(axes, tasks):
            rows = table[table["task"] == task]
            sns.barplot(rows, x="features", y="test_accuracy", order=[f for f in order if f in set(rows["features"])],
                        color="#4c72b0", ax=ax)
            chance = 1 / rows["n_classes"].max()
            ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label=f"chance {chance:.2f}")
            ax.set_title({"semantics": "domain", "syntax": "part of speech", "context": "document"}[task])
            ax.set_xlabel("")
            ax.set_ylabel("test accuracy" if ax is axes[0] else "")
            ax.set_ylim(0, 1)
            ax.tick_params(axis="x", rotation=45)
            ax.legend(loc="lower right", fontsize="small")
        axes[0].figure.suptitle(_titled(model, "chunk probing"))


def plot_tsne(points: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """The t-SNE map of an SAE's codes, coloured by domain, part of speech and document."""
    import seaborn as sns

    panels = [(colour, label) for colour, label in (("domain", "domain"), ("pos", "part of speech"),
                                                    ("document", "document"))
              if points.loc[points["colour"] == colour, "label"].ne("").any()]
    with _figure(path, size=(5.5 * len(panels), 5), panels=len(panels)) as axes:
        for ax, (colour, label) in zip(axes, panels):
            rows = points[points["colour"] == colour]
            labels = sorted(rows["label"].unique())
            sns.scatterplot(rows, x="x", y="y", hue="label", hue_order=labels, s=8, linewidth=0, ax=ax,
                            legend=len(labels) <= 20, palette="tab20" if len(labels) <= 20 else "husl")
            ax.set_title(f"by {label}")
            ax.set(xlabel="", ylabel="", xticks=[], yticks=[])
            if ax.get_legend():
                ax.legend(fontsize="x-small", markerscale=2, loc="best")
        axes[0].figure.suptitle(title)


def _representation_order(names) -> list[str]:
    """The residual's two representations first, then the SAEs by name."""
    dense = [n for n in ("raw", "logreg") if n in set(names)]
    return dense + sorted(set(names) - set(dense))


def _representation_panels(table: pd.DataFrame, panels: dict[str, str], path, title: str) -> None:
    """One panel per column of ``panels`` ({column: label}): a bar per
    representation (the mean of its rows), each row a dot."""
    import seaborn as sns

    order = _representation_order(table["representation"])
    with _figure(path, size=(4.2 * len(panels), 4.5), panels=len(panels)) as axes:
        for ax, (column, label) in zip(axes, panels.items()):
            rows = table[table[column].notna()]
            shown = [r for r in order if r in set(rows["representation"])]
            sns.barplot(rows, x="representation", y=column, order=shown, errorbar=None, color="#a1c9f4", ax=ax)
            sns.stripplot(rows, x="representation", y=column, order=shown, jitter=False, color="#1f3b73", size=4,
                          ax=ax)
            ax.set_title(label)
            ax.set_xlabel("")
            ax.set_ylabel("")
            ax.set_xticks(ax.get_xticks(), ax.get_xticklabels(), rotation=40, ha="right")
        axes[0].figure.suptitle(title)


REPRESENTATION_PANELS = {
    "separability": {"jss": "JS separability (higher: more separable)",
                     "sno": "salient-neuron overlap (lower: more class-specific)", "auc": "test AUC, L2 probe"},
    "selectivity": {"gini": "Gini over examples", "concept_gini": "Gini across datasets' positives",
                    "frac_active": "fraction of examples active"},
    "feature_reuse": {"jaccard": "Jaccard of top dimensions, related datasets",
                      "delta_jaccard": "Jaccard − logreg's"},
    "cluster_separation": {"calinski_harabasz": "Calinski–Harabasz", "neg_davies_bouldin": "− Davies–Bouldin",
                           "silhouette": "silhouette", "mpcd_ratio": "centroid distance / spread"},
}


def plot_representation(name: str, table: pd.DataFrame, path: str | Path, model: str = "") -> None:
    """The figure of a representation table (``paths.REPRESENTATION_FIGURES``): bars per representation."""
    what = {"separability": "class separability per dataset", "selectivity": "selectivity of the top dimensions",
            "feature_reuse": "reuse of top dimensions within groups of related datasets",
            "cluster_separation": "separation of the datasets' positives as clusters"}[name]
    if table.empty:  # e.g. no two related datasets were probed: say so rather than draw nothing
        with _figure(path, size=(6, 2)) as ax:
            ax.axis("off")
            ax.text(0.5, 0.5, f"{what}: nothing to draw (the table is empty)", ha="center", va="center")
        return
    _representation_panels(table, REPRESENTATION_PANELS[name], path, _titled(model, what))


def plot_crossmodal(table: pd.DataFrame, path: str | Path, model: str = "") -> None:
    """Stitching accuracy per representation (mean and spread over pairings), chance and the shuffled control."""
    table = table.set_index("representation").loc[_representation_order(table["representation"])]
    with _figure(path, size=(1.2 * len(table) + 3, 4.5)) as ax:
        x = np.arange(len(table))
        ax.bar(x, table["accuracy_mean"], yerr=table["accuracy_std"], color="#a1c9f4", capsize=3,
               label="paired classes (mean ± sd over pairings)")
        ax.scatter(x, table["shuffled_accuracy_mean"], color="#1f3b73", zorder=3, label="shuffled pairing")
        ax.axhline(table["chance"].iloc[0], color="grey", linestyle="--", linewidth=1,
                   label=f"chance {table['chance'].iloc[0]:.2f}")
        ax.set_xticks(x, table.index, rotation=40, ha="right")
        ax.set_ylabel("1-NN accuracy, mapped test prompts")
        ax.set_ylim(0, 1)
        ax.legend(fontsize="small")
        ax.set_title(_titled(model, f"text-to-image stitching ({table['images'].iloc[0]}, "
                                    f"{int(table['n_concepts'].iloc[0])} concepts)"))


def plot_multitoken(table: pd.DataFrame, path: str | Path, model: str = "") -> None:
    """Mean test AUC of each method (an SAE's probes per k) on the last token and on each pooling."""
    import seaborn as sns

    table = table.assign(probe=np.where(table["sae"].fillna("") == "", table["method"],
                                        table["sae"].fillna("") + ", k=" + table["k"].astype("Int64").astype(str)))
    poolings = [p for p in ("last", "mean", "max") if p in set(table["pooling"])]
    with _figure(path, size=(1.1 * table["probe"].nunique() + 4, 4.5)) as ax:
        sns.barplot(table, x="probe", y="test_auc", hue="pooling", hue_order=poolings,
                    order=sorted(table["probe"].unique()), errorbar=None, ax=ax)
        ax.set_xticks(ax.get_xticks(), ax.get_xticklabels(), rotation=40, ha="right")
        ax.set_xlabel("")
        ax.set_ylabel(f"mean test AUC over {table['dataset'].nunique()} datasets")
        ax.set_ylim(0.5, 1)
        ax.set_title(_titled(model, "probes on pooled tokens against the last token"))
