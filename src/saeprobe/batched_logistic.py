"""Regularisation paths of many logistic regressions on one design matrix, solved at once.

A validated probe needs one fit per (C, validation split) plus a refit on the
whole training set; top-k probes for several k share their rows and nest
their columns. Such problems share ``X`` and differ in their rows, their
columns and their C, so they are solved together, in torch, on the GPU when
there is one:

- L2: every problem walks the C grid from the strongest penalty to the
  weakest, each solve warm-started from the previous C's answer, by
  Newton's method with a Cholesky solve and a backtracking line search.
  Near the optimum it converges quadratically, so the answer is exact to
  the last digits in a handful of iterations, even with nearly no penalty
  on training rows that a hyperplane separates, where first-order methods
  crawl. A solve stops when half the squared Newton decrement (the
  distance to the optimum, to second order) is below ``tol`` times the
  objective.
- L1: every (problem, C) pair at once, by FISTA (Beck & Teboulle 2009) with
  the gradient restart of O'Donoghue & Candes (2015); each iteration is two
  batched matrix products. A solve stops when its relative duality gap, a
  certified bound on the distance to the optimum, is below ``tol``; the
  intercept is re-optimised exactly before each check.

Each problem is sklearn's ``LogisticRegression`` objective, intercept
unpenalised::

    sum_{i in rows_p} log(1 + exp(-y'_i (x_i . w + b)))  +  (1 / C_p) ||w||_1        (l1)
                                                        +  (1 / 2 C_p) ||w||_2^2    (l2)

Columns are centred and scaled to unit variance inside the solver (a
diagonal preconditioner); the penalty is reweighted so that the problem
solved is the unscaled one above.

Every C > 0 has a finite optimum (both penalties are coercive). With nearly
no penalty (C = 1e4 to 1e5) on separated rows, the L1 optimum lies at a large
norm along a badly conditioned valley; FISTA approaches it along a ray
whose direction, the only thing any AUC depends on, settles long before its
length. Such problems stop at ``max_iter`` and are flagged unconverged in
``LogisticFits.converged`` with their gap in ``LogisticFits.gap``; the
probe engine benchmark measures how far their AUCs are from a converged
solver's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

L2_MAX_ITER = 100
L1_MAX_ITER = 2000
L1_CHECK_EVERY = 10
LINE_SEARCH_STEPS = 40


@dataclass
class LogisticFits:
    """Solutions ``[P, len(Cs)]``: problem p at each C, Cs in the order given."""

    coef: np.ndarray
    """``[P, m, d]``, on the scale of ``X``."""
    intercept: np.ndarray
    """``[P, m]``."""
    gap: np.ndarray
    """``[P, m]``: the relative duality gap (L1) or half the squared Newton
    decrement over the objective (L2) where the solve stopped."""
    converged: np.ndarray
    """``[P, m]``: the gap met ``tol``."""
    iterations: np.ndarray
    """``[P, m]``: Newton (L2) or FISTA (L1) iterations."""


def fit_logistic_batch(
    X: np.ndarray,
    y: np.ndarray,
    row_masks: np.ndarray,
    Cs: np.ndarray,
    penalty: Literal["l1", "l2"] = "l1",
    column_masks: np.ndarray | None = None,
    tol: float = 1e-9,
    max_iter: int | None = None,
    device: str | None = None,
) -> LogisticFits:
    """Problem ``p`` at ``Cs[c]``: the rows where ``row_masks[p]`` is true,
    the columns where ``column_masks[p]`` is true (others stay 0), ``C = Cs[c]``.

    ``max_iter`` bounds the iterations of each solve: by default
    ``L2_MAX_ITER`` Newton steps or ``L1_MAX_ITER`` FISTA steps.
    """
    if penalty not in ("l1", "l2"):
        raise ValueError(f"penalty must be 'l1' or 'l2', got {penalty!r}")
    X = np.asarray(X, np.float64)
    row_masks = np.asarray(row_masks, bool)
    Cs = np.asarray(Cs, np.float64).ravel()
    if row_masks.ndim != 2 or row_masks.shape[1] != len(X):
        raise ValueError(f"row_masks must be [problems, n] with n = {len(X)}, got {row_masks.shape}")
    n_problems, d = len(row_masks), X.shape[1]
    if column_masks is None:
        column_masks = np.ones((n_problems, d), bool)
    column_masks = np.asarray(column_masks, bool)
    if column_masks.shape != (n_problems, d):
        raise ValueError(f"column_masks must be [problems, d] = [{n_problems}, {d}], got {column_masks.shape}")
    if len(Cs) == 0 or not np.all(Cs > 0):
        raise ValueError(f"Cs must be positive, got {Cs.tolist()}")
    if not row_masks.any(axis=1).all():
        raise ValueError("every problem needs at least one row")

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if penalty == "l2":
        return _l2_paths(_Problem(X, y, row_masks, column_masks, device), Cs, tol, max_iter or L2_MAX_ITER)
    # L1: one problem per (row set, C), all at once.
    m = len(Cs)
    problem = _Problem(X, y, np.repeat(row_masks, m, axis=0), np.repeat(column_masks, m, axis=0), device)
    fits = _fista_l1(problem, np.tile(Cs, n_problems), tol, max_iter or L1_MAX_ITER)
    return LogisticFits(*(a.reshape(n_problems, m, *a.shape[1:]) for a in fits))


def _l2_paths(problem, Cs, tol, max_iter) -> LogisticFits:
    n_problems, d = problem.scale.shape
    shape = (n_problems, len(Cs))
    coef, intercept = np.zeros((*shape, d)), np.zeros(shape)
    gap, iterations = np.zeros(shape), np.zeros(shape, int)
    converged = np.zeros(shape, bool)
    v, b = problem.start()
    # Strongest penalty first: each answer warm-starts the next, weaker one.
    for c in np.argsort(Cs, kind="stable"):
        lam = 1.0 / (Cs[c] * problem.n_rows)  # mean-loss form
        v, b, (gap[:, c], converged[:, c], iterations[:, c]) = _newton_l2(problem, lam, v, b, tol, max_iter)
        coef[:, c], intercept[:, c] = problem.unscale(v, b)
    return LogisticFits(coef, intercept, gap, converged, iterations)


class _Problem:
    """The standardised design, targets and masks of a batch, with its objective pieces."""

    def __init__(self, X, y, row_masks, column_masks, device):
        dtype = torch.float64
        mean, std = X.mean(axis=0), X.std(axis=0)
        # Constant columns keep w = 0 (their standardised column is all zeros).
        inv_std = np.divide(1.0, std, out=np.zeros_like(std), where=std > 1e-12)
        self.mean_scaled = torch.as_tensor(mean * inv_std, dtype=dtype, device=device)
        self.inv_std = torch.as_tensor(inv_std, dtype=dtype, device=device)
        self.Z = torch.as_tensor((X - mean) * inv_std, dtype=dtype, device=device)  # [n, d]
        self.target = torch.as_tensor(np.asarray(y) == 1, dtype=dtype, device=device)  # [n]
        self.rows = torch.as_tensor(row_masks, dtype=dtype, device=device)  # [P, n]
        self.n_rows = self.rows.sum(dim=1)  # [P]
        self.weights = self.rows / self.n_rows[:, None]  # each problem's mean over its rows
        # |w_j| = |v_j| inv_std_j: the penalty's weight on each standardised coefficient.
        self.scale = self.inv_std * torch.as_tensor(column_masks, dtype=dtype, device=device)
        self.free = self.scale > 0  # [P, d]; false where a column is masked or constant

    def start(self):
        """v = 0 and the intercept at the log-odds of each problem's rows."""
        share = (self.weights * self.target).sum(dim=1).clamp(1e-12, 1 - 1e-12)
        return torch.zeros_like(self.scale), torch.log(share / (1 - share))

    def margins(self, v, b):
        return v @ self.Z.T + b[:, None]  # [P, n]

    def loss_of(self, margins, problems=slice(None)):
        """Mean logistic loss of ``problems`` over their rows, at ``margins`` [len(problems), n].

        As softplus of the signed margin, so that tiny losses on separated
        rows keep their digits."""
        signed = (1 - 2 * self.target) * margins
        return (self.weights[problems] * torch.nn.functional.softplus(signed)).sum(dim=1)

    def optimal_intercept(self, v, b, steps: int = 6):
        """Newton on b alone, v fixed (1-D, strictly convex): the best intercept for v."""
        shift = v @ self.Z.T
        for _ in range(steps):
            p = torch.sigmoid(shift + b[:, None])
            grad = (self.weights * (p - self.target)).sum(dim=1)
            curvature = (self.weights * p * (1 - p)).sum(dim=1).clamp_min(1e-300)
            b = b - grad / curvature
        return b

    def subset(self, keep: torch.Tensor) -> "_Problem":
        """The same design, for the problems where ``keep`` is true."""
        part = object.__new__(_Problem)
        part.__dict__.update(self.__dict__)
        for name in ("rows", "n_rows", "weights", "scale", "free"):
            setattr(part, name, getattr(self, name)[keep])
        return part

    def unscale(self, v, b):
        """Coefficients and intercepts on the scale of X."""
        return (v * self.inv_std).cpu().numpy(), (b - v @ self.mean_scaled).cpu().numpy()


