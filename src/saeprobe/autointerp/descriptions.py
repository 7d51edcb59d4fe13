"""Latent descriptions from probing prompts, LLM rankings and dataset audits
(kurexi/SAEs, ``analysis-methods.md`` §6.5-6.6)."""

from __future__ import annotations

import json
import re

import numpy as np

EXAMPLE_CHARS = 300


def top_prompts(latent_acts: np.ndarray, texts: list[str], n: int = 10) -> list[tuple[float, str]]:
    """The ``n`` prompts on which the latent's last-token activation is highest,
    strongest first, each cut to ``EXAMPLE_CHARS`` characters."""
    order = np.argsort(-np.asarray(latent_acts), kind="stable")[:n]
    return [(float(latent_acts[i]), texts[i][:EXAMPLE_CHARS]) for i in order]


_RANKING = re.compile(r'\{[^{}]*"ranking"[^{}]*\}')


def parse_ranking(reply: str, n: int) -> list[int] | None:
    """The 0-based order of ``n`` candidates from a ranking reply (1-based
    numbers in ``{"ranking": [...]}``). None unless it names each candidate
    exactly once: the caller then keeps its own order, and says so."""
    match = _RANKING.search(reply)
    if match is None:
        return None
    try:
        ranking = json.loads(match.group(0))["ranking"]
    except (json.JSONDecodeError, TypeError):
        return None
    if not isinstance(ranking, list) or sorted(ranking) != list(range(1, n + 1)):
        return None
    return [position - 1 for position in ranking]


def disagreements(latent_acts: np.ndarray, labels: np.ndarray, quantile: float = 0.9, top: int = 10) -> np.ndarray:
    """Rows on which the latent fires strongly (at or above its ``quantile``)
    but whose label is the class it is less associated with: candidates for
    label noise. Strongest first, at most ``top``."""
    acts, labels = np.asarray(latent_acts, float), np.asarray(labels)
    favoured = int(acts[labels == 1].mean() > acts[labels == 0].mean())
    strong = np.flatnonzero((acts >= np.quantile(acts, quantile)) & (labels != favoured))
    return strong[np.argsort(-acts[strong], kind="stable")][:top]


# What each reference OOD set changes, in our words, for the ranking prompt
# (kurexi wrote its own for three of them): dataset -> (task, shift).
OOD_TASKS = {
    "5_hist_fig_ismale": ("Is the person named a man?",
                          "the names are of cartoon characters instead of historical figures"),
    "6_hist_fig_isamerican": ("Is the historical figure named American?",
                              "each name is preceded by a stray letter"),
    "7_hist_fig_ispolitician": ("Is the historical figure named a politician?",
                                "the names are written surname first"),
    "66_living-room": ("Does the text contain the phrase 'living room'?",
                       "the texts are in French, some of them code"),
    "67_social-security": ("Does the text contain the phrase 'Social Security'?", "the texts are in Spanish"),
    "73_control-group": ("Does the text contain the phrase 'control group'?", "the texts are in German"),
    "87_glue_cola": ("Is the sentence grammatical English?",
                     "the sentences are lines of everyday dialogue rather than linguists' examples"),
    "90_glue_qnli": ("Does the sentence answer the question before it?",
                     "the texts come from news articles rather than Wikipedia"),
}


def probe_auc(X_train, y_train, X_eval, y_eval, columns, engine: str = "batched") -> float:
    """Test AUC of an L1 logistic probe on the latents ``columns``, C chosen
    by validation as in the probes (kurexi's single-latent and top-n probes)."""
    from saeprobe.probes import ValidatedLogisticRegression, positive_scores, roc_auc

    columns = list(columns)
    probe = ValidatedLogisticRegression(penalty="l1", engine=engine).fit(_dense(X_train[:, columns]), y_train)
    return float(roc_auc(y_eval, positive_scores(probe, _dense(X_eval[:, columns]))))


def _dense(X):
    return X.toarray() if hasattr(X, "toarray") else np.asarray(X)


