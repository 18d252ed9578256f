"""The FAISS side of an index: exact search for small collections, IVF for large ones, and
IVF with 8-bit scalar-quantized vectors (a third of the memory) for the largest.

Every kind is keyed by crop id, supports adding and removing by id, and gives back every
stored vector (IVF-SQ8: its approximation), so converting one kind into another needs
neither the photos nor the model. Chosen by measurement (BENCHMARKS.md): exact inner-product
search grows linearly (about 90 ms per query at 1M crops on 2 cores), while an inverted-file
index over the same vectors answers in about 1 ms with recall@10 above 0.99. 8-bit codes
alone reorder near ties (recall@10 0.97: a plate's sightings differ by less than one code
step), so IVF-SQ8 keeps a 2-bit code of each vector's rounding error beside them and re-ranks
its candidates with it (`RefinedIVFSQ8`). HNSW was measured too and left out: it cannot remove
vectors, which re-indexing changed photos and `remove` need.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager

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
# IVF-SQ8's refinement (`RefinedIVFSQ8`): each dimension's 8-bit rounding error, in 2 bits over
# +-REFINE_HALF_RANGE_QUANTILE of its size; CANDIDATES_PER_RESULT x k candidates re-ranked.
# Measured on simulated 200k and 1M crops (BENCHMARKS.md "Compressed vectors").
REFINE_BITS = 2
REFINE_HALF_RANGE_QUANTILE = 0.995
CANDIDATES_PER_RESULT = 4
MIN_CANDIDATES = 40
_ZIP_MAGIC = b"PK\x03\x04"  # a refined index is saved as an .npz; a FAISS file never starts so


class RefinedIVFSQ8:
    """IVF-SQ8 whose candidates are re-ranked with a 2-bit code of each vector's 8-bit rounding error.

    FAISS scores a candidate as the query's inner product with the decoded vector; adding the
    query's inner product with the decoded error code gives the score of a 10-bit approximation
    for 64 more bytes a crop (256 dimensions). The codes live in numpy arrays sorted by crop id.
    It answers the calls the store and search make of a FAISS index.
    """

    def __init__(self, ivf: faiss.IndexIVFScalarQuantizer, half_range: np.ndarray) -> None:
        self.ivf = ivf
        self.half_range = np.asarray(half_range, np.float32)
        self.ids = np.zeros(0, np.int64)
        self.codes = np.zeros((0, _packed_width(ivf.d)), np.uint8)

    @property
    def d(self) -> int:
        return self.ivf.d

    @property
    def ntotal(self) -> int:
        return self.ivf.ntotal

    @property
    def nlist(self) -> int:
        return self.ivf.nlist

    @property
    def nprobe(self) -> int:
        return self.ivf.nprobe

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        self.ivf.nprobe = value

    def add_with_ids(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        self.ivf.add_with_ids(vectors, ids)
        self._keep_codes(ids, vectors - self.ivf.reconstruct_batch(ids))

    def _keep_codes(self, ids: np.ndarray, errors: np.ndarray) -> None:
        codes = _encode(errors, self.half_range)
        order = np.argsort(ids, kind="stable")
        ids, codes = ids[order], codes[order]
        if len(self.ids) and ids[0] <= self.ids[-1]:  # not only new, larger ids (a commit's usual case)
            keep = ~np.isin(self.ids, ids)  # an id added again: its new code replaces the old one
            ids, codes = np.concatenate([self.ids[keep], ids]), np.concatenate([self.codes[keep], codes])
            order = np.argsort(ids, kind="stable")
            self.ids, self.codes = ids[order], codes[order]
        else:
            self.ids, self.codes = np.concatenate([self.ids, ids]), np.concatenate([self.codes, codes])

    def remove_ids(self, ids: np.ndarray) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        removed = self.ivf.remove_ids(ids)
        if not len(self.ids):
            return removed
        rows = np.searchsorted(self.ids, ids)
        rows = rows[(rows < len(self.ids)) & (self.ids[np.minimum(rows, len(self.ids) - 1)] == ids)]
        self.ids, self.codes = np.delete(self.ids, rows), np.delete(self.codes, rows, axis=0)
        return removed

    def _errors(self, ids: np.ndarray) -> np.ndarray:
        """The decoded rounding errors of stored ids, float32 [..., d]."""
        rows = np.searchsorted(self.ids, ids)
        return _decode(self.codes[rows], self.half_range, self.d)

    def reconstruct(self, crop_id: int) -> np.ndarray:
        return self.ivf.reconstruct(crop_id) + self._errors(np.array([crop_id]))[0]

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, np.int64)
        return self.ivf.reconstruct_batch(ids) + self._errors(ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if not len(self.ids):
            return self.ivf.search(queries, k)
        scores, ids = self.ivf.search(queries, max(k, min(self.ntotal, max(CANDIDATES_PER_RESULT * k, MIN_CANDIDATES))))
        found = ids >= 0
        errors = self._errors(np.where(found, ids, self.ids[0]))
        refined = np.where(found, scores + np.einsum("qkd,qd->qk", errors, queries), -np.inf)
        order = np.argsort(-refined, axis=1, kind="stable")[:, :k]
        best = np.take_along_axis(refined, order, axis=1).astype(np.float32)
        best_ids = np.take_along_axis(np.where(found, ids, -1), order, axis=1)
        return np.where(np.isfinite(best), best, np.float32(-np.finfo(np.float32).max)), best_ids

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        ivf = faiss.serialize_index(self.ivf)
        np.savez(buffer, ivf=ivf, half_range=self.half_range, ids=self.ids, codes=self.codes)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> RefinedIVFSQ8:
        arrays = np.load(io.BytesIO(data))
        index = cls(faiss.deserialize_index(arrays["ivf"]), arrays["half_range"])
        index.ids, index.codes = arrays["ids"], arrays["codes"]
        return index


_LEVELS = 2**REFINE_BITS
_PER_BYTE = 8 // REFINE_BITS
# A byte's REFINE_BITS-bit levels as fractions of the half range: the centres of _LEVELS equal bins.
_UNPACK = (((np.arange(256)[:, None] >> (REFINE_BITS * np.arange(_PER_BYTE))) & (_LEVELS - 1)) + 0.5) * 2 / _LEVELS - 1
_UNPACK = _UNPACK.astype(np.float32)


@contextmanager
def one_thread() -> Iterator[None]:
    """FAISS's OpenMP pool at one thread meanwhile (a query's search).

    A query of one vector gains nothing from more, and a pool's idle threads spin-wait on the
    cores the model needs next: over a small index, a query beside TensorFlow cost 17-19 ms of
    CPU with FAISS's default pool, 10-12 with one thread (BENCHMARKS.md "Serving"). Building
    and converting keep the pool.
    """
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


def _packed_width(dim: int) -> int:
    return -(-dim // _PER_BYTE)


def _encode(errors: np.ndarray, half_range: np.ndarray) -> np.ndarray:
    """Each error as a REFINE_BITS-bit level of [-half_range, half_range], packed _PER_BYTE to a byte."""
    levels = np.clip(np.floor((errors / half_range + 1) / 2 * _LEVELS), 0, _LEVELS - 1).astype(np.uint8)
    width = _packed_width(errors.shape[1])
    levels = np.pad(levels, ((0, 0), (0, width * _PER_BYTE - errors.shape[1])))
    shifts = (REFINE_BITS * np.arange(_PER_BYTE)).astype(np.uint8)
    return np.bitwise_or.reduce(levels.reshape(len(levels), width, _PER_BYTE) << shifts, axis=2).astype(np.uint8)


def _decode(codes: np.ndarray, half_range: np.ndarray, dim: int) -> np.ndarray:
    levels = _UNPACK[codes].reshape(*codes.shape[:-1], -1)[..., :dim]
    return levels * half_range


def serialize(index: faiss.Index | RefinedIVFSQ8) -> bytes:
    """The bytes of an index file (`read` reads them back)."""
    if isinstance(index, RefinedIVFSQ8):
        return index.to_bytes()
    return faiss.serialize_index(index).tobytes()


def read(path: str) -> faiss.Index | RefinedIVFSQ8:
    """An index file, or RuntimeError. A damaged header can claim an absurd size: FAISS's
    std::bad_alloc (Python's MemoryError) is then reported as the file's fault, like its other errors."""
    try:
        with open(path, "rb") as file:
            refined = file.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC
    except OSError as error:
        raise RuntimeError(f"cannot read {path}: {error.strerror}") from None
    try:
        return _read_refined(path) if refined else faiss.read_index(path)
    except MemoryError:
        raise RuntimeError(
            "it asks for more memory than there is (a damaged file, or an index larger than this machine's memory)"
        ) from None


def _read_refined(path: str) -> RefinedIVFSQ8:
    try:
        with open(path, "rb") as file:
            return RefinedIVFSQ8.from_bytes(file.read())
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile, RuntimeError) as error:  # truncated, damaged
        raise RuntimeError(f"damaged refined IVF-SQ8 file: {error}") from None


def new_exact(dim: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def kind_of(index: faiss.Index | RefinedIVFSQ8) -> str:
    if isinstance(index, RefinedIVFSQ8 | faiss.IndexIVFScalarQuantizer):  # the latter: a file from before 2026-12-03
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
    if isinstance(index, faiss.IndexIVF | RefinedIVFSQ8):
        index.nprobe = min(IVF_NPROBE, index.nlist)
    return index


def stored_ids(index: faiss.Index) -> np.ndarray:
    if isinstance(index, RefinedIVFSQ8):
        return index.ids.copy()
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
        if kind == IVF_SQ8:
            return prepare_for_search(_refined(index, ids, vectors))
    else:
        raise ValueError(f"unknown vector index kind {kind!r}")
    if len(vectors):
        index.add_with_ids(vectors, ids)
    return prepare_for_search(index)


def _refined(ivf: faiss.IndexIVFScalarQuantizer, ids: np.ndarray, vectors: np.ndarray) -> RefinedIVFSQ8:
    """An IVF-SQ8 holding `vectors`, with its error codes' range set from their rounding errors."""
    ivf.add_with_ids(vectors, ids)
    errors = vectors - ivf.reconstruct_batch(ids)
    spread = np.quantile(np.abs(errors), REFINE_HALF_RANGE_QUANTILE, axis=0) if len(ids) else np.zeros(ivf.d)
    refined = RefinedIVFSQ8(ivf, np.maximum(spread, 1e-6))
    refined._keep_codes(ids, errors)
    return refined


def convert(index: faiss.Index, kind: str) -> faiss.Index:
    """The same vectors and ids in an index of `kind` (IVF: freshly trained; from IVF-SQ8, its
    approximations: 8-bit codes plus their error codes)."""
    ids, vectors = stored_vectors(index)
    return build(kind, ids, vectors, index.d)
