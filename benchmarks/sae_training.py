"""SAE training throughput and held-out quality, per architecture, on the same activations.

    .venv/bin/python benchmarks/sae_training.py [--steps 150] [--width 4608] [--archs topk batchtopk ...]

Reads the token corpus the workflow wrote for the default config
(results/smollm2-135m/activations/*/corpus_layer_15.npy; run `make results`
first), trains each architecture with our trainer for the same steps and
batch size, and prints activations/s, held-out FVE, L0 and dead fraction
beside the reference figures measured on this machine class
(shared/reference/measured-here.md: sparsify and dictionary_learning, TopK,
width 4608, 150 steps of 4096, position 0 and norm outliers dropped).
"""

from __future__ import annotations

import argparse
import glob
import itertools
import tempfile
import time
from pathlib import Path

import torch

import saeprobe.saes  # noqa: F401  (registers every architecture)
from saeprobe.saes import ARCHITECTURES
from saeprobe.training import ActivationShards, TrainConfig, evaluate_sae, train_sae

REFERENCE = [  # (library, k, activations/s, held-out FVE, dead)
    ("sparsify 1.3.3", 32, 9100, 0.841, 0.018),
    ("sparsify 1.3.3", 64, 6320, 0.867, 0.009),
    ("dictionary_learning 0.1.0", 32, 3828, 0.727, 0.0),
    ("dictionary_learning 0.1.0", 64, 4016, 0.780, 0.0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="results/smollm2-135m/activations/*/corpus_layer_15.npy")
    parser.add_argument("--archs", nargs="+", default=sorted(ARCHITECTURES))
    parser.add_argument("--width", type=int, default=4608)
    parser.add_argument("--k", type=int, nargs="+", default=[32, 64], help="k for the TopK family")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--optimizers", nargs="+", default=["signum", "adam"], choices=["signum", "adam"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    paths = sorted(glob.glob(args.corpus))
    if not paths:
        raise SystemExit(f"no corpus shards match {args.corpus}; run `make results` first")
    data = ActivationShards(paths)
    held_out = data.eval_rows()
    print(f"{len(paths)} shards: {data.n_train} training rows, {len(held_out)} held out, d_in {data.d_in}; "
          f"width {args.width}, {args.steps} steps of {args.batch_size}, {args.threads} threads\n")
    print(f"{'architecture':<22} {'setting':<8} {'optimizer':<9} {'act/s':>7} {'FVE':>6} {'L0':>7} {'dead':>6}")
    for arch in args.archs:
        cls = ARCHITECTURES[arch]
        settings = [{"k": k} for k in args.k] if "k" in cls.__init__.__code__.co_varnames else [{}]
        for hyper, optimizer in itertools.product(settings, args.optimizers):
            sae = cls(d_in=data.d_in, width=args.width, **hyper)
            cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, optimizer=optimizer,
                              checkpoint_every=10**9)
            start = time.perf_counter()
            with tempfile.TemporaryDirectory() as scratch:
                train_sae(sae, data, cfg, Path(scratch) / "checkpoint.pt", log=lambda m: None, device="cpu")
            seconds = time.perf_counter() - start
            m = evaluate_sae(sae, held_out)
            label = f"k={hyper['k']}" if hyper else "default"
            print(f"{arch:<22} {label:<8} {optimizer:<9} {args.steps * args.batch_size / seconds:>7.0f} {m['fve']:>6.3f} "
                  f"{m['l0']:>7.1f} {m['dead_fraction']:>6.3f}")
    print("\nreference (TopK, width 4608, 150 x 4096; on 211k varied-prompt vectors, not this corpus):")
    for library, k, rate, fve, dead in REFERENCE:
        print(f"{library:<26} k={k:<3} {rate:>7} act/s  FVE {fve:.3f}  dead {dead:.3f}")


if __name__ == "__main__":
    main()
