"""Probe method names, as they appear in paths and results tables.

A module of its own, importing nothing, so that the settings registry, the
config checks and the Snakefile can share the names without a cycle.
"""

# Baselines on raw activations, in the order the tables and the schema list them.
BASELINE_NAMES = ("logreg_l2", "ridge", "pca_logreg", "knn", "xgboost", "mlp")
# The reference's five baselines (run_baselines.py: logreg, pca, knn, xgboost,
# mlp), in its order; ridge is ours.
REFERENCE_BASELINES = ("logreg_l2", "pca_logreg", "knn", "xgboost", "mlp")
SAE_METHOD = "sae_topk_l1"
