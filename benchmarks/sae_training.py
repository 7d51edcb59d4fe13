"""SAE training: our TopK beside EleutherAI sparsify's, in one run, on the same activations.

    .venv/bin/python benchmarks/sae_training.py [--k 32 64] [--steps 150] [--repeats 2] [--archs all]

Reads the token corpus the workflow wrote for the default config
(results/smollm2-135m/activations/*/corpus_layer_15.npy, position 0 and norm
outliers already dropped; run `make results` first). For each k it trains our
TopK SAE (``saeprobe.training.train_sae``, its defaults) and sparsify's
``SparseCoder`` (driven through its Python API the way its ``Trainer`` does
with the ``fvu`` loss and its defaults: schedule-free SignSGD, no AuxK) back to
back, on the same batches (``ActivationShards.train_batch``), width, k, steps,
batch size and threads. Both are scored by the same function on the same
held-out rows: FVE = 1 - SSE / sum of squares of the centred input, L0, and
the fraction of latents that never fire on them. Timings include reading the
batches, for both. The machine is shared, so throughput is only comparable
within one run: read the ratios. ``--repeats`` alternates the order.

sparsify is an optional extra, for this benchmark only. Installing it with its
dependencies changes no installed version here (it adds datasets, einops,
schedulefree, simple-parsing, natsort and their dependencies):

    .venv/bin/pip install -c constraints.txt -e ".[sparsify-bench]"

Without it the benchmark says so and trains ours only. On CPU, sparsify's
Triton decoder is switched off (``SPARSIFY_DISABLE_TRITON=1``), leaving its
``embedding_bag`` decoder, as on a machine without Triton.

``--archs`` also trains other architectures with our trainer (``all`` for
every one that trains on single tokens), beside the reference figures
measured on this machine class (shared/reference/measured-here.md).

``--temporal`` instead trains the temporal Matryoshka BatchTopK SAE beside a
Matryoshka BatchTopK and a TopK SAE on the sequence corpus the workflow wrote
(results/smollm2-135m/sequences/, the default config's temporal stage), with
the same width, k, steps and batch size (the temporal SAE's batch holds pairs,
two encodings each), and prints for each its throughput, held-out FVE and the
smoothness of its codes on the held-out sequences.
"""

from __future__ import annotations

import argparse
import glob
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import saeprobe.saes  # noqa: F401  (registers every architecture)
from saeprobe.saes import ARCHITECTURES
from saeprobe.temporal.sequences import SequenceShards, heldout_sequences
from saeprobe.temporal.smoothness import sae_smoothness
from saeprobe.training import ActivationShards, TrainConfig, train_sae

REFERENCE = [  # (library, k, activations/s, held-out FVE, dead)
    ("sparsify 1.3.3", 32, 9100, 0.841, 0.018),
    ("sparsify 1.3.3", 64, 6320, 0.867, 0.009),
    ("dictionary_learning 0.1.0", 32, 3828, 0.727, 0.0),
    ("dictionary_learning 0.1.0", 64, 4016, 0.780, 0.0),
]
INSTALL_HINT = 'pip install -c constraints.txt -e ".[sparsify-bench]"'


@torch.no_grad()
def held_out_quality(forward, x: np.ndarray, width: int, batch_size: int = 4096) -> dict[str, float]:
    """One scorer for every SAE: ``forward(chunk) -> (reconstruction, latent indices,
    latent values)``, indices/values ``[rows, n]`` (dense codes pass all columns)."""
    x_t = torch.from_numpy(np.asarray(x, np.float32))
    mean = x_t.mean(dim=0)
    sse = total = l0 = 0.0
    fired = torch.zeros(width, dtype=torch.bool)
    for start in range(0, len(x_t), batch_size):
        chunk = x_t[start:start + batch_size]
        recon, indices, values = forward(chunk)
        sse += (chunk - recon).double().pow(2).sum().item()
        total += (chunk - mean).double().pow(2).sum().item()
        active = values != 0
        l0 += active.sum().item()
        fired[indices[active]] = True
    return {"fve": 1.0 - sse / total, "l0": l0 / len(x_t), "dead": 1.0 - fired.float().mean().item()}


def dense_forward(sae):
    def forward(chunk):
        latents = sae.encode(chunk)
        return sae.decode(latents), torch.arange(sae.width).expand_as(latents), latents
    return forward


def train_ours(data, arch: str, hyper: dict, args, optimizer: str = "signum"):
    sae = ARCHITECTURES[arch](d_in=data.d_in, width=args.width, **hyper)
    cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, optimizer=optimizer,
                      checkpoint_every=10**9, seed=args.seed)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        train_sae(sae, data, cfg, Path(scratch) / "checkpoint.pt", log=lambda m: None, device="cpu")
    return sae, time.perf_counter() - start


def import_sparsify():
    os.environ.setdefault("SPARSIFY_DISABLE_TRITON", "1")  # its Triton decoder needs a GPU
    try:
        import sparsify
        from schedulefree import ScheduleFreeWrapper
        from sparsify.sign_sgd import SignSGD
    except ImportError:
        return None
    return sparsify, ScheduleFreeWrapper, SignSGD


