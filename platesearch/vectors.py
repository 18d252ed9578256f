"""The FAISS side of an index: exact search for small collections, IVF for large ones, and
IVF with 8-bit scalar-quantized vectors (a quarter of the memory) for the largest.

Every kind is keyed by crop id, supports adding and removing by id, and gives back every
stored vector (IVF-SQ8: its 8-bit approximation), so converting one kind into another needs
neither the photos nor the model. Chosen by measurement (BENCHMARKS.md): exact inner-product
search grows linearly (about 90 ms per query at 1M crops on 2 cores), while an inverted-file
index over the same vectors answers in about 1 ms with recall@10 above 0.99 (IVF-SQ8: 0.97,
at 310 instead of 1,078 bytes per crop). HNSW was measured too and left
out: it cannot remove vectors, which re-indexing changed photos and `remove` need.
"""

from __future__ import annotations

import math

import faiss
import numpy as np

from platesearch.config import AUTO_IVF_THRESHOLD
from platesearch.config import VECTOR_INDEX_CHOICES as CHOICES

EXACT, IVF, IVF_SQ8 = "exact", "ivf", "ivf-sq8"
INVERTED_FILES = (IVF, IVF_SQ8)
IVF_NPROBE = 32  # lists visited per query
MIN_IVF_VECTORS = 1_000  # below this an inverted file buys nothing: "ivf" stays exact
TRAINING_POINTS_PER_LIST = 64
MIN_POINTS_PER_LIST = 39  # FAISS's k-means warns below this
SEED = 1234


def read(path: str) -> faiss.Index:
    """A FAISS index file, or RuntimeError. A damaged header can claim an absurd size: FAISS's
    std::bad_alloc (Python's MemoryError) is then reported as the file's fault, like its other errors."""
    try:
        return faiss.read_index(path)
    except MemoryError:
        raise RuntimeError(
            "it asks for more memory than there is (a damaged file, or an index larger than this machine's memory)"
        ) from None


def new_exact(dim: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def kind_of(index: faiss.Index) -> str:
    if isinstance(index, faiss.IndexIVFScalarQuantizer):
        return IVF_SQ8
    return IVF if isinstance(index, faiss.IndexIVF) else EXACT


def nlist_for(count: int) -> int:
    """Inverted lists for `count` vectors: the power of two nearest 4 * sqrt(count), fewer for small counts."""
    nlist = 2 ** round(math.log2(4 * math.sqrt(max(count, 1))))
    while nlist > 1 and nlist * MIN_POINTS_PER_LIST > count:
        nlist //= 2
    return nlist


def wanted_kind(choice: str, count: int) -> str:
    if choice not in CHOICES:
        raise ValueError(f"unknown vector index {choice!r}; choose from {', '.join(CHOICES)}")
    if choice == "auto":
        return IVF if count > AUTO_IVF_THRESHOLD else EXACT
    return choice if choice in INVERTED_FILES and count >= MIN_IVF_VECTORS else EXACT


def rebuild_target(index: faiss.Index, choice: str) -> str | None:
    """The kind `index` should be rebuilt as, or None to keep it.

    A change of kind, or (IVF) re-training once the index outgrew its lists (4x growth).
    "auto" goes back to exact only below half the threshold, so an index hovering around it
    is not converted back and forth.
    """
    kind = wanted_kind(choice, index.ntotal)
    if choice == "auto" and kind_of(index) == IVF and index.ntotal >= AUTO_IVF_THRESHOLD // 2:
        kind = IVF
    if kind != kind_of(index):
        return kind
    return kind if kind in INVERTED_FILES and nlist_for(index.ntotal) >= 2 * index.nlist else None


def prepare_for_search(index: faiss.Index) -> faiss.Index:
    if isinstance(index, faiss.IndexIVF):
        index.nprobe = min(IVF_NPROBE, index.nlist)
    return index


def stored_ids(index: faiss.Index) -> np.ndarray:
    if isinstance(index, faiss.IndexIVF):
        invlists = index.invlists
        sizes = [invlists.list_size(number) for number in range(index.nlist)]
        lists = [faiss.rev_swig_ptr(invlists.get_ids(n), size) for n, size in enumerate(sizes) if size]
        return np.concatenate(lists) if lists else np.zeros(0, np.int64)  # concatenate copies
    return faiss.vector_to_array(index.id_map)


def stored_vectors(index: faiss.Index) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of everything in `index`, read back without the model."""
    if kind_of(index) == IVF_SQ8:  # codes are residuals to a centroid: decoded through the direct map
        ids = stored_ids(index)
        return ids, index.reconstruct_batch(ids) if len(ids) else np.zeros((0, index.d), np.float32)
    if isinstance(index, faiss.IndexIVF):
        lists = _inverted_lists(index)
        if not lists:
            return np.zeros(0, np.int64), np.zeros((0, index.d), np.float32)
        return np.concatenate([i for i, _ in lists]), np.concatenate([v for _, v in lists])
    return faiss.vector_to_array(index.id_map), index.index.reconstruct_n(0, index.ntotal)


def _inverted_lists(index: faiss.IndexIVF) -> list[tuple[np.ndarray, np.ndarray]]:
    """(ids, vectors) of each non-empty list of an IVF-Flat index, whose codes are the vectors."""
    invlists = index.invlists
    lists = []
    for number in range(index.nlist):
        size = invlists.list_size(number)
        if size:
            ids = faiss.rev_swig_ptr(invlists.get_ids(number), size).copy()
            codes = faiss.rev_swig_ptr(invlists.get_codes(number), size * invlists.code_size).copy()
            lists.append((ids, codes.view(np.float32).reshape(size, index.d)))
    return lists


def build(kind: str, ids: np.ndarray, vectors: np.ndarray, dim: int) -> faiss.Index:
    """A new index of `kind` holding `vectors` under `ids` (IVF trains its quantizer on them)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if kind == EXACT:
        index = new_exact(dim)
    elif kind in INVERTED_FILES:
        nlist = nlist_for(len(vectors))
        if kind == IVF:
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        else:  # one byte per dimension, of the residual to the list's centroid
            index = faiss.IndexIVFScalarQuantizer(
                faiss.IndexFlatIP(dim), dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
        index.cp.seed = SEED
        sample = np.random.default_rng(SEED).permutation(len(vectors))[: nlist * TRAINING_POINTS_PER_LIST]
        index.train(vectors[np.sort(sample)])
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct and remove by crop id
    else:
        raise ValueError(f"unknown vector index kind {kind!r}")
    if len(vectors):
        index.add_with_ids(vectors, ids)
    return prepare_for_search(index)


def convert(index: faiss.Index, kind: str) -> faiss.Index:
    """The same vectors and ids in an index of `kind` (IVF: freshly trained; from IVF-SQ8, the
    8-bit approximations)."""
    ids, vectors = stored_vectors(index)
    return build(kind, ids, vectors, index.d)
