"""Answering a plate query from a store: gather candidate crops by embedding and by reading,
score them (`scoring`), and keep each photo's best crop. No TensorFlow here: the query's
embedding comes from whatever `embed_query` the caller passes (tests pass a fake one)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from platesearch.patterns import PlatePattern
from platesearch.records import ALL_TIME, SearchResult, StoredCrop, TimeWindow
from platesearch.scoring import DEFAULT_OCR_WEIGHT, DEFAULT_SEARCH_METHOD, check_method, hybrid_scores
from platesearch.store import IndexStore
from platesearch.textmatch import best_readings, owner_similarities, partial_similarity

EmbedQuery = Callable[[str], np.ndarray]  # normalized plate text -> unit vector of its render


class SearchError(ValueError):
    """A query this index cannot answer as asked (e.g. by readings it never stored)."""


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive whole number, got {k!r}")


def candidate_pool(k: int) -> int:
    """Crops considered per method: enough that k distinct photos survive grouping."""
    return max(64, 16 * k)


def search_store(
    store: IndexStore,
    plate: str,
    embed_query: EmbedQuery,
    k: int = 3,
    method: str = DEFAULT_SEARCH_METHOD,
    ocr_weight: float = DEFAULT_OCR_WEIGHT,
    window: TimeWindow = ALL_TIME,
) -> list[SearchResult]:
    """The k photos most likely to show the normalized `plate`, best first (a photo counts once,
    a video once per sighting), among the photos taken inside `window`.

    method: "embedding" (cosine similarity of the query render and the crops), "ocr"
    (similarity of the query to each crop's best reading, confusable characters cheaper), or
    "hybrid" (both, an exact reading first: `scoring.hybrid_scores`). An index that holds no
    readings at all (crops indexed with --no-ocr) answers "hybrid" by the embedding alone and
    refuses "ocr".
    """
    check_method(method)
    _check_k(k)
    if not 0.0 <= ocr_weight <= 1.0:
        raise ValueError(f"ocr_weight must be between 0 and 1, got {ocr_weight}")
    if method != "embedding" and store.vectors.ntotal and not store.catalog.has_readings():
        if method == "ocr":
            raise SearchError(
                "this index holds no OCR readings (its crops were indexed with --no-ocr): "
                "use --method embedding or hybrid, or index the crops again with --ocr"
            )
        method = "embedding"
    pool = candidate_pool(k)
    cosines: dict[int, float] = {}
    query = None
    if method in ("embedding", "hybrid"):
        query = embed_query(plate)
        found_scores, found_ids = store.search(query[None], k=pool)
        cosines = {int(i): float(s) for s, i in zip(found_scores[0], found_ids[0], strict=True) if i >= 0}
    candidates = list(cosines)
    if method in ("ocr", "hybrid"):
        found = store.candidate_readings(plate)
        similarity = owner_similarities(plate, found.owners, found.readings, len(found.crop_ids))
        best_read = found.crop_ids[np.argsort(-similarity, kind="stable")[:pool]].tolist()
        candidates += [i for i in best_read if i not in cosines]
    crops = store.catalog.crops(candidates)
    candidates = [i for i in candidates if i in crops and window.holds(crops[i].taken_at)]
    read = dict(zip(candidates, best_readings(plate, [crops[i].ocr_text for i in candidates]), strict=True))
    if method == "embedding":
        scores = {i: cosines[i] for i in candidates}
    elif method == "ocr":  # every candidate scored from its own readings, whichever way it was found
        scores = {i: read[i][0] for i in candidates if read[i][1] is not None}
    else:
        missing = [i for i in candidates if i not in cosines]
        cosines.update(zip(missing, store.cosine(query, missing), strict=True))
        fused = hybrid_scores(
            np.array([cosines[i] for i in candidates]), np.array([read[i][0] for i in candidates]), plate, ocr_weight
        )
        scores = dict(zip(candidates, fused.tolist(), strict=True))
    return _best_per_photo(scores, crops, k, {i: read[i][1] for i in candidates})


def _best_per_photo(
    scores: dict[int, float],
    crops: dict[int, StoredCrop],
    k: int,
    readings: dict[int, str | None],
    matched: dict[int, str | None] | None = None,
) -> list[SearchResult]:
    """The k best photos (a video: sightings), each with its best crop, best first."""
    best: dict[tuple[str, int | None], int] = {}  # photo path (and sighting) -> its best crop
    for crop_id in sorted(scores, key=lambda i: -scores[i]):
        best.setdefault(crops[crop_id].place, crop_id)
        if len(best) == k:
            break
    return [
        SearchResult(
            rank,
            crops[crop_id].photo_path,
            scores[crop_id],
            crops[crop_id].box,
            crop_id,
            readings.get(crop_id),
            crops[crop_id].ocr_confidence,
            (matched or {}).get(crop_id),
            crops[crop_id].taken_at,
            crops[crop_id].time,
            crops[crop_id].sighting,
        )
        for rank, crop_id in enumerate(best.values(), start=1)
    ]


def search_pattern(
    store: IndexStore, pattern: PlatePattern, embed_query: EmbedQuery, k: int = 3, window: TimeWindow = ALL_TIME
) -> list[SearchResult]:
    """The k photos most likely to show a plate matching `pattern` (`patterns.py`), best first,
    among the photos taken inside `window`.

    A crop whose reading matches the pattern (confusables allowed) scores 0.5 and more, above
    every crop that does not. The other half of the score is the cosine to the nearest render
    of the pattern's concrete plates when there are few (a single `?`), so crops read wrongly
    or not at all are still found; otherwise it is how well the reading holds the pattern's
    longest run of known characters.
    """
    _check_k(k)
    pool = candidate_pool(k)
    cosines: dict[int, float] = {}
    fills = pattern.fills()
    fill_vectors = np.stack([embed_query(fill) for fill in fills]) if fills else None
    if fill_vectors is not None:
        found_scores, found_ids = store.search(fill_vectors, k=pool)
        for scores_row, ids_row in zip(found_scores, found_ids, strict=True):
            for score, crop_id in zip(scores_row, ids_row, strict=True):
                if crop_id >= 0:
                    cosines[int(crop_id)] = max(cosines.get(int(crop_id), -1.0), float(score))
    longest = pattern.longest_run
    readings = dict(store.ocr_readings(longest))
    matched = {i: m for i, text in readings.items() if (m := pattern.match(text)) is not None}
    closeness = {i: partial_similarity(longest, text) for i, text in readings.items()}
    unmatched = sorted((i for i in closeness if i not in matched), key=lambda i: -closeness[i])[:pool]
    candidates = list(dict.fromkeys([*matched, *cosines, *unmatched]))
    crops = store.catalog.crops(candidates)
    candidates = [i for i in candidates if i in crops and window.holds(crops[i].taken_at)]
    missing = [i for i in candidates if i not in cosines]
    if fill_vectors is not None and missing:
        nearest = np.max([store.cosine(vector, missing) for vector in fill_vectors], axis=0)
        cosines.update(zip(missing, nearest.tolist(), strict=True))
    scores = {
        i: 0.5 * (i in matched) + 0.5 * (max(0.0, cosines.get(i, 0.0)) if fills else closeness.get(i, 0.0))
        for i in candidates
    }
    plain = {i: m.replace("[", "").replace("]", "") for i, m in matched.items()}
    return _best_per_photo(scores, crops, k, plain, matched)
