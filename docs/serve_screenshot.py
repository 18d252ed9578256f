"""docs/serve.png: the search page of `platesearch serve` over the bundled sample, in headless Chromium.

Run: .venv/bin/python docs/serve_screenshot.py  (needs Debian's chromium; indexes the sample into a temporary folder)
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from platesearch.config import sample_dir
from platesearch.pipeline import PlateIndex
from platesearch.server import IndexReader, create_app

OUT = Path(__file__).resolve().parent / "serve.png"
QUERY = "LM298AI"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with PlateIndex.create(Path(tmp) / "index") as writer:
            writer.add([sample_dir() / "crops" / "images"], crops=True)
            writer.add([sample_dir() / "photos" / "images"])
        with PlateIndex.open(Path(tmp) / "index") as plate_index:
            server = uvicorn.Server(
                uvicorn.Config(create_app(IndexReader(plate_index)), port=8765, log_level="warning")
            )
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.05)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1100, "height": 900})
                page.goto(f"http://127.0.0.1:8765/?q={QUERY}")
                page.wait_for_function(
                    "document.querySelectorAll('.card').length > 0 && [document.getElementById('render'),"
                    " ...document.querySelectorAll('.card img')].every(i => i.src && i.complete && i.naturalWidth > 0)"
                )
                page.screenshot(path=str(OUT))
                browser.close()
            server.should_exit = True
            thread.join()
    print(OUT)


if __name__ == "__main__":
    main()
