"""Many regularised logistic regressions on one design matrix, solved at once.

A validated probe needs one fit per (C, validation split) plus a refit on the
whole training set. These problems share ``X`` and differ only in their rows
and their C, so they are solved together: one accelerated proximal gradient
method (FISTA, Beck & Teboulle 2009, with the gradient restart of O'Donoghue &
Candes 2015) whose every iteration is two batched matrix products, in torch,
on the GPU when there is one.

Each problem is sklearn's ``LogisticRegression`` objective, intercept
unpenalised::

    sum_{i in rows_p} log(1 + exp(-y'_i (x_i . w + b)))  +  (1 / C_p) ||w||_1        (l1)
                                                        +  (1 / 2 C_p) ||w||_2^2    (l2)

so a converged solution is the solution sklearn's saga or lbfgs converge to.
Columns are centred and scaled to unit variance inside the solver (a
diagonal preconditioner); the penalty is reweighted so that the problem
solved is the unscaled one above.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch


def fit_logistic_batch(
    X: np.ndarray,
    y: np.ndarray,
    row_masks: np.ndarray,
    Cs: np.ndarray,
    penalty: Literal["l1", "l2"] = "l1",
    max_iter: int = 2000,
    tol: float = 1e-5,
    device: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve problem ``p`` on the rows where ``row_masks[p]`` is true with ``C = Cs[p]``.

    Returns ``coef`` ``[P, d]`` and ``intercept`` ``[P]`` on the scale of ``X``.
    Iteration stops when no coefficient (in standardised units) moved by more
    than ``tol`` over the last check, or after ``max_iter`` iterations; nearly
    unregularised problems on separable data have no finite optimum and run
    to ``max_iter``, as sklearn's solvers run to theirs.
    """
    if penalty not in ("l1", "l2"):
        raise ValueError(f"penalty must be 'l1' or 'l2', got {penalty!r}")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = torch.float64
    X = np.asarray(X, np.float64)
    row_masks = np.asarray(row_masks, bool)
    Cs = np.asarray(Cs, np.float64)
    if row_masks.shape != (len(Cs), len(X)):
        raise ValueError(f"row_masks must be [len(Cs), n] = [{len(Cs)}, {len(X)}], got {row_masks.shape}")
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    inv_std = np.divide(1.0, std, out=np.zeros_like(std), where=std > 1e-12)  # constant columns keep w = 0

    Z = torch.as_tensor((X - mean) * inv_std, dtype=dtype, device=device)  # [n, d]
    target = torch.as_tensor(np.asarray(y) == 1, dtype=dtype, device=device)  # [n]
    masks = torch.as_tensor(row_masks, dtype=dtype, device=device)  # [P, n]
    n_rows = masks.sum(dim=1)  # [P]
    # Mean-loss form: divide the objective by n_p, so the penalty weight is 1 / (C n_p);
    # in standardised units |w_j| = |v_j| / std_j.
    lam = torch.as_tensor(1.0 / Cs, dtype=dtype, device=device) / n_rows
    penalty_scale = torch.as_tensor(inv_std, dtype=dtype, device=device)  # [d]
    step = 1.0 / _lipschitz(Z, masks, n_rows)  # [P]
    if penalty == "l2":
        # lam/2 * sum (inv_std_j v_j)^2 is smooth; its curvature joins the step bound.
        step = 1.0 / (1.0 / step + lam * penalty_scale.max() ** 2)

    P, d = len(Cs), Z.shape[1]
    v_out = torch.zeros(P, d, dtype=dtype, device=device)
    b_out = torch.zeros(P, dtype=dtype, device=device)
    # The working set: problems still iterating. Converged ones are written
    # out and dropped, so the long tail of weakly regularised problems does
    # not make the others pay for its iterations.
    live = torch.arange(P, device=device)
    v, b = v_out.clone(), b_out.clone()
    v_prev, b_prev = v.clone(), b.clone()
    momentum = torch.ones(P, dtype=dtype, device=device)
    threshold = (step * lam)[:, None] * penalty_scale  # [P, d]
    l2_weight = lam[:, None] * penalty_scale**2
    for iteration in range(max_iter):
        t_next = (1 + torch.sqrt(1 + 4 * momentum**2)) / 2
        beta = (momentum - 1) / t_next
        v_look = v + beta[:, None] * (v - v_prev)
        b_look = b + beta * (b - b_prev)
        residual = (torch.sigmoid(v_look @ Z.T + b_look[:, None]) - target) * masks / n_rows[:, None]  # [P, n]
        grad_v = residual @ Z
        v_prev, b_prev = v, b
        if penalty == "l1":
            v = _soft_threshold(v_look - step[:, None] * grad_v, threshold)
        else:
            v = v_look - step[:, None] * (grad_v + l2_weight * v_look)
        b = b_look - step * residual.sum(dim=1)
        # Restart the momentum of problems whose step points uphill.
        uphill = ((v_look - v) * (v - v_prev)).sum(dim=1) + (b_look - b) * (b - b_prev) > 0
        momentum = torch.where(uphill, torch.ones_like(t_next), t_next)
        if iteration % 10 == 9 or iteration == max_iter - 1:
            v_out[live], b_out[live] = v, b
            going = torch.maximum((v - v_prev).abs().amax(dim=1), (b - b_prev).abs()) > tol
            if not bool(going.any()):
                break
            if not bool(going.all()):
                live, v, b, v_prev, b_prev, momentum = (
                    t[going] for t in (live, v, b, v_prev, b_prev, momentum))
                masks, n_rows, step, threshold, l2_weight = (
                    t[going] for t in (masks, n_rows, step, threshold, l2_weight))
    coef = (v_out * penalty_scale).cpu().numpy()
    intercept = (b_out - v_out @ torch.as_tensor(mean * inv_std, dtype=dtype, device=device)).cpu().numpy()
    return coef, intercept


def _soft_threshold(v: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    return torch.sign(v) * torch.clamp(v.abs() - threshold, min=0)


def _lipschitz(Z: torch.Tensor, masks: torch.Tensor, n_rows: torch.Tensor) -> torch.Tensor:
    """Per-problem Lipschitz constant of the mean logistic loss's gradient in
    (v, b): the largest eigenvalue of [Z 1]^T diag(mask) [Z 1] / (4 n_p).
    Problems sharing a row set share the eigenvalue computation."""
    ones = torch.ones(len(Z), 1, dtype=Z.dtype, device=Z.device)
    A = torch.cat([Z, ones], dim=1)
    unique_masks, inverse = torch.unique(masks, dim=0, return_inverse=True)
    largest = []
    for mask in unique_masks:
        rows = A[mask.bool()]
        gram = rows @ rows.T if len(rows) < rows.shape[1] else rows.T @ rows  # the smaller side
        largest.append(torch.linalg.eigvalsh(gram)[-1])
    return torch.stack(largest)[inverse] / (4 * n_rows)
