"""Fuzzing the store: damaged index files and odd file names either work or give one clear error."""

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platesearch.catalog import PhotoRow
from platesearch.media import iter_image_files
from platesearch.records import CropRow
from platesearch.store import CATALOG, MANIFEST, VECTORS, IndexManifest, IndexStore, IndexStoreError

DIM = 4
MANIFEST_OF_TEST = IndexManifest("0" * 64, DIM, "test")


def _good_index(directory: Path) -> None:
    store = IndexStore.create_or_open(directory, MANIFEST_OF_TEST)
    vectors = np.eye(DIM, dtype=np.float32)[:3]
    rows = [PhotoRow(f"/p/{i}.jpg", f"{i:064x}", 1, 0.0, [CropRow((0, 0, 4, 2), "AB123")]) for i in range(3)]
    store.add_batch(rows, vectors, [], {})
    store.close()


TEMPLATE = Path(tempfile.mkdtemp(prefix="platesearch-fuzz-")) / "index"
_good_index(TEMPLATE)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from([MANIFEST, CATALOG, VECTORS]),
    cut=st.floats(0, 1),
    noise=st.binary(max_size=64),
    offset=st.floats(0, 1),
)
def test_a_damaged_file_opens_or_raises_one_clear_error(tmp_path, name, cut, noise, offset):
    directory = tmp_path / f"index-{os.urandom(4).hex()}"
    shutil.copytree(TEMPLATE, directory)
    data = (directory / name).read_bytes()
    at = int(offset * len(data))
    damaged = (data[:at] + noise + data[at + len(noise) :])[: max(1, int(cut * len(data)))]
    (directory / name).write_bytes(damaged)
    for open_store in (
        lambda: IndexStore.open_readonly(directory, MANIFEST_OF_TEST),
        lambda: IndexStore.create_or_open(directory, MANIFEST_OF_TEST),
    ):
        try:
            store = open_store()
        except IndexStoreError:
            continue
        store.search(np.eye(DIM, dtype=np.float32)[:1], 3)  # what opened answers, without crashing
        store.close()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(
        st.binary(min_size=1, max_size=12).filter(
            lambda b: b"/" not in b and b"\x00" not in b and b not in (b".", b"..")
        ),
        min_size=1,
        max_size=5,
        unique=True,
    )
)
def test_any_file_name_is_listed_or_reported(tmp_path, names):
    folder = tmp_path / f"f-{os.urandom(4).hex()}"
    folder.mkdir()
    for name in names:
        with open(os.path.join(os.fsencode(folder), name + b".png"), "wb") as handle:
            handle.write(b"x")
    unreadable: list[tuple[str, str]] = []
    listed = list(iter_image_files([folder], unreadable))
    assert len(listed) + len(unreadable) == len(names)
    for path in listed:
        str(path).encode("utf-8")  # what is listed, the catalog can store


def test_a_vectors_file_whose_header_claims_too_much_memory_is_reported_as_damaged(tmp_path, monkeypatch):
    """Found by the fuzz test above: eight damaged bytes made FAISS raise std::bad_alloc."""
    import faiss

    from platesearch.verify import verify_index

    directory = tmp_path / "index"
    shutil.copytree(TEMPLATE, directory)

    def bad_alloc(path):
        raise MemoryError("std::bad_alloc")

    monkeypatch.setattr(faiss, "read_index", bad_alloc)
    with pytest.raises(IndexStoreError, match="damaged .*more memory than there is"):
        IndexStore.open_readonly(directory, MANIFEST_OF_TEST)
    report = verify_index(directory)
    assert any("vectors.faiss cannot be read (it asks for more memory" in problem for problem in report.problems)
