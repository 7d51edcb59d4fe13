"""Multi-token probes (SAE-Probes, Kantamneni et al. 2025, its multi-token
section): the pooled probes beside the last-token probes of the same methods.

A pooling job (``activations.ResidualExtractor.pooled_activations``) keeps,
per prompt, the mean and the max over its tokens (the first, the attention
sink, left out) of the residual and of each SAE's codes; the probe jobs fit
the normal setting's baselines on the pooled residual and top-k SAE probes
on the pooled codes, exactly as the last-token probes are fitted.
"""

from __future__ import annotations

import pandas as pd

from saeprobe.methods import SAE_METHOD

LAST_TOKEN = "last"
"""The ``pooling`` of the last-token probes in the comparison table."""


def multitoken_table(pooled: list[pd.DataFrame], last_token: pd.DataFrame, baselines: list[str], saes: list[str],
                     ks: list[int], layer: int) -> pd.DataFrame:
    """The pooled probes' rows, and the normal setting's last-token rows of the
    same datasets, baselines, SAEs, ks and layer (``pooling`` = ``"last"``)."""
    table = pd.concat(pooled, ignore_index=True)
    same = last_token[(last_token["layer"] == layer) & last_token["dataset"].isin(set(table["dataset"]))]
    baseline_rows = same["method"].isin(baselines)
    sae_rows = (same["method"] == SAE_METHOD) & same["sae"].isin(saes) & same["k"].isin(ks)
    last = same[baseline_rows | sae_rows].assign(pooling=LAST_TOKEN)
    columns = [c for c in table.columns if c in last.columns]
    return pd.concat([last[columns], table[columns]], ignore_index=True).sort_values(
        ["dataset", "method", "sae", "k", "pooling"], kind="stable", na_position="first").reset_index(drop=True)