def _newton_l2(problem: _Problem, lam, v, b, tol, max_iter):
    """Damped Newton on every problem at once; converged problems drop out."""
    Z = problem.Z
    A = torch.cat([Z, torch.ones(len(Z), 1, dtype=Z.dtype, device=Z.device)], dim=1)  # [n, d + 1]
    # lam * inv_std^2 per coefficient; the intercept (last) is unpenalised.
    ridge = torch.cat([lam[:, None] * problem.scale**2, torch.zeros_like(lam)[:, None]], dim=1)
    fixed = torch.cat([~problem.free, torch.zeros_like(problem.free[:, :1])], dim=1)  # masked: stay 0

    def objective(x, problems):
        return problem.loss_of(x @ A.T, problems) + 0.5 * (ridge[problems] * x**2).sum(dim=1)

    x = torch.cat([v, b[:, None]], dim=1)
    P = len(x)
    gap = torch.full((P,), float("inf"), dtype=Z.dtype, device=Z.device)
    iterations = torch.zeros(P, dtype=torch.long, device=Z.device)
    live = torch.arange(P, device=Z.device)
    for _ in range(max_iter):
        xi, fixed_i = x[live], fixed[live]
        p = torch.sigmoid(xi @ A.T)
        weights = problem.weights[live]
        grad = ((weights * (p - problem.target)) @ A + ridge[live] * xi).masked_fill(fixed_i, 0.0)
        hessian = (A * (weights * p * (1 - p))[:, :, None]).transpose(1, 2) @ A + torch.diag_embed(ridge[live])
        hessian = hessian.masked_fill(fixed_i[:, :, None] | fixed_i[:, None, :], 0.0)
        hessian = hessian + torch.diag_embed(fixed_i.to(Z.dtype))
        factor, info = torch.linalg.cholesky_ex(hessian)
        if bool((info != 0).any()):  # numerically singular: a whisper of damping
            scale = 1e-12 * hessian.diagonal(dim1=1, dim2=2).amax(dim=1)
            factor = torch.linalg.cholesky(hessian + scale[:, None, None] * torch.eye(
                hessian.shape[1], dtype=Z.dtype, device=Z.device))
        step = torch.cholesky_solve(grad[:, :, None], factor).squeeze(2)
        decrement = (grad * step).sum(dim=1).clamp_min(0.0)
        value = objective(xi, live)
        gap[live] = decrement / 2 / value
        done = decrement / 2 <= tol * value
        # Backtracking (Armijo, c = 1/4) for the problems still moving.
        t = torch.ones_like(value)
        for _ in range(LINE_SEARCH_STEPS):
            trial = xi - t[:, None] * step
            trial_value = objective(trial, live)
            accepted = done | (trial_value <= value - 0.25 * t * decrement)
            if bool(accepted.all()):
                break
            t = torch.where(accepted, t, t / 2)
        moved = ~done & (trial_value < value)
        x[live] = torch.where(moved[:, None], trial, xi)
        iterations[live] += 1
        # Converged, or no step lowers the objective: at the limit of precision.
        live = live[moved]
        if len(live) == 0:
            break
    return x[:, :-1], x[:, -1], _numpy(gap, gap <= tol, iterations)