def train_sparsify(data, k: int, args, modules):
    """sparsify 1.3.3 ``Trainer.fit`` with ``loss_fn="fvu"``, one hookpoint, reduced to
    its SAE steps (sparsify/trainer.py): seed, then ``SparseCoder``; lr
    ``5e-3 / sqrt(num_latents / 2**14)``; ``ScheduleFreeWrapper(SignSGD, momentum=0.95)``;
    ``b_dec`` = the first batch's mean; decoder renormalised before each forward;
    parallel gradient removed before each step; ``eval()`` (the averaged iterate) at the end,
    as its checkpoints are saved. Its default ``auxk_alpha = 0`` leaves AuxK off."""
    sparsify, ScheduleFreeWrapper, SignSGD = modules
    start = time.perf_counter()
    torch.manual_seed(args.seed)
    sae = sparsify.SparseCoder(data.d_in, sparsify.SparseCoderConfig(k=k, num_latents=args.width),
                               device="cpu", dtype=torch.float32)
    lr = 5e-3 / (sae.num_latents / 2**14) ** 0.5
    optimizer = ScheduleFreeWrapper(SignSGD([{"params": sae.parameters(), "lr": lr}]), momentum=0.95)
    optimizer.train()
    for step in range(args.steps):
        x = torch.from_numpy(data.train_batch(step, args.batch_size, args.seed))
        if step == 0:
            sae.b_dec.data = x.mean(0)
        sae.set_decoder_norm_to_unit_norm()
        out = sae(x)
        out.fvu.backward()
        sae.remove_gradient_parallel_to_decoder_directions()
        optimizer.step()
        optimizer.zero_grad()
    optimizer.eval()
    seconds = time.perf_counter() - start

    def forward(chunk):
        out = sae(chunk)
        return out.sae_out, out.latent_indices, out.latent_acts
    return forward, seconds


TEMPORAL_RUNS = (  # (architecture, hyperparameters besides k): the temporal SAE and its two references
    ("temporal_matryoshka_batchtopk", {}),
    ("matryoshka_batchtopk", {"group_fractions": [0.2, 0.8], "group_weights": [0.2, 0.8]}),
    ("topk", {}),
)
SMOOTHNESS_COLUMNS = ("smoothness_tv_h", "smoothness_tv_l", "smoothness_tv_tot", "fft_h", "fft_tot", "sequence_l0")


