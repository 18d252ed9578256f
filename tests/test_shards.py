"""An index in shards (`shards.py`): the same answers as one shard, bounded commits, compaction.
Hand-built photos and a fake embedder: no TensorFlow, no EasyOCR."""

import hashlib
import json
from dataclasses import replace

import numpy as np
import pytest

from platesearch import store as store_module
from platesearch.catalog import PhotoRow
from platesearch.pipeline import INDEX_PREPROCESSING_VERSION, PlateIndex
from platesearch.records import CropRow
from platesearch.shards import ShardSet, shard_names
from platesearch.store import IndexManifest, read_manifest, segment_paths
from platesearch.verify import verify_index

DIM = 16
MANIFEST = IndexManifest("0" * 64, DIM, INDEX_PREPROCESSING_VERSION)


def unit_vector(seed: bytes) -> np.ndarray:
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest()[:8], "little"))
    vector = rng.normal(size=DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


class FakeEmbedder:
    """A query render's vector from its pixels' hash."""

    model_id = MANIFEST.model_sha256
    dim = DIM

    def embed(self, images: np.ndarray) -> np.ndarray:
        return np.stack([unit_vector(image.tobytes()) for image in images])


def photos(count: int, seed: int = 0) -> list[tuple[PhotoRow, np.ndarray]]:
    """Photos of one to three crops each; crops of photo n read plate AB{n:04d}, sometimes with an error."""
    rng = np.random.default_rng(seed)
    made = []
    for n in range(count):
        crops = int(rng.integers(1, 4))
        readings = [f"AB{n:04d}" if rng.random() < 0.7 else f"AB{n:04d}"[:-1] + "8" for _ in range(crops)]
        rows = [CropRow((10 * c, 0, 50, 12), reading, 0.9) for c, reading in enumerate(readings)]
        vectors = np.stack([unit_vector(f"{seed}/{n}/{c}".encode()) for c in range(crops)])
        made.append((PhotoRow(f"/photos/{seed}-{n:03d}.jpg", f"{seed:032x}{n:032x}", 100, 0.0, rows), vectors))
    return made


def fill(shards: ShardSet, made: list[tuple[PhotoRow, np.ndarray]], per_batch: int = 10) -> list[int]:
    """Commit the photos in batches; returns the bytes each commit wrote through the store's file writes."""
    written = []
    for start in range(0, len(made), per_batch):
        batch = made[start : start + per_batch]
        before = sum(store_module.WRITTEN)
        shards.add_batch([p for p, _ in batch], np.concatenate([v for _, v in batch]), [], {})
        written.append(sum(store_module.WRITTEN) - before)
    return written


@pytest.fixture(autouse=True)
def count_writes(monkeypatch):
    """Every whole-file write of a store (vectors, manifest, shard list) is counted in store.WRITTEN."""
    store_module.WRITTEN = []
    original = store_module.atomic_write_bytes

    def counted(path, data):
        store_module.WRITTEN.append(len(data))
        original(path, data)

    monkeypatch.setattr(store_module, "atomic_write_bytes", counted)
    monkeypatch.setattr("platesearch.shards.atomic_write_bytes", counted)
    yield
    del store_module.WRITTEN


def ranking(plate_index: PlateIndex, plate: str, method: str) -> tuple[list[float], set[tuple[str, str | None]]]:
    """The top 5's scores, and the photos (with their reading) scoring above the fifth: equal
    scores may come in either order, and a tie at the fifth place may keep either photo."""
    results = plate_index.search(plate, k=5, method=method)
    scores = [round(r.score, 5) for r in results]
    return scores, {(r.path, r.reading) for r in results if round(r.score, 5) > scores[-1]}


QUERIES = ["AB0003", "AB0017", "AB0048", "AB0058", "AB0002", "XY9999", "AB00??", "*0017*"]


def test_sharded_search_equals_one_shard(tmp_path):
    made = photos(60)
    one = ShardSet.create_or_open(tmp_path / "one", MANIFEST)
    sharded = ShardSet.create_or_open(tmp_path / "sharded", MANIFEST, shard_crops=25)
    fill(one, made)
    fill(sharded, made)
    assert len(one.stores) == 1 and len(sharded.stores) >= 4
    assert sharded.stats()["crops"] == one.stats()["crops"] == sum(len(v) for _, v in made)
    with PlateIndex(one, FakeEmbedder()) as single, PlateIndex(sharded, FakeEmbedder()) as several:
        for plate in QUERIES:
            for method in ("embedding", "ocr", "hybrid"):
                assert ranking(several, plate, method) == ranking(single, plate, method), (plate, method)
        assert several.search("AB0017", k=5)[0].path == "/photos/0-017.jpg"  # the comparison is not of empties


def test_a_readers_view_holds_every_shard_and_refresh_sees_a_new_one(tmp_path):
    writer = ShardSet.create_or_open(tmp_path / "index", MANIFEST, shard_crops=25)
    fill(writer, photos(20))
    with PlateIndex.open(tmp_path / "index", FakeEmbedder()) as reader:
        shards_seen = len(reader.shards.stores)
        assert shards_seen == len(writer.stores) > 1
        assert reader.stats()["photos"] == 20 and reader.stats()["shards"] == shards_seen
        fill(writer, photos(20, seed=1))
        assert reader.refresh() and len(reader.shards.stores) > shards_seen
        assert reader.stats()["photos"] == 40
    writer.close()


def test_a_commit_writes_its_own_vectors_however_large_the_index(tmp_path):
    made = photos(1000)  # about 2,000 crops, committed 25 photos (about 50 crops) at a time
    one = ShardSet.create_or_open(tmp_path / "one", MANIFEST)
    writes = fill(one, made, 25)
    crops = sum(len(v) for _, v in made)
    assert crops > 1_800 and len(writes) == 40
    # The first commit writes the base; each later one a segment of its own ~50 crops (64 B each).
    assert len(segment_paths(tmp_path / "one")) == 39
    assert max(writes[1:]) < 4 * 50 * DIM * 4 < crops * DIM * 4 / 5
    assert max(writes[-10:]) <= 1.5 * max(writes[1:11])  # at ~2,000 crops as at ~100-500
    one.close()
    with PlateIndex.open(tmp_path / "one", FakeEmbedder()) as reader:  # the base and 39 segments read back
        assert reader.stats()["vectors"] == crops
        for photo, vectors in made[::97]:  # each photo's crops hold the vectors it was committed with
            crop_ids = sorted(reader.crops_of([photo.path]))
            cosines = [reader.cosine(vector, [crop_id])[0] for vector, crop_id in zip(vectors, crop_ids, strict=True)]
            assert cosines == pytest.approx([1.0] * len(vectors), abs=1e-5)


def test_every_max_segments_commits_the_base_takes_the_segments_in(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "MAX_SEGMENTS", 4)
    made = photos(100)
    one = ShardSet.create_or_open(tmp_path / "one", MANIFEST)
    writes = fill(one, made, 10)
    # commits 1 (base), 2-5 (segments 1-4), 6 (base again: all 60 photos' crops), 7-10 (segments)
    assert len(segment_paths(tmp_path / "one")) == 4
    assert writes[5] >= sum(len(v) for _, v in made[:60]) * DIM * 4 > 4 * max(writes[1:5])
    one.close()
    with PlateIndex.open(tmp_path / "one", FakeEmbedder()) as reader:
        assert reader.stats()["vectors"] == reader.stats()["crops"] == sum(len(v) for _, v in made)


def test_a_reader_opening_while_the_writer_takes_the_segments_in_sees_every_vector(tmp_path, monkeypatch):
    writer = ShardSet.create_or_open(tmp_path / "one", MANIFEST)
    fill(writer, photos(40), 10)  # the base and three segments
    assert len(segment_paths(tmp_path / "one")) == 3
    original, reads = store_module._read, []

    def read_then_consolidate(path):
        reads.append(path.name)
        index = original(path)
        if len(reads) == 1:  # the reader has the old base; the writer now replaces it and deletes the segments
            writer.writer._save_vectors()
        return index

    monkeypatch.setattr(store_module, "_read", read_then_consolidate)
    with PlateIndex.open(tmp_path / "one", FakeEmbedder()) as reader:
        assert reader.stats()["vectors"] == reader.stats()["crops"] == writer.stats()["crops"]
    assert reads.count("vectors.faiss") == 2 and segment_paths(tmp_path / "one") == []  # read again, whole
    writer.close()


def test_an_inverted_files_segments_stay_a_small_share_of_it(tmp_path):
    """Opening assigns segment vectors to IVF lists, which costs: they stay under SEGMENT_SHARE."""
    made = photos(700)
    ivf = ShardSet.create_or_open(tmp_path / "ivf", replace(MANIFEST, vector_index="ivf"))
    fill(ivf, made[:500], 500)  # about 1,000 crops: an inverted file from the first commit
    kinds, shares = [], []
    for start in range(500, 700, 5):
        writes = fill(ivf, made[start : start + 5], 5)
        segments = segment_paths(tmp_path / "ivf")
        kinds.append("segment" if segments and writes[0] < 4 * 5 * 3 * DIM * 4 else "base")
        shares.append(sum(p.stat().st_size for p in segments) / (ivf.writer.vectors.ntotal * DIM * 4))
    assert ivf.writer.vectors.nlist > 1
    assert kinds.count("segment") > 20 and kinds.count("base") >= 2  # mostly segments, a rewrite now and then
    assert max(shares) <= store_module.SEGMENT_SHARE
    ivf.close()
    with PlateIndex.open(tmp_path / "ivf", FakeEmbedder()) as reader:
        assert reader.stats()["vectors"] == reader.stats()["crops"] == sum(len(v) for _, v in made)


def test_an_index_of_format_1_says_format_2_once_it_has_a_segment(tmp_path):
    """Readers that predate segments would miss their vectors: the manifest tells them to upgrade."""
    old = ShardSet.create_or_open(tmp_path / "old", replace(MANIFEST, format_version=1))
    fill(old, photos(10), 10)  # the base only: still readable by format 1
    assert json.loads((tmp_path / "old" / "manifest.json").read_text())["format_version"] == 1
    fill(old, photos(10, seed=1), 10)
    assert segment_paths(tmp_path / "old") and read_manifest(tmp_path / "old").format_version == 2
    old.close()


def test_a_crop_id_stored_twice_keeps_its_newest_vector(tmp_path):
    """Removing the newest photo frees its crop ids for the next commit: the stale vector in an
    earlier file must lose to the new one on reopening."""
    made = photos(12)
    one = ShardSet.create_or_open(tmp_path / "one", MANIFEST)
    fill(one, made[:10], 5)
    last, _ = made[9]
    one.writer.remove([last.path])
    replacement = PhotoRow("/photos/other.jpg", "e" * 64, 100, 0.0, last.crops[:1])
    one.add_batch([replacement], made[11][1][:1], [], {})
    one.close()
    with PlateIndex.open(tmp_path / "one", FakeEmbedder()) as reader:
        assert reader.stats()["vectors"] == reader.stats()["crops"]
        (crop_id,) = reader.crops_of(["/photos/other.jpg"])
        assert reader.cosine(made[11][1][0], [crop_id])[0] == pytest.approx(1.0, abs=1e-5)
    assert verify_index(tmp_path / "one").ok


def test_a_changed_file_moves_to_the_writers_shard_and_is_not_kept_twice(tmp_path):
    shards = ShardSet.create_or_open(tmp_path / "index", MANIFEST, shard_crops=25)
    made = photos(30)
    fill(shards, made)
    first = made[0][0]
    assert shards.known_file(first.path)[0] is shards.stores[0]
    changed = PhotoRow(first.path, "f" * 64, 200, 1.0, first.crops[:1])
    shards.add_batch([changed], made[0][1][:1], [], {})
    owner, known = shards.known_file(first.path)
    assert owner is shards.writer and known.size == 200
    assert sum(store.catalog.known_file(first.path) is not None for store in shards.stores) == 1
    assert shards.stats()["photos"] == 30
    shards.close()


def test_compact_merges_every_shard_into_the_first_with_the_same_answers(tmp_path):
    directory = tmp_path / "index"
    shards = ShardSet.create_or_open(directory, MANIFEST, shard_crops=25)
    fill(shards, photos(40))
    with PlateIndex(shards, FakeEmbedder()) as plate_index:
        before = {plate: ranking(plate_index, plate, "hybrid") for plate in QUERIES}
        assert plate_index.compact() >= 3
        assert len(plate_index.shards.stores) == 1 and shard_names(directory) == []
        assert not (directory / "shards").exists() or not any((directory / "shards").iterdir())
        assert {plate: ranking(plate_index, plate, "hybrid") for plate in QUERIES} == before
        assert plate_index.stats()["photos"] == 40
    with PlateIndex.open(directory, FakeEmbedder()) as reopened:
        assert {plate: ranking(reopened, plate, "hybrid") for plate in QUERIES} == before
    assert verify_index(directory).ok


def test_verify_checks_every_shard(tmp_path):
    directory = tmp_path / "index"
    shards = ShardSet.create_or_open(directory, MANIFEST, shard_crops=25)
    fill(shards, photos(30))
    shards.close()
    assert verify_index(directory).ok
    (directory / "shards" / shard_names(directory)[0] / "vectors.faiss").unlink()
    report = verify_index(directory)
    assert not report.ok and any(line.startswith("shard 0001:") for line in report.problems)
    (directory / "shards.json").write_text(json.dumps({"shards": ["../x"]}))
    assert any("shards.json is damaged" in line for line in verify_index(directory).problems)


@pytest.mark.slow
def test_cli_index_in_shards_then_compact(tmp_path, sample):
    from typer.testing import CliRunner

    from platesearch.cli.main import app

    crops, directory = sample / "crops" / "images", tmp_path / "index"
    runner = CliRunner()
    indexed = runner.invoke(app, ["index", str(crops), "--index", str(directory), "--crops", "--no-ocr"])
    assert indexed.exit_code == 0, indexed.output
    sharded_dir = tmp_path / "sharded"
    files = sorted(map(str, crops.iterdir()))
    for part in (files[:10], files[10:20], files[20:]):  # one commit each: a new shard once the last holds 8
        arguments = ["index", *part, "--index", str(sharded_dir), "--crops", "--no-ocr", "--shard-crops", "8"]
        assert runner.invoke(app, arguments).exit_code == 0
    assert len(shard_names(sharded_dir)) == 2
    stats = runner.invoke(app, ["stats", "--index", str(sharded_dir)]).output
    assert "photos: 30" in stats and f"shards: {len(shard_names(sharded_dir)) + 1}" in stats

    def answers(index_dir):
        result = runner.invoke(app, ["query", "--index", str(index_dir), "9A9990A", "--json", "-k", "5"])
        assert result.exit_code == 0, result.output
        return [(row["path"], round(row["score"], 4)) for row in json.loads(result.stdout)]

    expected = answers(directory)
    assert answers(sharded_dir) == expected
    compacted = runner.invoke(app, ["compact", "--index", str(sharded_dir)])
    assert compacted.exit_code == 0 and "merged" in compacted.output
    assert shard_names(sharded_dir) == [] and answers(sharded_dir) == expected
