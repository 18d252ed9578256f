"""`platesearch serve`: the JSON API on the bundled sample (test client) and the page in headless Chromium."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from platesearch.cli.main import app as cli
from platesearch.datasets import load_dataset
from platesearch.pipeline import PlateIndex
from platesearch.server import CROP_MARGIN, MAX_K, IndexReader, create_app, is_loopback

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def sample_index(sample_crops_index):
    """The sample crops, read by OCR (conftest's index, shared with test_pipeline)."""
    return sample_crops_index


@pytest.fixture(scope="module")
def client(sample_index):
    with PlateIndex.open(sample_index) as plate_index:
        yield TestClient(create_app(IndexReader(plate_index)))


def first_crop(sample: Path):
    return load_dataset(sample / "crops").items[0]


def test_search_returns_the_rows_of_query_json(client, sample_index, sample):
    item = first_crop(sample)
    response = client.get("/api/search", params={"q": item.plate, "k": 3})
    assert response.status_code == 200
    rows = response.json()
    cli_rows = json.loads(CliRunner().invoke(cli, ["query", item.plate, "--index", str(sample_index), "--json"]).stdout)
    assert [{k: v for k, v in row.items() if k != "crop_id"} for row in rows] == cli_rows
    assert rows[0]["path"] == str(item.path.absolute()) and all(isinstance(row["crop_id"], int) for row in rows)
    assert client.get("/api/search", params={"q": item.plate, "until": "2000-01-01"}).json() == []


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "AB#12"},
        {"q": "A" * 13},
        {"q": "AB1234", "k": 0},
        {"q": "AB1234", "k": MAX_K + 1},
        {"q": "AB1234", "k": "many"},
        {"q": "AB1234", "method": "cosine"},
        {"q": "AB1234", "since": "last week"},
        {"q": "AB1234", "since": "2026-03-02", "until": "2026-03-01"},
        {},
    ],
)
def test_bad_searches_are_400_with_an_error(client, params):
    response = client.get("/api/search", params=params)
    assert response.status_code == 400 and isinstance(response.json()["error"], str) and response.json()["error"]


def test_stats(client):
    stats = client.get("/api/stats").json()
    assert stats["photos"] == 30 and stats["crops"] == stats["vectors"] == 30 and stats["failures"] == []


def test_images_of_a_result_are_served_by_crop_id(client, sample):
    crop_id = client.get("/api/search", params={"q": first_crop(sample).plate, "k": 1}).json()[0]["crop_id"]
    crop = client.get(f"/api/crops/{crop_id}.png")
    photo = client.get(f"/api/photos/{crop_id}.jpg")
    assert crop.status_code == 200 and crop.headers["content-type"] == "image/png" and crop.content[:4] == b"\x89PNG"
    assert (
        photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg" and photo.content[:2] == b"\xff\xd8"
    )
    render = client.get("/api/render", params={"q": "AB1234"})
    assert render.status_code == 200 and render.content[:4] == b"\x89PNG"


def test_a_video_result_is_served_from_its_frame(tmp_path, sample):
    """A crop of a video: its images are cut from the frame at the crop's time, and its row says when."""
    import cv2
    import numpy as np

    from platesearch.catalog import PhotoRow
    from platesearch.records import CropRow, Sighting
    from platesearch.video import read_frame

    video = sample / "video" / "constructed.mp4"
    box = (500, 500, 200, 60)
    with PlateIndex.create(tmp_path / "index") as plate_index:
        row = CropRow(box, "HPM9362", 0.9, 7.5, Sighting(0, 6.0, 8.5))
        vector = plate_index.embed_plate("HPM9362")
        plate_index.store.add_batch([PhotoRow(str(video), "1" * 64, 1, 0.0, [row])], vector[None], [], {})
    with PlateIndex.open(tmp_path / "index") as plate_index:
        video_client = TestClient(create_app(IndexReader(plate_index)))
        (result,) = video_client.get("/api/search", params={"q": "HPM9362", "k": 1}).json()
        assert (result["time"], result["first"], result["last"]) == (7.5, 6.0, 8.5)
        crop = video_client.get(f"/api/crops/{result['crop_id']}.png")
        served = cv2.imdecode(np.frombuffer(crop.content, np.uint8), cv2.IMREAD_COLOR)
        x, y, w, h = box
        margin = int(CROP_MARGIN * h)
        expected = read_frame(video, 7.5)[y - margin : y + h + margin, x - margin : x + w + margin]
        assert served.shape == expected.shape and np.abs(served.astype(int) - expected).mean() < 1.0
        assert video_client.get(f"/api/photos/{result['crop_id']}.jpg").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/api/crops/999999.png",
        "/api/photos/-1.jpg",
        "/api/crops/..%2F..%2F..%2Fetc%2Fpasswd.png",
        "/api/photos/%2Fetc%2Fpasswd.jpg",
        "/assets/..%2Fserver.py",
        "/assets/",
        "/assets/index.html.bak",
        "/etc/passwd",
        "/api/",
    ],
)
def test_nothing_but_indexed_crops_and_the_page_assets_is_served(client, url):
    response = client.get(url)
    assert response.status_code == 404, url
    assert b"root:" not in response.content


