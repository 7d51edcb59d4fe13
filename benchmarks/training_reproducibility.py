"""How far CPU SAE training drifts between processors: one TopK SAE trained
under each kernel path a different CPU would take, compared with this machine's.

    .venv/bin/python benchmarks/training_reproducibility.py [--steps 150] [--k 32]

A second machine is not at hand, so the processors are emulated on this one.
PyTorch and MKL pick their kernels from the CPU's instruction sets; these
variables make them take the paths of an older CPU, which sum in another
order: ``ATEN_CPU_CAPABILITY`` (PyTorch's own vectorised kernels),
``MKL_ENABLE_INSTRUCTIONS`` (MKL's matrix products) and
``DNNL_MAX_CPU_ISA`` (oneDNN). The thread count changes how reductions are
split, as a machine with another core count does. Each run trains in a fresh
process (the variables are read at start-up) on the default run's token
corpus with the default TopK settings (width 4608, 150 steps of 4096), and
is compared with the first run: the weights' relative difference, held-out
FVE and L0, and how many of each held-out row's active latents agree
(Jaccard of the active sets, latents matched by index).

Reads results/smollm2-135m/activations/*/corpus_layer_15.npy (run `make
results` first).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# (name, threads, environment): this machine first, the reference of every comparison.
KERNEL_PATHS = (
    ("this machine (AVX-512), 2 threads", 2, {}),
    ("the same again", 2, {}),
    ("1 thread", 1, {}),
    ("AVX2 kernels, 2 threads", 2, {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                                    "DNNL_MAX_CPU_ISA": "AVX2"}),
    ("no AVX (SSE4.2 kernels), 2 threads", 2, {"ATEN_CPU_CAPABILITY": "default",
                                               "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "DNNL_MAX_CPU_ISA": "SSE41"}),
)


def train_worker(args) -> None:
    """In a fresh process: train, then save the weights and the held-out codes' indices."""
    import torch

    from saeprobe.saes import TopKSAE
    from saeprobe.training import ActivationShards, TrainConfig, train_sae

    torch.set_num_threads(args.threads)
    data = ActivationShards(sorted(glob.glob(args.corpus)))
    sae = TopKSAE(d_in=data.d_in, width=args.width, k=args.k)
    cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, checkpoint_every=10**9, seed=0)
    with tempfile.TemporaryDirectory() as scratch:
        train_sae(sae, data, cfg, Path(scratch) / "checkpoint.pt", log=lambda m: None, device="cpu")
    sae.eval()
    x = torch.from_numpy(np.asarray(data.eval_rows(), np.float32))
    with torch.no_grad():
        latents = sae.encode(x)
        recon = sae.decode(latents)
    sse = (x - recon).double().pow(2).sum().item()
    total = (x - x.mean(0)).double().pow(2).sum().item()
    weights = {name: p.detach().numpy() for name, p in sae.state_dict().items()}
    np.savez(args.out, active=(latents != 0).numpy(), **weights)
    Path(args.out).with_suffix(".json").write_text(json.dumps(
        {"fve": 1 - sse / total, "l0": float((latents != 0).sum(1).float().mean()),
         "capability": torch.backends.cpu.get_cpu_capability()}))


def run(name: str, threads: int, env: dict, args, folder: Path) -> tuple[dict, dict]:
    out = folder / f"run{len(list(folder.glob('*.npz')))}.npz"
    command = [sys.executable, __file__, "--worker", "--out", str(out), "--threads", str(threads),
               "--steps", str(args.steps), "--k", str(args.k), "--width", str(args.width),
               "--batch-size", str(args.batch_size), "--corpus", args.corpus]
    subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": str(threads), **env}, check=True)
    with np.load(out) as arrays:
        return {key: arrays[key] for key in arrays.files}, json.loads(out.with_suffix(".json").read_text())


def active_set_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum(1)
    return float(np.mean(np.where(union > 0, (a & b).sum(1) / np.maximum(union, 1), 1.0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="results/smollm2-135m/activations/*/corpus_layer_15.npy")
    parser.add_argument("--width", type=int, default=4608)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return train_worker(args)
    if not glob.glob(args.corpus):
        raise SystemExit(f"no corpus at {args.corpus}; run `make results` first")

    print(f"TopK width {args.width}, k {args.k}, {args.steps} steps of {args.batch_size}; each run against the "
          "first\n")
    print("| kernel path | torch capability | max relative weight difference | held-out FVE | ΔFVE | L0 "
          "| active-set Jaccard |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        reference = None
        for name, threads, env in KERNEL_PATHS:
            arrays, quality = run(name, threads, env, args, Path(scratch))
            if reference is None:
                reference = arrays, quality
            ref_arrays, ref_quality = reference
            weight_names = [key for key in arrays if key != "active"]
            drift = max(np.linalg.norm(arrays[key] - ref_arrays[key]) / max(np.linalg.norm(ref_arrays[key]), 1e-30)
                        for key in weight_names)
            print(f"| {name} | {quality['capability']} | {drift:.2e} | {quality['fve']:.4f} "
                  f"| {quality['fve'] - ref_quality['fve']:+.4f} | {quality['l0']:.1f} "
                  f"| {active_set_jaccard(arrays['active'], ref_arrays['active']):.3f} |", flush=True)


if __name__ == "__main__":
    main()
