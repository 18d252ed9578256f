"""The catalog reads indexes written before its added columns, and gives them the columns on a write."""

import sqlite3

from platesearch.catalog import ADDED_COLUMNS, SCHEMA, Catalog, PhotoRow
from platesearch.records import CropRow, Sighting


def test_an_index_from_the_first_release_is_read_then_upgraded_on_its_first_write(tmp_path):
    path = tmp_path / "catalog.sqlite"
    old = sqlite3.connect(path)
    old.executescript(SCHEMA)  # the first release's tables: none of the added columns
    old.execute("INSERT INTO photos (id, path, indexed_at, status) VALUES (1, '/old.jpg', 0, 'ok')")
    old.execute("INSERT INTO crops (id, photo_id, x, y, w, h, ocr_text) VALUES (7, 1, 1, 2, 3, 4, 'AB1234')")
    old.commit()
    old.close()

    reader = Catalog(path, writable=False)
    (crop,) = reader.crops([7]).values()
    assert crop.photo_path == "/old.jpg" and crop.taken_at is None and crop.time is None and crop.sighting is None
    reader.close()

    writer = Catalog(path, writable=True)
    for table, added in ADDED_COLUMNS.items():
        assert set(added) <= writer._columns(table)
    video = PhotoRow("/street.mp4", "1" * 64, 1, 0.0, [CropRow((0, 0, 9, 3), "XY98", 0.5, 2.5, Sighting(0, 2.0, 3.0))])
    writer.add([video], [8], [], now=1.0)
    stored = writer.crops([7, 8])
    assert stored[8].time == 2.5 and stored[8].sighting == Sighting(0, 2.0, 3.0) and stored[7].sighting is None
    writer.close()
