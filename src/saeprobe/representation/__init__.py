"""Metrics that compare SAE latents with dense dimensions as representations.

Pure numpy/scikit-learn ports of three kurexi/SAEs analyses
(analysis-methods.md §6.2-6.4): JS separability and salient-neuron overlap
(``separability``), cross-concept cluster separation (``clusters``), and Gini
selectivity with Jaccard feature reuse (``selectivity``).
"""

from saeprobe.representation.clusters import (
    cluster_separation,
    firing_latents,
    multiclass_top_dimensions,
    pairwise_separation,
)
from saeprobe.representation.selectivity import (
    concept_gini,
    feature_reuse,
    frac_active_dense,
    frac_active_sae,
    gini,
    jaccard,
    load_dataset_groups,
    top_latents_by_mean_difference,
)
from saeprobe.representation.separability import (
    js_separability,
    js_separability_per_dim,
    salient_neuron_overlap,
    top_logistic_dimensions,
)

__all__ = [
    "cluster_separation",
    "concept_gini",
    "feature_reuse",
    "firing_latents",
    "frac_active_dense",
    "frac_active_sae",
    "gini",
    "jaccard",
    "js_separability",
    "js_separability_per_dim",
    "load_dataset_groups",
    "multiclass_top_dimensions",
    "pairwise_separation",
    "salient_neuron_overlap",
    "top_latents_by_mean_difference",
    "top_logistic_dimensions",
]