def dataset_latent_analyses(X, labels, texts, explainer, *, top_latents: int = 8, candidates: int = 128,
                            ranking: str = "normalized", engine: str = "batched", ood=None, ood_task=None,
                            audit: bool = False) -> dict:
    """kurexi's per-dataset analyses (``analysis-methods.md`` §6.5-6.6) of one
    SAE's last-token latents ``X`` of a dataset:

    - ``descriptions``: the ``top_latents`` latents ranked as the probes rank
      them on the training rows, and the best single latent of the first
      ``candidates`` by test AUC, each described from its 10 strongest
      training prompts, with its single-latent test AUC (and OOD AUC);
    - ``ood_pruning`` (with ``ood`` = (X_ood, labels_ood) and ``ood_task`` =
      (task, shift)): the OOD AUC of the first n latents, n = 1 ... top_latents,
      in the probes' order and in the order the explainer ranks them for the
      shift (kurexi never scored the latter);
    - ``audit`` (with ``audit``): the rows on which the top latent fires
      strongly but whose label is the other class, and the texts' last
      characters by label.
    """
    import pandas as pd

    from saeprobe.llm.prompts import description_request, ranking_request
    from saeprobe.probes import rank_latents
    from saeprobe.splits import normal_split, ood_train_rows

    labels, texts = np.asarray(labels), list(texts)
    train, test = normal_split(labels)
    order = rank_latents(X[train], labels[train], ranking)
    top = [int(i) for i in order[:top_latents]]
    single = {int(i): probe_auc(X[train], labels[train], X[test], labels[test], [i], engine)
              for i in order[:max(candidates, top_latents)]}
    best = max(single, key=lambda i: (single[i], -list(single).index(i)))
    described = top + ([best] if best not in top else [])
    train_texts = [texts[i] for i in train]
    requests = [description_request(i, top_prompts(_dense(X[train][:, [i]]).ravel(), train_texts))
                for i in described]
    replies = explainer.ask(requests)
    rows = [{"latent": i, "rank": int(np.flatnonzero(order == i)[0]) + 1,
             "role": "top" if i in top else "best_single", "test_auc": single[i], "ood_auc": np.nan,
             "description": reply.text, "explainer": reply.explainer} for i, reply in zip(described, replies)]
    descriptions = pd.DataFrame(rows)
    out = {"descriptions": descriptions, "ood_pruning": None, "audit": None}

    if ood is not None and ood_task is not None:
        X_ood, labels_ood = ood
        ood_rows = ood_train_rows(labels)
        fit = lambda columns: probe_auc(X[ood_rows], labels[ood_rows], X_ood, np.asarray(labels_ood), columns, engine)
        descriptions.loc[descriptions["role"] == "top", "ood_auc"] = [fit([i]) for i in top]
        candidates_text = list(zip(top, descriptions.set_index("latent").loc[top, "description"]))
        reply = explainer.ask([ranking_request(*ood_task, candidates_text)])[0]
        parsed = parse_ranking(reply.text, len(top))
        explainer_order = [top[p] for p in parsed] if parsed is not None else top
        out["ood_pruning"] = pd.DataFrame(
            [{"order": name, "n": n, "latents": " ".join(map(str, latents[:n])), "ood_auc": fit(latents[:n]),
              "ranking_parsed": parsed is not None, "explainer": reply.explainer}
             for name, latents in (("probe", top), ("explainer", explainer_order))
             for n in range(1, len(top) + 1)])

    if audit:
        acts = _dense(X[:, [top[0]]]).ravel()
        flagged = disagreements(acts, labels)
        audit_rows = [{"kind": "disagreement", "latent": top[0], "row": int(r), "text": texts[r],
                       "label": int(labels[r]), "activation": float(acts[r]), "character": None, "count": None}
                      for r in flagged]
        for label in (0, 1):
            ends = pd.Series([t[-1] if t else "" for t, y in zip(texts, labels) if y == label]).value_counts()
            audit_rows += [{"kind": "last_character", "latent": None, "row": None, "text": None, "label": label,
                            "activation": None, "character": char, "count": int(count)}
                           for char, count in ends.head(10).items()]
        out["audit"] = pd.DataFrame(audit_rows)
    return out
