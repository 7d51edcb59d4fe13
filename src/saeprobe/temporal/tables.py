"""The temporal analyses' tables across SAEs, from their per-SAE files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from saeprobe.atomic import read_json


def smoothness_table(files: list[str | Path]) -> pd.DataFrame:
    """A row per SAE from its smoothness JSON, in SAE order."""
    rows = [read_json(f) for f in files]
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows).sort_values("sae", kind="stable").reset_index(drop=True)
    first = [c for c in ("sae", "architecture", "width", "high_latents", "sequences", "sequences_left_out", "length")
             if c in table]
    return table[first + sorted(set(table.columns) - set(first))]


def stacked_table(files: list[str | Path]) -> pd.DataFrame:
    """Per-SAE tables (``.parquet`` or ``.csv``) one under another, in the order given."""
    frames = [pd.read_parquet(f) if str(f).endswith(".parquet") else pd.read_csv(f, keep_default_na=False)
              for f in files]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
