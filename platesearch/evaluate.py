"""Evaluation as in the reference study: every plate text of a labelled dataset is a query,
hit@k when a photo of that plate is within the first k results (metrics in `metrics`)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from platesearch.metrics import box_iou, rank_of_plate, summarize_ranks


class EvaluationError(ValueError):
    """The dataset cannot be evaluated against this index (e.g. none of its images are in it)."""


@dataclass
class QueryOutcome:
    plate: str
    rank: int | None  # 1-based rank of the first photo labelled with this plate, None if not in the top max(k)
    results: list  # SearchResult objects, best first
    from_labelled_box: bool | None  # the hit's crop overlaps the labelled plate box (IoU >= 0.3); None without boxes
    expected_path: str = ""  # a photo labelled with this plate (for the failure gallery)
    expected_box: tuple[int, int, int, int] | None = None
    first_labels: tuple[str, ...] = ()  # the plates the first result's photo is labelled with

    @property
    def near_label(self) -> str | None:
        """A label of a miss's first photo one character away from the query, if any."""
        if self.rank == 1:
            return None
        return next((label for label in self.first_labels if Levenshtein.distance(label, self.plate) == 1), None)


@dataclass
class EvaluationReport:
    dataset: str
    method: str
    metrics: dict[str, float]
    outcomes: list[QueryOutcome] = field(default_factory=list)
    bad_rows: list[str] = field(default_factory=list)
    hits_from_labelled_box: float | None = None
    not_in_index: int = 0  # dataset images the index does not hold (by path or content)

    @property
    def misses(self) -> list[QueryOutcome]:
        return [o for o in self.outcomes if o.rank != 1]

    @property
    def near_label_misses(self) -> list[QueryOutcome]:
        """Misses whose first photo is labelled one character away from the query: often one
        plate labelled two ways (then the labels, not the search, are wrong), sometimes two
        plates that differ in one character. Worth a look before trusting the figure."""
        return [o for o in self.misses if o.near_label is not None]

    def to_json(self) -> dict:
        return {
            "dataset": self.dataset,
            "method": self.method,
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in self.metrics.items()},
            "hits_from_labelled_box": self.hits_from_labelled_box,
            "bad_rows": self.bad_rows,
            "not_in_index": self.not_in_index,
            "missed_at_1": [o.plate for o in self.misses],
            "near_label_misses": [
                {"plate": o.plate, "first_path": o.results[0].path, "first_labelled": o.near_label}
                for o in self.near_label_misses
            ],
        }


def evaluate_dataset(
    dataset_dir: Path | str,
    index_dir: Path | str | None = None,
    ks: Sequence[int] = (1, 3, 10),
    method: str | None = None,
    holdout_only: bool = False,
    embedder=None,
    ocr_weight: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    labels: Path | str | None = None,
) -> EvaluationReport:
    """Query every distinct plate of a labelled dataset against an index of its images.

    `method` defaults to the one `query` uses. Without `index_dir`, a temporary index of the dataset's images is built (plate crops
    when the labels have no boxes, full photos with localization when they do).
    `holdout_only` queries only plates held out of training (the honest setting for the
    shipped model); the gallery keeps every image of the dataset as a distractor. `labels`: a
    labels file to read instead of the dataset's own (`load_dataset`).
    """
    from platesearch.datasets import is_validation_plate, load_dataset
    from platesearch.pipeline import PlateIndex
    from platesearch.scoring import DEFAULT_OCR_WEIGHT, DEFAULT_SEARCH_METHOD

    method = method or DEFAULT_SEARCH_METHOD

    dataset = load_dataset(dataset_dir, labels)
    items = dataset.items
    has_boxes = any(i.box is not None for i in items)
    with tempfile.TemporaryDirectory(prefix="platesearch-eval-") as tmp:
        if index_dir is None:
            plate_index = PlateIndex.create(Path(tmp) / "index", embedder)
            plate_index.add([i.path for i in items], crops=not has_boxes, ocr=method != "embedding")
        else:
            plate_index = PlateIndex.open(index_dir, embedder)
        with plate_index:
            labelled: dict[str, list] = {}  # path in the index -> its labelled plates (a photo may show several)
            indexed_paths = {path: plate_index.indexed_path(path) for path in dict.fromkeys(i.path for i in items)}
            for item in items:
                if indexed_paths[item.path] is not None:
                    labelled.setdefault(indexed_paths[item.path], []).append(item)
            if not labelled:
                raise EvaluationError(
                    f"none of the {len(indexed_paths)} images of {dataset_dir} are in the index at {index_dir}, "
                    "by path or by content: index them first (platesearch index ... --index DIR)"
                )
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
                first_labels = tuple(i.plate for i in labelled.get(results[0].path, [])) if results else ()
                outcomes.append(
                    QueryOutcome(plate, rank, results, from_box, str(expected.path), expected.box, first_labels)
                )
                if progress:
                    progress(n, len(queries))
    report = _report(dataset_dir, method, ks, outcomes, dataset.bad_rows)
    report.not_in_index = sum(path is None for path in indexed_paths.values())
    return report


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
    labels: Path | str | None = None,
) -> EvaluationReport:
    """The same queries answered by EasyOCR `readtext` over each whole image (`platesearch.baseline`).

    Ties count against the query: a wrong image with the same score ranks first.
    `cache_file` keeps the images' readings between runs (JSON, keyed by absolute path).
    """
    from platesearch.baseline import read_images
    from platesearch.datasets import is_validation_plate, load_dataset
    from platesearch.media import absolute_path
    from platesearch.records import SearchResult
    from platesearch.textmatch import plain_similarity

    dataset = load_dataset(dataset_dir, labels)
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
        first_labels = tuple(sorted(plates_of[ranked[0]])) if ranked else ()
        outcomes.append(
            QueryOutcome(
                plate, rank if rank <= max(ks) else None, results, None, str(expected.path), expected.box, first_labels
            )
        )
    return _report(dataset_dir, "baseline", ks, outcomes, dataset.bad_rows)