def test_page_and_assets(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="plate"' in page.text and "http" not in page.text.replace('"http-equiv', "")
    for name, kind in (("app.js", "javascript"), ("style.css", "css")):
        response = client.get(f"/assets/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
    assert client.get("/api/openapi.json").json()["paths"].keys() >= {"/api/search", "/api/stats"}


def test_a_token_guards_the_api(sample_index):
    with PlateIndex.open(sample_index) as plate_index:
        guarded = TestClient(create_app(IndexReader(plate_index), token="s3cret"))
        assert guarded.get("/api/stats").status_code == 401
        assert guarded.get("/api/stats", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert guarded.get("/api/stats", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert guarded.get("/api/health").status_code == 200 and guarded.get("/").status_code == 200


def test_a_running_server_sees_what_a_writer_commits(tmp_path, sample):
    images = sorted((sample / "crops" / "images").iterdir())
    directory = tmp_path / "index"
    with PlateIndex.create(directory) as writer:
        writer.add(images[:5], crops=True, ocr=False)
    with PlateIndex.open(directory) as reader:
        client = TestClient(create_app(IndexReader(reader)))
        assert client.get("/api/stats").json()["photos"] == 5
        with PlateIndex.create(directory) as writer:
            writer.add(images[5:8], crops=True, ocr=False)
        assert client.get("/api/stats").json()["photos"] == 8
        plate = next(i.plate for i in load_dataset(sample / "crops").items if i.path.name == images[6].name)
        found = client.get("/api/search", params={"q": plate, "k": 8, "method": "embedding"}).json()
        assert str(images[6]) in [row["path"] for row in found]


def test_only_loopback_counts_as_local():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and not is_loopback("0.0.0.0")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install -y chromium; .ci/run does)")
def test_the_page_in_headless_chromium(sample_index, sample, tmp_path):
    import uvicorn
    from playwright.sync_api import sync_playwright

    item = first_crop(sample)
    port = free_port()
    with PlateIndex.open(sample_index) as plate_index:
        server = uvicorn.Server(
            uvicorn.Config(create_app(IndexReader(plate_index)), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.time() + 30
            while not server.started and time.time() < deadline:
                time.sleep(0.05)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM,
                    args=[
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-background-networking",
                        "--disable-component-update",
                    ],
                )
                page = browser.new_page(viewport={"width": 420, "height": 900})  # a phone's width
                page.goto(f"http://127.0.0.1:{port}/")
                page.keyboard.type(item.plate.lower())  # the box has the focus
                page.keyboard.press("Enter")
                page.wait_for_selector(".card .path")
                first = page.locator(".card").first
                assert first.locator(".path").inner_text() == str(item.path.absolute())
                page.wait_for_function(
                    "document.querySelectorAll('.card img.crop[src], .card img.photo[src]').length >= 2"
                )
                page.wait_for_function(
                    "[...document.querySelectorAll('.card:first-child img')].every(i => i.complete && i.naturalWidth > 0)"
                )
                assert page.locator("#render").evaluate(
                    "i => i.complete && i.naturalWidth > 0 || new Promise(r => i.onload = () => r(i.naturalWidth > 0))"
                )
                page.screenshot(path=str(tmp_path / "page.png"))
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@pytest.mark.parametrize("host,warned", [("127.0.0.1", False), ("0.0.0.0", True)])
def test_serve_warns_when_it_listens_beyond_this_machine(monkeypatch, sample_index, host, warned):
    import platesearch.server

    started = []
    monkeypatch.setattr(platesearch.server, "serve", lambda *args: started.append(args))
    result = CliRunner().invoke(cli, ["serve", "--index", str(sample_index), "--host", host, "--token", "t"])
    assert result.exit_code == 0 and started and started[0][1:] == (host, 8000, "t", 1)
    assert ("warning: listening on 0.0.0.0" in result.output) == warned


def test_serve_with_two_workers_answers_from_two_reader_processes_as_one_does(sample_index, sample, client):
    import httpx

    port = free_port()
    command = [sys.executable, "-m", "platesearch", "serve", "--index", str(sample_index), "--port", str(port)]
    server = subprocess.Popen([*command, "--workers", "2", "--token", "secret"], stderr=subprocess.PIPE, text=True)
    url, auth = f"http://127.0.0.1:{port}", {"Authorization": "Bearer secret"}
    health, readers = None, []
    try:
        deadline = time.time() + 180
        while time.time() < deadline and server.poll() is None:
            try:
                health = httpx.get(f"{url}/api/health").json()
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert server.poll() is None, server.stderr.read()
        assert health is not None, "the two-worker server did not answer /api/health within 180 s"
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        readers = health["readers"]
        assert health["pid"] == server.pid and len(set(readers)) == 2 and set(map(str, readers)) <= set(children)
        plates = [item.plate for item in load_dataset(sample / "crops").items[:4]]
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda p: httpx.get(f"{url}/api/search", params={"q": p}, headers=auth), plates))
        expected = [client.get("/api/search", params={"q": p}).json() for p in plates]
        # served with the readings in memory and TensorFlow Lite: the same rows, scores within float rounding
        unscored = lambda rows: [{key: v for key, v in row.items() if key != "score"} for row in rows]  # noqa: E731
        assert [unscored(a.json()) for a in answers] == [unscored(rows) for rows in expected]
        scores = lambda rows: [row["score"] for row in rows]  # noqa: E731
        assert all(
            scores(a.json()) == pytest.approx(scores(e), abs=1e-5) for a, e in zip(answers, expected, strict=True)
        )
        assert httpx.get(f"{url}/api/search", params={"q": plates[0]}).status_code == 401
        refused = httpx.get(f"{url}/api/search", params={"q": "!!"}, headers=auth)  # refused in a reader process
        assert refused.status_code == 400 and "error" in refused.json()
        assert httpx.get(f"{url}/api/crops/12345.png", headers=auth).status_code == 404
        assert httpx.get(f"{url}/api/stats", headers=auth).json()["crops"] == client.get("/api/stats").json()["crops"]
        crop_id = answers[0].json()[0]["crop_id"]
        assert httpx.get(f"{url}/api/crops/{crop_id}.png", headers=auth).headers["content-type"] == "image/png"
        os.kill(readers[0], signal.SIGKILL)  # a reader dies (out of memory, say): the pool starts again
        statuses, deadline = [], time.time() + 120
        while time.time() < deadline and set(readers) & set(health["readers"]):
            # under load the pool may notice the death only after the live reader answered a search or two
            statuses.append(httpx.get(f"{url}/api/search", params={"q": plates[0]}, headers=auth, timeout=180))
            readers = httpx.get(f"{url}/api/health").json()["readers"]
        assert statuses and {s.status_code for s in statuses} <= {200, 503}
        assert len(readers) == 2 and not set(readers) & set(health["readers"]), "the pool never started again"
        after = httpx.get(f"{url}/api/search", params={"q": plates[0]}, headers=auth, timeout=180)
        assert after.json() == answers[0].json()  # the new readers answer as the old ones did
    finally:
        server.terminate()
        server.wait(timeout=30)
    deadline = time.time() + 30
    while time.time() < deadline and any(_running(pid) for pid in readers):
        time.sleep(0.2)
    assert not any(_running(pid) for pid in readers)  # the readers leave with a server stopped by a signal


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
