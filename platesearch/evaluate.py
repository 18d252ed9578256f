"""Retrieval metrics, as in the reference study: every plate text is a query, hit@k when a
photo of that plate is within the first k results."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


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


# ---------------------------------------------------------------- evaluating an index on a dataset


@dataclass
class QueryOutcome:
    plate: str
    rank: int | None  # 1-based rank of the first photo labelled with this plate, None if not in the top max(k)
    results: list  # SearchResult objects, best first
    from_labelled_box: bool | None  # the hit's crop overlaps the labelled plate box (IoU >= 0.3); None without boxes
    expected_path: str = ""  # a photo labelled with this plate (for the failure gallery)
    expected_box: tuple[int, int, int, int] | None = None


@dataclass
class EvaluationReport:
    dataset: str
    method: str
    metrics: dict[str, float]
    outcomes: list[QueryOutcome] = field(default_factory=list)
    bad_rows: list[str] = field(default_factory=list)
    hits_from_labelled_box: float | None = None

    @property
    def misses(self) -> list[QueryOutcome]:
        return [o for o in self.outcomes if o.rank != 1]

    def to_json(self) -> dict:
        return {
            "dataset": self.dataset,
            "method": self.method,
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in self.metrics.items()},
            "hits_from_labelled_box": self.hits_from_labelled_box,
            "bad_rows": self.bad_rows,
            "missed_at_1": [o.plate for o in self.misses],
        }


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - iw * ih
    return iw * ih / union if union else 0.0


def evaluate_dataset(
    dataset_dir: Path | str,
    index_dir: Path | str | None = None,
    ks: Sequence[int] = (1, 3, 10),
    method: str | None = None,
    holdout_only: bool = False,
    embedder=None,
    ocr_weight: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvaluationReport:
    """Query every distinct plate of a labelled dataset against an index of its images.

    `method` defaults to the one `query` uses. Without `index_dir`, a temporary index of the dataset's images is built (plate crops
    when the labels have no boxes, full photos with localization when they do).
    `holdout_only` queries only plates held out of training (the honest setting for the
    shipped model); the gallery keeps every image of the dataset as a distractor.
    """
    from platesearch.datasets import is_validation_plate, load_dataset
    from platesearch.io import absolute_path
    from platesearch.pipeline import PlateIndex
    from platesearch.scoring import DEFAULT_OCR_WEIGHT, DEFAULT_SEARCH_METHOD

    method = method or DEFAULT_SEARCH_METHOD

    dataset = load_dataset(dataset_dir)
    items = dataset.items
    labelled: dict[str, list] = {}  # path -> its labelled plates (a photo may show several)
    for item in items:
        labelled.setdefault(str(absolute_path(item.path)), []).append(item)
    has_boxes = any(i.box is not None for i in items)
    with tempfile.TemporaryDirectory(prefix="platesearch-eval-") as tmp:
        if index_dir is None:
            plate_index = PlateIndex.create(Path(tmp) / "index", embedder)
            plate_index.add([i.path for i in items], crops=not has_boxes, ocr=method != "embedding")
        else:
            plate_index = PlateIndex.open(index_dir, embedder)
        with plate_index:
            queries = [p for p in dataset.plates if is_validation_plate(p) or not holdout_only]
            outcomes = []
            for n, plate in enumerate(queries, start=1):
                results = plate_index.search(
                    plate, k=max(ks), method=method, ocr_weight=DEFAULT_OCR_WEIGHT if ocr_weight is None else ocr_weight
                )
                rank = rank_of_plate([r.path for r in results], plate, labelled)
                from_box = None
                if rank is not None and has_boxes:
                    hit = results[rank - 1]
                    item = next(i for i in labelled[hit.path] if i.plate == plate)
                    from_box = item.box is not None and box_iou(hit.box, item.box) >= 0.3
                expected = next(i for i in items if i.plate == plate)
                outcomes.append(QueryOutcome(plate, rank, results, from_box, str(expected.path), expected.box))
                if progress:
                    progress(n, len(queries))
    return _report(dataset_dir, method, ks, outcomes, dataset.bad_rows)


def _report(
    dataset_dir: Path | str, method: str, ks: Sequence[int], outcomes: list[QueryOutcome], bad_rows: list[str]
) -> EvaluationReport:
    metrics = summarize_ranks([o.rank for o in outcomes], ks)
    hits = [o for o in outcomes if o.rank is not None and o.from_labelled_box is not None]
    from_box = sum(o.from_labelled_box for o in hits) / len(hits) if hits else None
    return EvaluationReport(Path(dataset_dir).name, method, metrics, outcomes, bad_rows, from_box)


def evaluate_baseline(
    dataset_dir: Path | str,
    ks: Sequence[int] = (1, 3, 10),
    holdout_only: bool = False,
    cache_file: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvaluationReport:
    """The same queries answered by EasyOCR `readtext` over each whole image (`platesearch.baseline`).

    Ties count against the query: a wrong image with the same score ranks first.
    `cache_file` keeps the images' readings between runs (JSON, keyed by absolute path).
    """
    from platesearch.baseline import read_images
    from platesearch.datasets import is_validation_plate, load_dataset
    from platesearch.io import absolute_path
    from platesearch.pipeline import SearchResult
    from platesearch.textmatch import plain_similarity

    dataset = load_dataset(dataset_dir)
    paths = list(dict.fromkeys(str(absolute_path(i.path)) for i in dataset.items))
    readings = read_images(paths, cache_file, progress)
    plates_of: dict[str, set[str]] = {}
    for item in dataset.items:
        plates_of.setdefault(str(absolute_path(item.path)), set()).add(item.plate)
    outcomes = []
    for plate in [p for p in dataset.plates if is_validation_plate(p) or not holdout_only]:
        scores = {path: plain_similarity(plate, texts) for path, texts in readings.items()}
        best_hit = max(score for path, score in scores.items() if plate in plates_of[path])
        rank = 1 + sum(score >= best_hit for path, score in scores.items() if plate not in plates_of[path])
        ranked = sorted(scores, key=lambda path: (-scores[path], plate in plates_of[path]))[: max(ks)]
        results = [SearchResult(n, path, scores[path], (0, 0, 0, 0), -1) for n, path in enumerate(ranked, start=1)]
        expected = next(i for i in dataset.items if i.plate == plate)
        outcomes.append(
            QueryOutcome(plate, rank if rank <= max(ks) else None, results, None, str(expected.path), expected.box)
        )
    return _report(dataset_dir, "baseline", ks, outcomes, dataset.bad_rows)
