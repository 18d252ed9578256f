"""Retrieval and localization metrics, pure functions of rankings and boxes: shared by
evaluation, training (validation) and the experiments, with no index or model behind them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from platesearch.records import Box


def hit_ranks(rankings: Sequence[Sequence[str]], queries: Sequence[str]) -> list[int | None]:
    """1-based rank of the first result whose plate equals the query (None if absent).

    `rankings[i]` is the plate label of each result for query i, best first. Several photos
    of one plate count as one relevant set: the first of them decides the rank.
    """
    ranks: list[int | None] = []
    for plate, ranking in zip(queries, rankings, strict=True):
        ranks.append(next((i + 1 for i, label in enumerate(ranking) if label == plate), None))
    return ranks


def rank_of_plate(paths: Sequence[str], plate: str, labelled: dict[str, list]) -> int | None:
    """1-based rank of the first path labelled with `plate` (None if absent).

    `labelled[path]` lists every labelled item of a photo: a photo showing several plates is
    a hit for each of them.
    """
    return next((n for n, path in enumerate(paths, 1) if any(i.plate == plate for i in labelled.get(path, ()))), None)


def summarize_ranks(ranks: Sequence[int | None], ks: Sequence[int] = (1, 3, 10)) -> dict[str, float]:
    """top-k accuracy for each k and mean reciprocal rank (a miss counts 0)."""
    n = len(ranks)
    if n == 0:
        return {**{f"top{k}": 0.0 for k in ks}, "mrr": 0.0, "queries": 0}
    summary: dict[str, float] = {f"top{k}": sum(r is not None and r <= k for r in ranks) / n for k in ks}
    summary["mrr"] = sum(1.0 / r for r in ranks if r is not None) / n
    summary["queries"] = n
    return summary


def embedding_retrieval(
    query_vectors: np.ndarray,
    query_plates: Sequence[str],
    gallery_vectors: np.ndarray,
    gallery_plates: Sequence[str],
    ks: Sequence[int] = (1, 3, 10),
) -> dict[str, float]:
    """Metrics for ranking a gallery of unit vectors by cosine similarity to each query.

    Ties are broken against the query: a wrong item with the same score ranks first.
    """
    scores = query_vectors @ gallery_vectors.T
    labels = np.asarray(gallery_plates)
    rankings = []
    for i, plate in enumerate(query_plates):
        wrong_first = (labels != plate).astype(np.float64)  # secondary key: on a tie, misses first
        order = np.lexsort((-wrong_first, -scores[i]))
        rankings.append(labels[order[: max(ks)]].tolist())
    return summarize_ranks(hit_ranks(rankings, query_plates), ks)


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, width, height) boxes."""
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - iw * ih
    return iw * ih / union if union else 0.0
