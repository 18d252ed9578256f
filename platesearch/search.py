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
from platesearch.textmatch import best_readings, owner_similarities, partial_similarity, text_similarities

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
    read_scores: dict[int, float] = {}  # the best reading's similarity of the crops found by reading
    if method in ("ocr", "hybrid"):
        found = store.candidate_readings(plate)
        similarity = owner_similarities(plate, found.owners, found.readings, len(found.crop_ids))
        best_read = np.argsort(-similarity, kind="stable")[:pool]
        read_scores = dict(zip(found.crop_ids[best_read].tolist(), similarity[best_read].tolist(), strict=True))
    if method == "embedding":
        scores = cosines
    elif method == "ocr":  # a crop found by reading has readings
        scores = read_scores
    else:
        candidates = list(dict.fromkeys([*cosines, *read_scores]))
        unscored = [i for i in candidates if i not in read_scores]  # found by cosine only
        stored = store.stored_readings(unscored)
        read_scores.update(
            zip(unscored, text_similarities(plate, [stored.get(i) for i in unscored]).tolist(), strict=True)
        )
        missing = [i for i in candidates if i not in cosines]
        cosines.update(zip(missing, store.cosine(query, missing), strict=True))
        fused = hybrid_scores(
            np.array([cosines[i] for i in candidates]),
            np.array([read_scores[i] for i in candidates]),
            plate,
            ocr_weight,
            store.catalog.box_heights(candidates),
        )
        scores = dict(zip(candidates, fused.tolist(), strict=True))
    best = _best_per_photo(store, scores, k, window)
    read = best_readings(plate, [crop.ocr_text for crop in best])
    return _results(best, scores, {crop.crop_id: reading for crop, (_, reading) in zip(best, read, strict=True)})


def _best_per_photo(store: IndexStore, scores: dict[int, float], k: int, window: TimeWindow) -> list[StoredCrop]:
    """The best crop of each of the k best photos (a video: sightings) taken inside `window`,
    best first (equal scores in `scores`' order). Catalog rows are read only for the head of
    the ranking, a few at a time: reading all of a query's candidates took a quarter of its
    CPU over 1M crops (BENCHMARKS.md "Serving")."""
    ranked = sorted(scores, key=lambda i: -scores[i])
    best: dict[tuple[str, int | None], StoredCrop] = {}
    step = max(2 * k, 16)
    for start in range(0, len(ranked), step):
        head = ranked[start : start + step]
        rows = store.catalog.crops(head)
        for crop_id in head:
            crop = rows.get(crop_id)  # None: removed by a writer since this reader's snapshot
            if crop is not None and window.holds(crop.taken_at):
                best.setdefault(crop.place, crop)
                if len(best) == k:
                    return list(best.values())
    return list(best.values())


def _results(
    best: list[StoredCrop],
    scores: dict[int, float],
    readings: dict[int, str | None],
    matched: dict[int, str | None] | None = None,
) -> list[SearchResult]:
    return [
        SearchResult(
            rank,
            crop.photo_path,
            scores[crop.crop_id],
            crop.box,
            crop.crop_id,
            readings.get(crop.crop_id),
            crop.ocr_confidence,
            (matched or {}).get(crop.crop_id),
            crop.taken_at,
            crop.time,
            crop.sighting,
        )
        for rank, crop in enumerate(best, start=1)
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
    missing = [i for i in candidates if i not in cosines]
    if fill_vectors is not None and missing:
        nearest = np.max([store.cosine(vector, missing) for vector in fill_vectors], axis=0)
        cosines.update(zip(missing, nearest.tolist(), strict=True))
    scores = {
        i: 0.5 * (i in matched) + 0.5 * (max(0.0, cosines.get(i, 0.0)) if fills else closeness.get(i, 0.0))
        for i in candidates
    }
    plain = {i: m.replace("[", "").replace("]", "") for i, m in matched.items()}
    return _results(_best_per_photo(store, scores, k, window), scores, plain, matched)