def _fista_l1(problem: _Problem, Cs, tol, max_iter):
    """FISTA with restarts on every problem at once, certified by the duality gap."""
    Z, P = problem.Z, len(Cs)
    lam = torch.as_tensor(1.0 / Cs, dtype=Z.dtype, device=Z.device) / problem.n_rows  # mean-loss form
    v, b = problem.start()
    step = 1.0 / _lipschitz(problem)  # [P]
    gap = torch.full((P,), float("inf"), dtype=Z.dtype, device=Z.device)
    iterations = torch.zeros(P, dtype=torch.long, device=Z.device)
    v_out, b_out = v.clone(), b.clone()
    # The working set: problems still iterating. Converged ones are written
    # out and dropped, so the long tail of weakly penalised problems does not
    # make the others pay for its iterations.
    live = torch.arange(P, device=Z.device)
    part = problem
    v_prev, b_prev = v.clone(), b.clone()
    momentum = torch.ones(P, dtype=Z.dtype, device=Z.device)
    threshold = (step * lam)[:, None] * part.scale
    for iteration in range(1, max_iter + 1):
        t_next = (1 + torch.sqrt(1 + 4 * momentum**2)) / 2
        beta = (momentum - 1) / t_next
        v_look = v + beta[:, None] * (v - v_prev)
        b_look = b + beta * (b - b_prev)
        residual = (torch.sigmoid(v_look @ Z.T + b_look[:, None]) - part.target) * part.weights  # [P, n]
        v_prev, b_prev = v, b
        v = _soft_threshold(v_look - step[:, None] * (residual @ Z), threshold).masked_fill(~part.free, 0.0)
        b = b_look - step * residual.sum(dim=1)
        # Restart the momentum of problems whose step points uphill.
        uphill = ((v_look - v) * (v - v_prev)).sum(dim=1) + (b_look - b) * (b - b_prev) > 0
        momentum = torch.where(uphill, torch.ones_like(t_next), t_next)
        if iteration % L1_CHECK_EVERY and iteration != max_iter:
            continue
        b = part.optimal_intercept(v, b)
        gap_now = _l1_gap(part, lam, v, b)
        v_out[live], b_out[live], gap[live], iterations[live] = v, b, gap_now, iteration
        going = gap_now > tol
        if not bool(going.any()):
            break
        if not bool(going.all()):
            live, v, b, v_prev, b_prev, momentum, step, threshold, lam = (
                t[going] for t in (live, v, b, v_prev, b_prev, momentum, step, threshold, lam))
            part = part.subset(going)
    coef, intercept = problem.unscale(v_out, b_out)
    return coef, intercept, *_numpy(gap, gap <= tol, iterations)


