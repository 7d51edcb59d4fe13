"""The representation stage's tables across its jobs (``paths.REPRESENTATION_TABLES``)."""

from __future__ import annotations

import pandas as pd

from saeprobe.representation.analysis import LOGREG
from saeprobe.representation.selectivity import feature_reuse, load_dataset_groups

SEPARABILITY_COLUMNS = ["dataset", "layer", "representation", "n_dims", "jss", "sno", "auc", "auc_dims"]
SELECTIVITY_COLUMNS = ["dataset", "group", "layer", "representation", "gini", "concept_gini", "frac_active"]


def representation_tables(per_dataset: list[pd.DataFrame], clusters: list[pd.DataFrame],
                          pairwise: list[pd.DataFrame], groups_file: str | None = None) -> dict[str, pd.DataFrame]:
    """The five tables from the jobs' ``datasets``, ``clusters`` and ``pairwise`` files.

    Feature reuse compares the top dimensions of every pair of datasets in one
    group (``load_dataset_groups``), per representation, with logreg's
    Jaccard beside each SAE's (``delta_jaccard`` = SAE − logreg, as the seed)."""
    rows = pd.concat(per_dataset, ignore_index=True)
    groups = load_dataset_groups(groups_file)
    group_of = {dataset: group for group, members in groups.items() for dataset in members}
    separability = rows.reindex(columns=SEPARABILITY_COLUMNS)
    selective = rows[rows["gini"].notna()] if "gini" in rows else rows.iloc[:0]
    selectivity = selective.assign(group=selective["dataset"].map(group_of)).reindex(columns=SELECTIVITY_COLUMNS)

    reuse = []
    for (layer, representation), part in selective.groupby(["layer", "representation"], sort=False):
        top_sets = dict(zip(part["dataset"], part["top_dims"]))
        reuse.append(feature_reuse(top_sets, groups).assign(layer=layer, representation=representation))
    reuse = pd.concat(reuse, ignore_index=True) if reuse else pd.DataFrame(
        columns=["group", "dataset_a", "dataset_b", "jaccard", "layer", "representation"])
    baseline = reuse[reuse["representation"] == LOGREG].set_index(["layer", "dataset_a", "dataset_b"])["jaccard"]
    reuse["logreg_jaccard"] = [baseline.get((row.layer, row.dataset_a, row.dataset_b), float("nan"))
                               for row in reuse.itertuples()]
    reuse["delta_jaccard"] = reuse["jaccard"] - reuse["logreg_jaccard"]
    reuse.loc[reuse["representation"] == LOGREG, "delta_jaccard"] = float("nan")

    def stacked(frames):
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    return {"separability": separability, "selectivity": selectivity.reset_index(drop=True),
            "feature_reuse": reuse, "cluster_separation": stacked(clusters), "cluster_pairwise": stacked(pairwise)}
