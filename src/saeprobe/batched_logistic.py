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
- L1, problems of at most ``PROX_NEWTON_MAX_COLUMNS`` columns: proximal
  Newton in the manner of newGLMNET (Yuan, Ho & Lin 2012) along the C path,
  strongest penalty first, each C warm-started from the previous one. Each
  outer step minimises the quadratic model of the loss plus the L1 term
  over a working set (non-zero coefficients and those whose gradient beats
  their threshold; at strong penalty a handful) by an active-set method
  (feature-sign search, Lee et al. 2007) with Cholesky solves on the
  working set's Hessian, formed from the sparse design; then Armijo
  backtracking on the true objective. Near the optimum the signs settle and
  the steps are exact Newton steps on the signs' orthant, so weakly
  penalised fits on separated rows converge in a few steps too.
  Where the model is so flat (separated rows: curvature near 0) that the
  inner solver cannot finish in ``INNER_MAX_STEPS``, its minimiser lies far
  out and the inner steps go to sign changes on the way there; the outer
  steps then crept (one k = 256 probe: 100 per C, uncertified). From then
  on that problem's model is damped by the optimality residual, a
  regularised proximal Newton step as in Yue, Zhou & So (2019): the
  damping vanishes with the residual, so the fast local convergence stays
  (that probe: 10-17 steps per C, every fit certified). Undamped first,
  since damping costs steps where the plain model is solved (4-10x on
  sparse synthetic problems).
- L1, wider problems, and any (problem, C) where proximal Newton stalled:
  FISTA (Beck & Teboulle 2009) on every (problem, C) pair at once, with the
  gradient restart of O'Donoghue & Candes (2015), two batched matrix
  products per iteration, at most ``FISTA_MAX_ITER`` iterations.

Both L1 solvers stop when the relative duality gap, a certified bound on the
distance to the optimum, is below ``tol``; the intercept is re-optimised
exactly before each check.

