"""The batched probe engine against grids of single sklearn fits.

    .venv/bin/python benchmarks/probe_engine.py [--sae topk-w4608-k32] [--datasets ...] [--threads 1]

Runs the normal setting on the default run's outputs (`make results` first):
for each dataset, the L2 logistic baseline on the layer's activations and
the top-k SAE latent probes over the k grid, each validated over
C in logspace(5, -5, 10), with three engines:

- ``sklearn``: the reference's grid of single fits, as it runs them (saga
  for L1, lbfgs for L2, 1000 iterations, single-threaded);
- ``liblinear``: the same grid of single sklearn fits with a solver that
  converges on these problems (liblinear at tolerance 1e-8, `probes.LIBLINEAR_TOL`);
- ``batched``: ours, every C and validation split of a probe at once.

Prints seconds per dataset, the speed of the batched engine over the
reference's grid, and the mean and max |difference in test AUC| of the
batched engine against each sklearn grid, and of the reference's grid
against the converged one (how far saga's 1000 iterations are from the
answer of their own objective); then the same over the probes whose
liblinear fits all stopped before ``max_iter`` (``solver_converged``), and
how many did not. ``--l2-max-iters`` reruns the reference's L2 grid (lbfgs)
with more iterations, to show where its answer goes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

from saeprobe import settings
from saeprobe.encoding import load_latents
from saeprobe.probes import REFERENCE_KS, ValidatedLogisticRegression, binary_metrics
from saeprobe.probing import baseline_table, sae_probe_table

RESULTS = Path("results/smollm2-135m")
ENGINES = ("sklearn", "liblinear", "batched")
PAIRS = (("batched", "sklearn"), ("batched", "liblinear"), ("sklearn", "liblinear"))


def run_grid(engine: str, activations, latents, labels, ks) -> tuple[pd.DataFrame, float]:
    start = time.perf_counter()
    tables = [
        baseline_table("logreg_l2", activations, labels, engine=engine),
        sae_probe_table(latents, labels, ks=ks, engine=engine),
    ]
    return pd.concat(tables, ignore_index=True), time.perf_counter() - start


def lbfgs_l2(activations, labels, max_iter: int, tol: float | None = None) -> tuple[pd.DataFrame, float]:
    """The reference's L2 grid (lbfgs) with ``max_iter`` iterations (and tolerance ``tol``), normal setting."""
    case = settings.setting("normal").cases(labels, None, None)[0]
    start = time.perf_counter()
    probe = ValidatedLogisticRegression(penalty="l2", engine="sklearn", max_iter=max_iter, sklearn_tol=tol)
    probe.fit(activations[case.train], case.train_labels)
    spent = time.perf_counter() - start
    test_auc = binary_metrics(probe, activations[case.test], labels[case.test])["test_auc"]
    return pd.DataFrame({"test_auc": [test_auc], "C": [probe.C_],
                         "solver_converged": [probe.solver_converged_]}), spent


