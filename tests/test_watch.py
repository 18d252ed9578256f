"""Watch lists: the file format, alerts on a watched sample photo only, and webhook delivery."""

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
from typer.testing import CliRunner

from platesearch.cli.main import app
from platesearch.datasets import load_dataset
from platesearch.plates import PlateTextError
from platesearch.watch import Alert, Webhook, read_watch_list


def test_watch_list_file(tmp_path):
    path = tmp_path / "plates.txt"
    path.write_text("# hotlist\naa 5149-ek\n\nAB?12*   # a partial one\n")
    assert read_watch_list(path) == ["AA5149EK", "AB?12*"]
    path.write_text("AA5149EK\nAB@1\n")
    with pytest.raises(PlateTextError, match="line 2"):
        read_watch_list(path)
    path.write_text("# nothing\n")
    with pytest.raises(PlateTextError, match="no plates"):
        read_watch_list(path)


@pytest.mark.slow
def test_watch_once_alerts_on_the_watched_photo_only(tmp_path, sample):
    items = {item.path.name: item for item in load_dataset(sample / "photos").items}
    watched = items["eu-test_008.jpg"]
    folder = tmp_path / "incoming"
    folder.mkdir()
    for name in ("eu-test_008.jpg", "eu-test_012.jpg", "eu-test_023.jpg"):
        shutil.copy(items[name].path, folder / name)
    plates = tmp_path / "plates.txt"
    plates.write_text(f"{watched.plate}\nZZ999ZZ\n")
    command = ["watch", str(folder), "--index", str(tmp_path / "index"), "--plates", str(plates), "--once"]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    alerts = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(a["plate"], a["path"]) for a in alerts] == [(watched.plate, str(folder / "eu-test_008.jpg"))]
    assert {"plate", "path", "score", "box", "reading", "time", "taken_at"} <= set(alerts[0])
    assert alerts[0]["taken_at"] is not None
    again = CliRunner().invoke(app, command)  # nothing new: no alert twice
    assert again.exit_code == 0 and not [line for line in again.stdout.splitlines() if line.startswith("{")]


def test_webhook_delivers_each_alert_as_json_and_retries(tmp_path):
    received, attempts = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the standard library's name
            attempts.append(1)
            if len(attempts) == 1:  # the first attempt fails: the alert is sent again
                self.send_response(503)
                self.end_headers()
                return
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    failures: list[str] = []
    hook = Webhook(f"http://127.0.0.1:{server.server_port}/alerts", failures.append)
    alert = Alert("AA5149EK", "/photos/a.jpg", 0.97, (1, 2, 3, 4), "AA5149EK", None)
    hook.send(alert)
    hook.close()
    server.shutdown()
    assert received == [alert.to_json()] and len(attempts) == 2 and not failures


def test_an_unreachable_webhook_is_reported_not_fatal():
    failures: list[str] = []
    hook = Webhook("http://127.0.0.1:9/none", failures.append)
    hook.send(Alert("AA5149EK", "/photos/a.jpg", 0.9, (0, 0, 1, 1), None, None))
    hook.close()
    assert len(failures) == 1 and "webhook" in failures[0]


@pytest.mark.slow
def test_a_video_sighting_alerts_once_with_its_best_frame(tmp_path, sample):
    """Three frames of one passing plate and a second pass later: two alerts, each saying when."""
    from platesearch.catalog import PhotoRow
    from platesearch.pipeline import PlateIndex
    from platesearch.records import CropRow, Sighting
    from platesearch.watch import alerts_for

    video = str(sample / "video" / "constructed.mp4")
    first_pass, second_pass = Sighting(0, 6.0, 7.0), Sighting(1, 40.0, 40.5)
    readings = [("HPM9362", 6.0, first_pass), ("HPM9362", 6.5, first_pass), ("HPM936", 7.0, first_pass)]
    readings += [("HPM9362", 40.0, second_pass), ("HPM9362", 40.5, second_pass)]
    with PlateIndex.create(tmp_path / "index") as plate_index:
        rows = [CropRow((0, 0, 10, 5), text, 0.9, time, sighting) for text, time, sighting in readings]
        vectors = np.stack([plate_index.embed_plate("HPM9362")] * len(rows))
        plate_index.store.add_batch([PhotoRow(video, "1" * 64, 1, 0.0, rows)], vectors, [], {})
        alerts = alerts_for(plate_index, [video], ["HPM9362"], "exact", 0.0)
    assert sorted((a.first, a.last) for a in alerts) == [(6.0, 7.0), (40.0, 40.5)]
    assert all(a.first <= a.video_time <= a.last and a.reading == "HPM9362" for a in alerts)