def temporal_comparison(args) -> None:
    folders = {split: sorted(glob.glob(f"{args.sequences}/{split}/shard_*")) for split in ("train", "heldout")}
    if not all(folders.values()):
        raise SystemExit(f"no sequence corpus under {args.sequences}; run `make results` first")
    sequences, left_out = heldout_sequences(folders["heldout"], args.layer)
    print(f"sequence corpus: {len(folders['train'])} training shards, {len(sequences)} held-out sequences "
          f"({left_out} left out for an outlier); width {args.width}, {args.steps} steps of {args.batch_size}, "
          f"{args.threads} threads; torch {torch.__version__}\n")
    print(f"{'architecture':<30} {'k':>3} {'act/s':>7} {'FVE':>6} {'L0':>6} " + " ".join(f"{c:>17}" for c in
                                                                                   SMOOTHNESS_COLUMNS))
    for (arch, hyper), k in itertools.product(TEMPORAL_RUNS, args.k):
        pairs = ARCHITECTURES[arch].trains_on_pairs
        data = SequenceShards(folders["train"], folders["heldout"], args.layer, "r" if pairs else None)
        sae, seconds = train_ours(data, arch, {"k": k, **hyper}, args)
        quality = held_out_quality(dense_forward(sae), data.eval_rows(), args.width)
        smoothness = sae_smoothness(sae.eval(), sequences)
        encodes = args.steps * args.batch_size * (2 if pairs else 1)
        print(f"{arch:<30} {k:>3} {encodes / seconds:>7.0f} {quality['fve']:>6.3f} {quality['l0']:>6.1f} "
              + " ".join(f"{smoothness.get(c, float('nan')):>17.3f}" for c in SMOOTHNESS_COLUMNS), flush=True)
    print("\nact/s counts encoded activations (a pair is two); smoothness columns are means per held-out "
          "sequence, lower is smoother; _h is the first Matryoshka group, which a TopK SAE does not have.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="results/smollm2-135m/activations/*/corpus_layer_15.npy")
    parser.add_argument("--width", type=int, default=4608)
    parser.add_argument("--k", type=int, nargs="+", default=[32, 64], help="k for the TopK family")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1,
                        help="train each pair this many times, alternating which goes first")
    parser.add_argument("--no-sparsify", action="store_true", help="train ours only")
    parser.add_argument("--archs", nargs="*", default=[],
                        help="also train these architectures with our trainer ('all': every one)")
    parser.add_argument("--optimizers", nargs="+", default=["signum"], choices=["signum", "adam"],
                        help="optimisers for --archs")
    parser.add_argument("--temporal", action="store_true",
                        help="train the temporal SAE beside Matryoshka BatchTopK and TopK on the sequence corpus")
    parser.add_argument("--sequences", default="results/smollm2-135m/sequences")
    parser.add_argument("--layer", type=int, default=15)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    if args.temporal:
        temporal_comparison(args)
        return
    paths = sorted(glob.glob(args.corpus))
    if not paths:
        raise SystemExit(f"no corpus shards match {args.corpus}; run `make results` first")
    data = ActivationShards(paths)
    held_out = data.eval_rows()
    for array in data.arrays:  # into the page cache, so the first trainer pays no first reads
        array.sum()
    modules = None if args.no_sparsify else import_sparsify()
    versions = f"torch {torch.__version__}"
    if modules is not None:
        versions += f", sparsify {modules[0].__version__}"
    print(f"{len(paths)} shards: {data.n_train} training rows, {len(held_out)} held out, d_in {data.d_in}; "
          f"width {args.width}, {args.steps} steps of {args.batch_size}, {args.threads} threads; {versions}")
    if modules is None and not args.no_sparsify:
        print(f"sparsify is not installed, so only ours runs; to compare: .venv/bin/{INSTALL_HINT}")
    print()

    runs: dict[tuple[int, str], list[tuple[float, dict]]] = {}
    header = f"{'k':>3} {'run':>3} {'trainer':<9} {'act/s':>7} {'FVE':>6} {'L0':>6} {'dead':>6}"
    print(header)
    for rep, k in itertools.product(range(args.repeats), args.k):
        order = ["ours", "sparsify"] if modules is not None else ["ours"]
        if rep % 2:
            order.reverse()
        for who in order:
            if who == "ours":
                sae, seconds = train_ours(data, "topk", {"k": k}, args)
                metrics = held_out_quality(dense_forward(sae), held_out, args.width)
            else:
                forward, seconds = train_sparsify(data, k, args, modules)
                metrics = held_out_quality(forward, held_out, args.width)
            rate = args.steps * args.batch_size / seconds
            runs.setdefault((k, who), []).append((rate, metrics))
            print(f"{k:>3} {rep:>3} {who:<9} {rate:>7.0f} {metrics['fve']:>6.3f} {metrics['l0']:>6.1f} "
                  f"{metrics['dead']:>6.3f}", flush=True)

    print(f"\nTopK, width {args.width}, {args.steps} x {args.batch_size}; medians over {args.repeats} run(s)")
    print(f"{'k':>3} {'trainer':<9} {'act/s':>7} {'FVE':>6} {'L0':>6} {'dead':>6}")
    for k in args.k:
        medians = {}
        for who in ("ours", "sparsify"):
            if (k, who) not in runs:
                continue
            rates, metrics = zip(*runs[k, who])
            medians[who] = {"rate": statistics.median(rates),
                            **{m: statistics.median(r[m] for r in metrics) for m in metrics[0]}}
            row = medians[who]
            print(f"{k:>3} {who:<9} {row['rate']:>7.0f} {row['fve']:>6.3f} {row['l0']:>6.1f} {row['dead']:>6.3f}")
        if len(medians) == 2:
            ours, theirs = medians["ours"], medians["sparsify"]
            print(f"{k:>3} {'ours/sp.':<9} {ours['rate'] / theirs['rate']:>6.2f}x {ours['fve'] - theirs['fve']:>+6.3f} "
                  f"{ours['l0'] / theirs['l0']:>5.2f}x {ours['dead'] - theirs['dead']:>+6.3f}   "
                  f"(speed ratio, FVE and dead differences)")

    archs = sorted(a for a, cls in ARCHITECTURES.items() if not cls.trains_on_pairs) if args.archs == ["all"] \
        else args.archs
    if archs:
        print(f"\nour trainer, per architecture\n{'architecture':<22} {'setting':<8} {'optimizer':<9} "
              f"{'act/s':>7} {'FVE':>6} {'L0':>7} {'dead':>6}")
    for arch in archs:
        cls = ARCHITECTURES[arch]
        settings = [{"k": k} for k in args.k] if "k" in cls.__init__.__code__.co_varnames else [{}]
        for hyper, optimizer in itertools.product(settings, args.optimizers):
            sae, seconds = train_ours(data, arch, hyper, args, optimizer)
            m = held_out_quality(dense_forward(sae), held_out, args.width)
            label = f"k={hyper['k']}" if hyper else "default"
            print(f"{arch:<22} {label:<8} {optimizer:<9} {args.steps * args.batch_size / seconds:>7.0f} "
                  f"{m['fve']:>6.3f} {m['l0']:>7.1f} {m['dead']:>6.3f}", flush=True)
    print("\nreference (TopK, width 4608, 150 x 4096; on 211k varied-prompt vectors, not this corpus):")
    for library, k, rate, fve, dead in REFERENCE:
        print(f"{library:<26} k={k:<3} {rate:>7} act/s  FVE {fve:.3f}  dead {dead:.3f}")


if __name__ == "__main__":
    main()