def reused_grid(folder: Path, dataset: str, engine: str, ks, compute) -> tuple[pd.DataFrame, float]:
    """The stored table and seconds of (dataset, engine, ks), computed and stored if absent."""
    stem = folder / f"{dataset}_{engine}_k{'-'.join(map(str, ks))}"
    if stem.with_suffix(".json").exists():
        return pd.read_parquet(stem.with_suffix(".parquet")), json.loads(stem.with_suffix(".json").read_text())["seconds"]
    table, spent = compute()
    folder.mkdir(parents=True, exist_ok=True)
    table.to_parquet(stem.with_suffix(".parquet"))
    stem.with_suffix(".json").write_text(json.dumps({"seconds": spent}))  # written last: marks the entry complete
    return table, spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sae", default="topk-w4608-k32")
    parser.add_argument("--layer", type=int, default=15)
    parser.add_argument("--datasets", nargs="+", default=None, help="default: every dataset the SAE encoded")
    parser.add_argument("--ks", type=int, nargs="+", default=list(REFERENCE_KS))
    parser.add_argument("--threads", type=int, default=1, help="the reference fits single-threaded")
    parser.add_argument("--details", type=Path, default=None, help="write every probe of every engine to this CSV")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="keep the sklearn and liblinear tables (and their seconds) in this folder and reuse "
                             "them when there: those engines' code does not change with the batched one's")
    parser.add_argument("--only-references", action="store_true",
                        help="with --reuse: fill the folder with the sklearn and liblinear tables, nothing else")
    parser.add_argument("--l2-max-iters", type=int, nargs="*", default=[],
                        help="also run the reference's L2 grid (lbfgs) with these iteration caps (kept in --reuse)")
    parser.add_argument("--l2-tol", type=float, default=None,
                        help="lbfgs's tolerance in those runs (default sklearn's, 1e-4, as the reference)")
    args = parser.parse_args()
    if args.only_references:
        if args.reuse is None:
            raise SystemExit("--only-references needs --reuse")

    torch.set_num_threads(args.threads)
    latent_dir = RESULTS / "latents" / args.sae
    datasets = args.datasets or sorted(p.stem for p in latent_dir.glob("*.npz"))
    if not datasets:
        raise SystemExit(f"no latents in {latent_dir}; run `make results` first")
    print(f"normal setting, layer {args.layer}, SAE {args.sae}, k in {args.ks}, {args.threads} thread(s)\n")
    print(f"{'dataset':<34} " + " ".join(f"{e + ' s':>11}" for e in ENGINES)
          + " " + " ".join(f"{a[:3]}-{b[:3]} mean/max".rjust(20) for a, b in PAIRS))
    seconds = dict.fromkeys(ENGINES, 0.0)
    differences = {pair: [] for pair in PAIRS}
    details = []
    lbfgs_runs = []
    with threadpool_limits(args.threads):
        for dataset in datasets:
            labels = pd.read_parquet(f"resources/datasets/{dataset}.parquet", columns=["label"])["label"].to_numpy()
            activations = np.load(RESULTS / "activations" / dataset / f"layer_{args.layer}.npy")
            latents = load_latents(latent_dir / f"{dataset}.npz")
            tables = {}
            for engine in ENGINES:
                if args.only_references and engine == "batched":
                    tables[engine], spent = tables["liblinear"], 0.0
                elif args.reuse is not None and engine != "batched":
                    tables[engine], spent = reused_grid(args.reuse, dataset, engine, args.ks,
                                                        lambda: run_grid(engine, activations, latents, labels, args.ks))
                else:
                    tables[engine], spent = run_grid(engine, activations, latents, labels, args.ks)
                seconds[engine] += spent
                details.append(tables[engine].assign(dataset=dataset, engine=engine, seconds=spent))
            cells = []
            for a, b in PAIRS:
                diff = (tables[a]["test_auc"] - tables[b]["test_auc"]).abs().to_numpy()
                differences[(a, b)].append(diff)
                cells.append(f"{diff.mean():.4f} / {diff.max():.4f}".rjust(20))
            times = " ".join(f"{details[-len(ENGINES) + i]['seconds'].iloc[0]:>11.1f}" for i in range(len(ENGINES)))
            print(f"{dataset:<34} {times} {' '.join(cells)}", flush=True)
            for max_iter in args.l2_max_iters:
                compute = lambda: lbfgs_l2(activations, labels, max_iter, args.l2_tol)  # noqa: E731
                name = f"lbfgs{max_iter}" + (f"_tol{args.l2_tol:g}" if args.l2_tol is not None else "")
                run, _ = (reused_grid(args.reuse, dataset, name, ["l2"], compute) if args.reuse
                          else compute())
                lbfgs_runs.append(run.assign(dataset=dataset, max_iter=max_iter))
    if args.only_references:
        return
    every = {pair: np.concatenate(diffs) for pair, diffs in differences.items()}
    n_probes = len(every[PAIRS[0]])
    print(f"\n{'all ' + str(len(datasets)) + f' datasets, {n_probes} probes':<34} "
          + " ".join(f"{seconds[e]:>11.1f}" for e in ENGINES) + " "
          + " ".join(f"{d.mean():.4f} / {d.max():.4f}".rjust(20) for d in every.values()))
    print(f"\nbatched over the reference's grid: {seconds['sklearn'] / seconds['batched']:.1f}x faster "
          f"(over the converged grid: {seconds['liblinear'] / seconds['batched']:.1f}x)")
    print("target: >= 20x, and mean |dAUC| <= 0.005, max <= 0.02 against the converged grid")
    # The L2 baseline alone: its agreement with the paper's own code (lbfgs grid).
    frame = pd.concat(details, ignore_index=True)
    print("\nby probe family, batched against each sklearn grid (mean / max |dAUC|):")
    for family, rows in (("L2 logistic baseline", frame["method"] == "logreg_l2"),
                         ("SAE top-k L1 probes", frame["method"] != "logreg_l2")):
        cells = []
        for other in ("sklearn", "liblinear"):
            ours = frame[rows & (frame["engine"] == "batched")]["test_auc"].to_numpy()
            theirs = frame[rows & (frame["engine"] == other)]["test_auc"].to_numpy()
            diff = np.abs(ours - theirs)
            cells.append(f"vs {other}: {diff.mean():.4f} / {diff.max():.4f}")
        print(f"  {family:<22} " + "   ".join(cells))
    # Where liblinear itself stopped at max_iter, its grid is no converged answer.
    converged = frame[frame["engine"] == "liblinear"]["solver_converged"].fillna(False).to_numpy(bool)
    diff = np.abs(frame[frame["engine"] == "batched"]["test_auc"].to_numpy()
                  - frame[frame["engine"] == "liblinear"]["test_auc"].to_numpy())
    print(f"\nbatched against liblinear where every liblinear fit stopped before max_iter ({converged.sum()} of "
          f"{len(converged)} probes): {diff[converged].mean():.4f} / {diff[converged].max():.4f}")
    for _, row in frame[frame["engine"] == "liblinear"][~converged].iterrows():
        print(f"  liblinear capped: {row['dataset']} {row['method']} k={row['k']}")
    unconverged = (~frame[frame["engine"] == "batched"]["solver_converged"].fillna(False).to_numpy(bool)).sum()
    print(f"batched probes with an uncertified fit: {unconverged} of {len(converged)}")
    if lbfgs_runs:
        runs = pd.concat(lbfgs_runs, ignore_index=True)
        ours = frame[(frame["engine"] == "batched") & (frame["method"] == "logreg_l2")].set_index("dataset")["test_auc"]
        print(f"\nthe reference's L2 grid (lbfgs, tol {args.l2_tol or 1e-4:g}) against the batched L2 baseline, "
              "by iteration cap (mean / max |dAUC|):")
        for max_iter, rows in runs.groupby("max_iter"):
            diff = np.abs(rows["test_auc"].to_numpy() - ours.loc[rows["dataset"]].to_numpy())
            print(f"  max_iter {max_iter:>7}: {diff.mean():.4f} / {diff.max():.4f}, "
                  f"{int(rows['solver_converged'].sum())} of {len(rows)} grids converged")
    if args.details:
        frame.to_csv(args.details, index=False)


if __name__ == "__main__":
    main()
