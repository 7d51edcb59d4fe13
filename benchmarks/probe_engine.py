"""The batched probe engine against the reference's grid of single sklearn fits.

    .venv/bin/python benchmarks/probe_engine.py [--sae topk-w4608-k32] [--datasets ...] [--threads 1]

Runs the normal setting on the default run's outputs (`make results` first):
for each dataset, the L2 logistic baseline on the layer's activations and
the top-k SAE latent probes over the k grid, each validated over
C in logspace(5, -5, 10), once with ``engine="sklearn"`` (the reference's
solvers, one fit at a time, single-threaded as the reference runs them) and
once with ``engine="batched"``. Prints the seconds per dataset, the speed
ratio, and the mean and max absolute difference in test AUC.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

from saeprobe.encoding import load_latents
from saeprobe.probes import REFERENCE_KS
from saeprobe.probing import baseline_table, sae_probe_table

RESULTS = Path("results/smollm2-135m")


def run_grid(engine: str, activations, latents, labels, ks) -> tuple[pd.DataFrame, float]:
    start = time.perf_counter()
    tables = [
        baseline_table("logreg_l2", activations, labels, engine=engine),
        sae_probe_table(latents, labels, ks=ks, engine=engine),
    ]
    return pd.concat(tables, ignore_index=True), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sae", default="topk-w4608-k32")
    parser.add_argument("--layer", type=int, default=15)
    parser.add_argument("--datasets", nargs="+", default=None, help="default: every dataset the SAE encoded")
    parser.add_argument("--ks", type=int, nargs="+", default=list(REFERENCE_KS))
    parser.add_argument("--threads", type=int, default=1, help="the reference fits single-threaded")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    latent_dir = RESULTS / "latents" / args.sae
    datasets = args.datasets or sorted(p.stem for p in latent_dir.glob("*.npz"))
    if not datasets:
        raise SystemExit(f"no latents in {latent_dir}; run `make results` first")
    print(f"normal setting, layer {args.layer}, SAE {args.sae}, k in {args.ks}, {args.threads} thread(s)\n")
    print(f"{'dataset':<34} {'sklearn s':>9} {'batched s':>9} {'ratio':>6} {'mean|dAUC|':>10} {'max|dAUC|':>9}")
    totals = {"sklearn": 0.0, "batched": 0.0}
    differences = []
    with threadpool_limits(args.threads):
        for dataset in datasets:
            labels = pd.read_parquet(f"resources/datasets/{dataset}.parquet", columns=["label"])["label"].to_numpy()
            activations = np.load(RESULTS / "activations" / dataset / f"layer_{args.layer}.npy")
            latents = load_latents(latent_dir / f"{dataset}.npz")
            reference, reference_s = run_grid("sklearn", activations, latents, labels, args.ks)
            batched, batched_s = run_grid("batched", activations, latents, labels, args.ks)
            diff = (reference["test_auc"] - batched["test_auc"]).abs().to_numpy()
            differences.append(diff)
            totals["sklearn"] += reference_s
            totals["batched"] += batched_s
            print(f"{dataset:<34} {reference_s:>9.1f} {batched_s:>9.1f} {reference_s / batched_s:>6.1f} "
                  f"{diff.mean():>10.4f} {diff.max():>9.4f}", flush=True)
    every = np.concatenate(differences)
    print(f"\n{'all ' + str(len(datasets)) + ' datasets':<34} {totals['sklearn']:>9.1f} {totals['batched']:>9.1f} "
          f"{totals['sklearn'] / totals['batched']:>6.1f} {every.mean():>10.4f} {every.max():>9.4f}")
    print("target (issue 4): ratio >= 5, mean |dAUC| <= 0.005")


if __name__ == "__main__":
    main()