Each problem is sklearn's ``LogisticRegression`` objective, intercept
unpenalised::

    sum_{i in rows_p} log(1 + exp(-y'_i (x_i . w + b)))  +  (1 / C_p) ||w||_1        (l1)
                                                        +  (1 / 2 C_p) ||w||_2^2    (l2)

Columns are centred and scaled to unit variance inside the solver (a
diagonal preconditioner); the penalty is reweighted so that the problem
solved is the unscaled one above.

Every C > 0 has a finite optimum (both penalties are coercive). With nearly
no penalty (C = 1e3 to 1e5) on separated rows the L1 optimum lies at a large
norm along a badly conditioned valley. Proximal Newton reaches it (certified
by the gap, as at any other C); FISTA, on wider problems, approaches it
along a ray whose direction, the only thing any AUC depends on, settles
long before its length, and stops at ``FISTA_MAX_ITER``. Whatever stops short of ``tol`` is returned
as the last iterate and flagged unconverged in ``LogisticFits.converged``,
with its gap in ``LogisticFits.gap``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.linalg.lapack
import scipy.sparse as sp
import torch

TOL = 1e-8
"""Relative duality gap (L1) or half squared Newton decrement over the
objective (L2) that ends a solve: the objective is then within 1e-8 of its
optimum, relative, far below what moves an AUC. At 1e-9 proximal Newton
crawled on nearly unpenalised fits of separated rows and handed them to
FISTA, costing 3-6 times the time on such problems."""
L2_MAX_ITER = 100
L1_MAX_ITER = 100  # proximal Newton steps per C
FISTA_MAX_ITER = 2000
FISTA_CHECK_EVERY = 10
# Above this many columns a problem goes to FISTA: the proximal Newton's
# dense working-set factorisations (k^3 per step) stop paying there. Up to
# the reference's largest k, damped proximal Newton certifies fits that FISTA
# leaves at its cap (a k = 512 probe: 1.4 s, all 20 fits certified, against
# 3.8 s with 8 of them unconverged).
PROX_NEWTON_MAX_COLUMNS = 512
INNER_MAX_STEPS = 50
LINE_SEARCH_STEPS = 40
# Added to the model's diagonal (mean-loss units): rows a fit separates have
# curvature ~0, and a coordinate step must stay finite there.
DIAGONAL_FLOOR = 1e-12
# A damped model's damping: this times the optimality residual (the largest
# minimum-norm subgradient of a penalised coefficient, in mean-loss units).
# On hard probes 0.3-1 took the fewest outer steps, 0.01-0.1 left fits
# uncertified; 1 took the fewest Cholesky solves.
DAMPING = 1.0


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
    """``[P, m]``: Newton (L2), proximal Newton or FISTA (L1) iterations."""


def fit_logistic_batch(
    X: np.ndarray,
    y: np.ndarray,
    row_masks: np.ndarray,
    Cs: np.ndarray,
    penalty: Literal["l1", "l2"] = "l1",
    column_masks: np.ndarray | None = None,
    tol: float = TOL,
    max_iter: int | None = None,
    device: str | None = None,
) -> LogisticFits:
    """Problem ``p`` at ``Cs[c]``: the rows where ``row_masks[p]`` is true,
    the columns where ``column_masks[p]`` is true (others stay 0), ``C = Cs[c]``.

    ``max_iter`` bounds the iterations of each solve: by default
    ``L2_MAX_ITER`` Newton steps, ``L1_MAX_ITER`` proximal Newton steps or
    ``FISTA_MAX_ITER`` FISTA steps.
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
    # Proximal Newton where its dense working-set solves are cheap; FISTA beyond.
    newton = column_masks.sum(axis=1) <= PROX_NEWTON_MAX_COLUMNS
    m = len(Cs)
    fits = LogisticFits(np.zeros((n_problems, m, d)), np.zeros((n_problems, m)), np.full((n_problems, m), np.inf),
                        np.zeros((n_problems, m), bool), np.zeros((n_problems, m), int))
    if newton.any():
        part = _prox_newton_l1_paths(_Problem(X, y, row_masks[newton], column_masks[newton], device), X, Cs, tol,
                                     max_iter or L1_MAX_ITER)
        for name in ("coef", "intercept", "gap", "converged", "iterations"):
            getattr(fits, name)[newton] = getattr(part, name)
    # FISTA, one problem per (row set, C), for the wide problems and for the
    # (rare) fits where proximal Newton stalled; the lower gap is kept.
    todo = ~newton[:, None] | ~fits.converged
    if todo.any():
        which, c = np.nonzero(todo)
        problem = _Problem(X, y, row_masks[which], column_masks[which], device)
        part = _fista_l1(problem, Cs[c], tol, max_iter or FISTA_MAX_ITER)
        better = part[2] < fits.gap[which, c]
        for name, values in zip(("coef", "intercept", "gap", "converged", "iterations"), part):
            getattr(fits, name)[which[better], c[better]] = values[better]
    return fits


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
        return self.intercept_for_shift(v @ self.Z.T, b, steps)

    def intercept_for_shift(self, shift, b, steps: int = 6):
        """The best intercept for margins ``shift + b`` (``shift`` [P, n]), by Newton from ``b``."""
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


def _prox_newton_l1_paths(problem: _Problem, X: np.ndarray, Cs, tol, max_iter) -> LogisticFits:
    """Proximal Newton (newGLMNET-like) along the C path, every problem at once.

    Works on the uncentred standardised design ``S = X / std`` (its own
    intercept ``b_u``, so ``S v + b_u`` are the margins): centring would make
    the sparse design dense, and the working-set Hessians with it."""
    n_problems, d = problem.scale.shape
    S = problem.Z + problem.mean_scaled  # [n, d]
    S_sparse = sp.csc_matrix(X * problem.inv_std.cpu().numpy())
    shape = (n_problems, len(Cs))
    coef, intercept = np.zeros((*shape, d)), np.zeros(shape)
    gap, iterations = np.full(shape, np.inf), np.zeros(shape, int)
    v, b = problem.start()  # v = 0: b is the same in both parametrisations
    damped = np.zeros(n_problems, bool)  # set once a problem's plain model proved too flat; kept for weaker Cs
    for c in np.argsort(Cs, kind="stable"):  # strongest penalty first, each warm-starts the next
        lam = 1.0 / (Cs[c] * problem.n_rows)  # mean-loss form
        v, b, gap[:, c], iterations[:, c] = _prox_newton_l1(problem, S, S_sparse, lam, v, b, tol, max_iter, damped)
        coef[:, c], intercept[:, c] = problem.unscale(v, b + v @ problem.mean_scaled)
    return LogisticFits(coef, intercept, gap, gap <= tol, iterations)


def _prox_newton_l1(problem, S, S_sparse, lam, v, b, tol, max_iter, damped):
    """One C: outer Newton steps on the loss, each direction the minimiser of
    the L1-penalised quadratic model over a working set (``_feature_sign``);
    Armijo backtracking on the true objective; stop on the duality gap.
    ``damped`` [P] (numpy, updated in place) says whose models are damped."""
    v, b = v.clone(), b.clone()
    P = len(v)
    gap = torch.full((P,), float("inf"), dtype=S.dtype, device=S.device)
    iterations = torch.zeros(P, dtype=torch.long, device=S.device)
    live = torch.arange(P, device=S.device)
    part = problem
    for outer in range(max_iter + 1):
        vl, lam_l = v[live], lam[live]
        shift = vl @ S.T
        bl = part.intercept_for_shift(shift, b[live])
        margins = shift + bl[:, None]
        p = torch.sigmoid(margins)
        residual = (p - part.target) * part.weights
        grad = residual @ S  # [P, d]; with sum(residual) = 0 it is also Z^T residual
        threshold = lam_l[:, None] * part.scale
        loss = part.loss_of(margins)
        gap_now = _l1_gap_at(part, lam_l, vl, loss, p, grad - residual.sum(dim=1, keepdim=True) * part.mean_scaled)
        v[live], b[live], gap[live], iterations[live] = vl, bl, gap_now, outer
        going = gap_now > tol
        if outer == max_iter or not bool(going.any()):
            break
        if not bool(going.all()):
            live, part = live[going], part.subset(going)
            vl, bl, margins, p, grad, threshold, loss, lam_l = (
                t[going] for t in (vl, bl, margins, p, grad, threshold, loss, lam_l))
        curvature = part.weights * p * (1 - p)  # [P, n]
        live_np = live.cpu().numpy()
        step_v, step_b, damped[live_np] = _newton_direction(S_sparse, curvature, grad, threshold, vl, part.free,
                                                            damped[live_np])
        value = loss + (threshold * vl.abs()).sum(dim=1)
        move = step_v @ S.T + step_b[:, None]  # change of the margins per unit step
        # Armijo on the true objective, as newGLMNET: predicted decrease of the linear part.
        predicted = (grad * step_v).sum(dim=1) + (threshold * ((vl + step_v).abs() - vl.abs())).sum(dim=1)
        t = torch.ones_like(value)
        accepted = torch.zeros_like(value, dtype=torch.bool)
        for _ in range(LINE_SEARCH_STEPS):
            trial = part.loss_of(margins + t[:, None] * move) + (threshold * (vl + t[:, None] * step_v).abs()).sum(dim=1)
            accepted = accepted | (trial <= value + 0.01 * t * predicted)
            if bool(accepted.all()):
                break
            t = torch.where(accepted, t, t / 2)
        t = torch.where(accepted, t, torch.zeros_like(t))  # no decrease found: stays put, stays flagged
        v[live] = vl + t[:, None] * step_v
        b[live] = bl + t * step_b
        if not bool(accepted.any()):
            break
    return v, b, gap.cpu().numpy(), iterations.cpu().numpy()


def _newton_direction(S_sparse, curvature, grad, threshold, v, free, damped):
    """Proximal Newton directions (step_v [P, d], step_b [P]) of every
    problem, and which problems' models are damped from now on.

    Each minimises, over the working set (coefficients that are non-zero or
    whose gradient beats their threshold) and the intercept, the quadratic
    model ``grad . s + 1/2 s^T H s + sum threshold |v + s|`` with the
    Hessian ``H = [S 1]^T diag(curvature) [S 1]`` formed from the sparse
    design (SAE latents are a few per cent non-zero, so this costs little
    even for hundreds of columns). Where ``damped`` is set, or the inner
    solver does not finish on the plain model, the penalised block of ``H``
    gets ``DAMPING`` times the optimality residual on its diagonal."""
    working = (free & ((v != 0) | (grad.abs() > threshold))).cpu().numpy()
    curvature_np, grad_np, threshold_np, v_np = (t.cpu().numpy() for t in (curvature, grad, threshold, v))
    step_v, step_b = np.zeros_like(v_np), np.zeros(len(v_np))
    damped = damped.copy()
    for p in range(len(v_np)):
        columns = np.flatnonzero(working[p])
        block = S_sparse[:, columns]
        weighted = block.multiply(curvature_np[p][:, None]).tocsc()
        k = len(columns)
        hessian = np.empty((k + 1, k + 1))  # the intercept last
        hessian[:k, :k] = (block.T @ weighted).toarray()
        hessian[k, :k] = hessian[:k, k] = np.asarray(weighted.sum(axis=0)).ravel()
        hessian[k, k] = curvature_np[p].sum()
        grad_p, threshold_p, v_p = grad_np[p, columns], threshold_np[p, columns], v_np[p, columns]
        hessian[np.diag_indices(k + 1)] += DIAGONAL_FLOOR
        model_grad = np.append(grad_p, 0.0)
        if not damped[p]:
            z, step_b[p], solved = _feature_sign(hessian, model_grad, threshold_p, v_p)
            damped[p] = not solved
        if damped[p]:
            hessian[np.arange(k), np.arange(k)] += DAMPING * _subgradient_residuals(grad_p, threshold_p, v_p).max(
                initial=0.0)
            z, step_b[p], _ = _feature_sign(hessian, model_grad, threshold_p, v_p)
        step_v[p, columns] = z - v_p
    as_tensor = lambda a: torch.as_tensor(a, dtype=v.dtype, device=v.device)  # noqa: E731
    return as_tensor(step_v), as_tensor(step_b), damped


def _subgradient_residuals(grad, threshold, v) -> np.ndarray:
    """Per coefficient, the smallest |subgradient| of ``grad . v + sum threshold |v|``
    there: all 0 exactly at an optimum."""
    return np.where(v != 0, np.abs(grad + threshold * np.sign(v)), np.maximum(np.abs(grad) - threshold, 0.0))


def _feature_sign(hessian, grad, threshold, v, max_steps=INNER_MAX_STEPS):
    """Minimise ``grad . s + 1/2 s^T hessian s + sum threshold |v + s_v|`` over
    s = (s_v, s_b), the last entry (the intercept) unpenalised: an active-set
    method in the manner of Lee et al.'s feature-sign search (2007).

    Fix the signs of the active coefficients (non-zero, or entering against
    their gradient); the model is then a quadratic whose minimiser is one
    Cholesky solve. Walk from the current point towards it, to the exact
    minimum of the (convex, piecewise quadratic) model on that segment;
    coefficients that reach 0 there leave the active set. Where the segment
    does not descend, one exact coordinate step on the worst coefficient
    does, so the model decreases at every step. Near the optimum of a weakly
    penalised fit the signs stop changing and the first solve is the
    answer. Returns (v + s_v, s_b, whether it reached the minimum within
    ``max_steps``)."""
    k = len(v)
    z = v.copy()
    step = np.zeros(k + 1)  # (z - v, s_b)
    scale = np.abs(grad[:k]).max(initial=0.0) + threshold.max(initial=0.0)
    solved = False
    for _ in range(max_steps):
        model_grad = grad + hessian @ step
        gz = model_grad[:k]
        # Enter where the gradient beats the threshold by more than rounding.
        excess = np.where(z == 0, np.abs(gz) - threshold, 0.0)
        entering = excess > 1e-10 * scale
        if solved and not entering.any():
            return z, step[k], True
        for _ in range(3):  # an entering coefficient whose minimiser has the other sign stays out
            signs = np.where(z != 0, np.sign(z), np.where(entering, -np.sign(gz), 0.0))
            direction = _orthant_direction(hessian, grad, threshold, step, signs)
            wrong = entering & (direction[:k] * signs < 0)
            if not wrong.any():
                break
            entering &= ~wrong
        t, change = _segment_minimum(model_grad @ direction, direction @ hessian @ direction, z, direction[:k],
                                     threshold)
        if change >= 0:  # the segment does not descend: one exact coordinate step instead
            violation = _subgradient_residuals(gz, threshold, z)
            j = int(np.argmax(violation))
            if violation[j] <= 1e-10 * scale:
                return z, step[k], True
            curvature = hessian[j, j]
            new = np.sign(z[j] - gz[j] / curvature) * max(abs(z[j] - gz[j] / curvature) - threshold[j] / curvature, 0)
            step[j] += new - z[j]
            z[j] = new
            solved = False
            continue
        new_z = z + t * direction[:k]
        # Coefficients whose zero crossing is the step reached 0 exactly.
        with np.errstate(divide="ignore", invalid="ignore"):
            at_zero = np.isclose(-z / direction[:k], t, rtol=1e-9, atol=0.0) & (z != 0)
        new_z[at_zero] = 0.0
        # No sign changed on the way: this is the signs' minimiser (t short of 1 only by rounding).
        solved = not at_zero.any() and bool(np.all(np.sign(z + direction[:k])[signs != 0] == signs[signs != 0]))
        if solved:
            t, new_z = 1.0, z + direction[:k]
        step = step + t * direction
        step[:k] = new_z - v
        z = new_z
    return z, step[k], False


def _orthant_direction(hessian, grad, threshold, step, signs):
    """From ``step`` to the model's minimiser with the penalised coefficients'
    signs fixed at ``signs`` (0: held at z = 0); the intercept is always free.

    Called hundreds of thousands of times on hard probe jobs, on blocks of at
    most a few hundred rows, so LAPACK is called directly: scipy's
    ``cho_factor``/``cho_solve`` wrappers (finiteness checks, index grids)
    cost more than the factorisation there, and give the same digits."""
    k = len(signs)
    on = np.flatnonzero(signs)
    active = np.append(on, k)
    held = np.flatnonzero(signs == 0)
    rows = hessian[active]
    # C order, as np.ix_ would give: the product then sums in the same order.
    rhs = -(grad[active] + np.append(threshold[on] * signs[on], 0.0) + np.ascontiguousarray(rows[:, held]) @ step[held])
    factor, info = scipy.linalg.lapack.dpotrf(rows[:, active], lower=0, clean=0, overwrite_a=1)
    if info == 0:
        target, info = scipy.linalg.lapack.dpotrs(factor, rhs, lower=0)
    if info != 0:  # numerically singular
        target = np.linalg.lstsq(rows[:, active], rhs, rcond=None)[0]
    direction = np.zeros(k + 1)
    direction[active] = target - step[active]
    return direction


def _segment_minimum(slope, curvature, z, dz, threshold):
    """argmin over t in [0, 1] of slope t + curvature t^2 / 2 + sum threshold (|z + t dz| - |z|),
    a convex piecewise quadratic: the minimiser is a kink or a stationary
    point between kinks. Returns (t, the change of the model there)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        kinks = np.where(dz != 0, -z / dz, np.inf)
    kinks = np.unique(np.concatenate([[0.0, 1.0], kinks[(kinks > 0) & (kinks < 1)]]))
    middles = (kinks[:-1] + kinks[1:]) / 2
    # The slope of the L1 part is constant between kinks: the stationary point of each piece.
    l1_slope = (threshold * np.sign(z + middles[:, None] * dz) * dz).sum(axis=1)
    stationary = np.clip(-(slope + l1_slope) / max(curvature, 1e-300), kinks[:-1], kinks[1:])
    ts = np.concatenate([kinks, stationary])
    values = slope * ts + 0.5 * curvature * ts**2 + (threshold * (np.abs(z + ts[:, None] * dz) - np.abs(z))).sum(axis=1)
    best = int(np.argmin(values))
    return ts[best], values[best]


def _l1_gap_at(problem: _Problem, lam, v, loss, p, correlation):
    """``_l1_gap`` from the mean loss, probabilities and ``Z^T residual`` at (v, b)."""
    primal = loss + lam * (problem.scale * v.abs()).sum(dim=1)
    ratio = torch.where(problem.free, correlation.abs() / (lam[:, None] * problem.scale).clamp_min(1e-300), 0.0)
    shrink = 1.0 / ratio.amax(dim=1).clamp_min(1.0)
    q = (1 - shrink[:, None]) * problem.target + shrink[:, None] * p
    entropy = torch.special.xlogy(q, q) + torch.special.xlogy(1 - q, 1 - q)
    dual = -(problem.weights * entropy).sum(dim=1)
    return (primal - dual).clamp_min(0.0) / primal


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
        if iteration % FISTA_CHECK_EVERY and iteration != max_iter:
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
    p = torch.sigmoid(margins)
    correlation = ((p - problem.target) * problem.weights) @ problem.Z
    return _l1_gap_at(problem, lam, v, problem.loss_of(margins), p, correlation)


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