def _l1_gap(problem: _Problem, lam, v, b):
    """Relative duality gap of each L1 problem at (v, b), b optimal for v.

    The dual point is the residual, scaled into the dual's feasible set
    ``|Z_j . rho| <= lam * scale_j``; with the intercept optimal, ``sum rho = 0``
    holds too. The dual objective is minus the mean binary negative entropy
    of ``(1 - s) y + s p``.
    """
    margins = problem.margins(v, b)
    primal = problem.loss_of(margins) + lam * (problem.scale * v.abs()).sum(dim=1)
    p = torch.sigmoid(margins)
    correlation = (((p - problem.target) * problem.weights) @ problem.Z).abs()
    ratio = torch.where(problem.free, correlation / (lam[:, None] * problem.scale).clamp_min(1e-300), 0.0)
    shrink = 1.0 / ratio.amax(dim=1).clamp_min(1.0)
    q = (1 - shrink[:, None]) * problem.target + shrink[:, None] * p
    entropy = torch.special.xlogy(q, q) + torch.special.xlogy(1 - q, 1 - q)
    dual = -(problem.weights * entropy).sum(dim=1)
    return (primal - dual).clamp_min(0.0) / primal


def _soft_threshold(v: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    return torch.sign(v) * torch.clamp(v.abs() - threshold, min=0)


def _lipschitz(problem: _Problem) -> torch.Tensor:
    """Per-problem Lipschitz constant of the mean logistic loss's gradient in
    (v, b): the largest eigenvalue of [Z 1]^T diag(rows) [Z 1] / (4 n_p) over
    the problem's columns. Problems sharing rows and columns share it."""
    Z = problem.Z
    A = torch.cat([Z, torch.ones(len(Z), 1, dtype=Z.dtype, device=Z.device)], dim=1)
    keys = torch.cat([problem.rows, problem.free.to(Z.dtype)], dim=1)
    unique_keys, inverse = torch.unique(keys, dim=0, return_inverse=True)
    largest = []
    for key in unique_keys:
        columns = torch.cat([key[len(Z):].bool(), key.new_ones(1, dtype=torch.bool)])
        block = A[key[: len(Z)].bool()][:, columns]
        gram = block @ block.T if len(block) < block.shape[1] else block.T @ block  # the smaller side
        largest.append(torch.linalg.eigvalsh(gram)[-1])
    return torch.stack(largest)[inverse] / (4 * problem.n_rows)


def _numpy(*tensors):
    return tuple(t.cpu().numpy() for t in tensors)
