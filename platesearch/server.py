"""`platesearch serve`: long-running readers of an index behind a JSON API and a web page.

A reader (`IndexReader`) loads the model once and answers one call at a time (the model and
the catalog connection are shared); each call first picks up what a concurrent `platesearch
index` committed (`PlateIndex.refresh`). With one worker the reader runs in the server's
process; with more (`ReaderPool`) each runs in a process of its own, with its share of the
cores, and the server hands each call to whichever is idle (BENCHMARKS.md "Serving").
Images are served by crop id only, for crops in the index; a client never names a path.
"""

from __future__ import annotations

import asyncio
import hmac
import multiprocessing
import os
import queue
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from importlib import resources
from multiprocessing.queues import Queue
from pathlib import Path

import cv2
import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from platesearch.media import ImageReadError
from platesearch.model import PlateEmbedder
from platesearch.pipeline import PlateIndex
from platesearch.plates import PlateTextError
from platesearch.records import StoredCrop, TimeWindow
from platesearch.render import render_plate
from platesearch.runtime import THREADS_VARIABLE, thread_budget
from platesearch.scoring import DEFAULT_SEARCH_METHOD
from platesearch.search import SearchError
from platesearch.video import read_still

MAX_K = 100
THUMBNAIL_SIDE = 640  # longest side of the photo with its box
CROP_MARGIN = 0.15  # of the box's height, around the served crop
ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}
READER_START_SECONDS = 600  # for a ReaderPool process to load the model and the index's readings
ORPHAN_CHECK_SECONDS = 0.5
READER_LOST = "a reader process of this server stopped; it is being started again: ask again in a few seconds"


class ApiError(Exception):
    """A request this server refuses: answered as {"error": message} with `status`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status

    def __reduce__(self) -> tuple:  # raised in a reader process, answered by the server's
        return ApiError, (str(self), self.status)


class IndexReader:
    """An open index answering one call at a time, each on what was committed by then."""

    def __init__(self, plate_index: PlateIndex) -> None:
        self.plate_index = plate_index
        self.lock = threading.Lock()
        self.pids = [os.getpid()]  # the processes that answer

    def search(self, q: str, k: int, method: str, since: str | None, until: str | None) -> list[dict]:
        """`/api/search`'s rows (ApiError for a request the index cannot answer)."""
        with self.lock:
            self.plate_index.refresh()
            try:
                window = TimeWindow.parse(since, until)
                results = self.plate_index.search(q, k=k, method=method, window=window)
            except (PlateTextError, SearchError, ValueError) as error:
                raise ApiError(str(error)) from None
        return [{**result.to_json(), "crop_id": result.crop_id} for result in results]

    def stats(self) -> dict:
        with self.lock:
            self.plate_index.refresh()
            return {
                **self.plate_index.stats(),
                "failures": [{"path": p, "reason": r} for p, r in self.plate_index.failures()],
            }

    def crop(self, crop_id: int) -> StoredCrop | None:
        with self.lock:
            self.plate_index.refresh()  # a crop another reader process has just found is known here too
            return self.plate_index.crop(crop_id)

    async def search_async(self, q: str, k: int, method: str, since: str | None, until: str | None) -> list[dict]:
        """`search` on the event loop's thread: handing it to a thread pool and back cost more
        than it saved (BENCHMARKS.md "Serving"), and calls run one at a time anyway."""
        return self.search(q, k, method, since, until)


_process_reader: IndexReader | None = None  # a ReaderPool process's own reader


def _open_process_reader(index_dir: str, ready: Queue) -> None:
    global _process_reader
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which then stops the pool
    parent = os.getppid()
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    plate_index = open_for_serving(Path(index_dir))
    plate_index.warm_up()
    _process_reader = IndexReader(plate_index)
    ready.put(os.getpid())


def _exit_when_orphaned(parent: int) -> None:
    """A server stopped by a signal (SIGTERM, SIGKILL) never shuts its pool down: its reader
    processes leave with it."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(0)


def _call_process_reader(method: str, *args: object) -> object:
    return getattr(_process_reader, method)(*args)


class ReaderPool:
    """`workers` processes, each with an IndexReader of the same index; each call goes to a
    process that is idle. (uvicorn's own workers share one listening socket, and connections
    that arrive together land on one of them: 8 keep-alive clients were split 8 / 0 or 6 / 2
    as often as 4 / 4, and waited in one process's queue while the other idled.) A reader
    process that dies (e.g. out of memory) fails the calls it held with HTTP 503, and the
    pool starts again on the next call."""

    def __init__(self, index_dir: Path, workers: int) -> None:
        self.index_dir, self.workers = index_dir, workers
        self.restarting = threading.Lock()
        self.executor, self.pids = self._start()

    def _start(self) -> tuple[ProcessPoolExecutor, list[int]]:
        context = multiprocessing.get_context("spawn")  # TensorFlow and forked processes do not mix
        ready = context.Queue()
        executor = ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_open_process_reader, initargs=(str(self.index_dir), ready)
        )
        starting = [executor.submit(os.getpid) for _ in range(self.workers)]  # starts every process
        pids: list[int] = []
        deadline = time.monotonic() + READER_START_SECONDS
        while len(pids) < self.workers:
            failed = [f for f in starting if f.done() and f.exception() is not None]
            if failed or time.monotonic() > deadline:
                executor.shutdown(cancel_futures=True)
                reason = repr(failed[0].exception()) if failed else f"not ready after {READER_START_SECONDS} s"
                raise RuntimeError(f"the index's reader processes did not start: {reason}")
            try:
                pids.append(ready.get(timeout=0.5))
            except queue.Empty:
                pass
        return executor, pids

    def _submit(self, *call: object) -> Future:
        try:
            return self.executor.submit(_call_process_reader, *call)
        except BrokenProcessPool:
            with self.restarting:
                try:
                    return self.executor.submit(_call_process_reader, *call)
                except BrokenProcessPool:  # still the broken pool: this call starts a new one
                    self.executor.shutdown(cancel_futures=True)
                    self.executor, self.pids = self._start()
                    return self.executor.submit(_call_process_reader, *call)

    def _call(self, *call: object) -> object:
        try:
            return self._submit(*call).result()
        except BrokenProcessPool:
            raise ApiError(READER_LOST, 503) from None

    def search(self, q: str, k: int, method: str, since: str | None, until: str | None) -> list[dict]:
        return self._call("search", q, k, method, since, until)

    def stats(self) -> dict:
        return self._call("stats")

    def crop(self, crop_id: int) -> StoredCrop | None:
        return self._call("crop", crop_id)

    async def search_async(self, q: str, k: int, method: str, since: str | None, until: str | None) -> list[dict]:
        try:
            return await asyncio.wrap_future(self._submit("search", q, k, method, since, until))
        except BrokenProcessPool:
            raise ApiError(READER_LOST, 503) from None

    def close(self) -> None:
        self.executor.shutdown(cancel_futures=True)


def _png(image: np.ndarray) -> Response:
    return Response(cv2.imencode(".png", image)[1].tobytes(), media_type="image/png")


def _jpeg(image: np.ndarray) -> Response:
    return Response(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes(), media_type="image/jpeg")


def _asset(name: str) -> str:
    return resources.files("platesearch").joinpath("web", name).read_text(encoding="utf-8")


class BearerToken:
    """Answers 401 to a request for /api (but /api/health) without `Authorization: Bearer <token>`.

    Plain ASGI: Starlette's `BaseHTTPMiddleware` (`@app.middleware`) runs every request in a
    task of its own and streams the response through it (BENCHMARKS.md "Serving").
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("/api/") and path != "/api/health":
            supplied = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(supplied, self.expected):
                message = {"error": "this server needs its token: Authorization: Bearer <token>"}
                await JSONResponse(message, 401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(reader: IndexReader | ReaderPool, token: str | None = None) -> FastAPI:
    """The API and page over an index's reader(s); with `token`, /api needs `Authorization: Bearer <token>`."""
    app = FastAPI(
        title="platesearch",
        summary="Find photos of a licence plate from its text.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )

    @app.exception_handler(ApiError)
    def api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=error.status)

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        if any(e["loc"][0] == "path" for e in error.errors()):  # e.g. a crop id that is not a number
            return JSONResponse({"error": "not found"}, status_code=404)
        problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in error.errors())
        return JSONResponse({"error": problems}, status_code=400)

    @app.exception_handler(404)
    def not_found(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"error": "not found"}, status_code=404)

    if token is not None:
        app.add_middleware(BearerToken, token=token)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return _asset("index.html")

    @app.get("/assets/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in ASSETS:
            raise ApiError("not found", 404)
        return Response(_asset(name), media_type=ASSETS[name])

    @app.get("/api/health")
    def health() -> dict:
        """Up and serving (needs no token); `pid`: the server's process, `readers`: the processes
        that answer queries (`serve --workers`)."""
        return {"ok": True, "pid": os.getpid(), "readers": reader.pids}

    @app.get("/api/search", response_model=list[dict])
    async def search(
        q: str, k: int = 10, method: str = DEFAULT_SEARCH_METHOD, since: str | None = None, until: str | None = None
    ) -> JSONResponse:
        """The k photos most likely to show plate `q`, best first: the rows of `query --json`
        ({rank, path, score, box[, reading, ocr_confidence][, taken_at][, time, first, last]}) plus `crop_id`, the id
        of the matched crop for /api/crops/{crop_id}.png and /api/photos/{crop_id}.jpg.
        `since` / `until` (ISO 8601) keep the photos taken inside that window, as `query` does."""
        if not 1 <= k <= MAX_K:
            raise ApiError(f"k must be between 1 and {MAX_K}, got {k}")
        # A response returned as such skips FastAPI's validation of it against the documented model.
        return JSONResponse(await reader.search_async(q, k, method, since, until))

    @app.get("/api/stats")
    def stats() -> dict:
        """What `platesearch stats` prints, and the files that failed."""
        return reader.stats()

    @app.get("/api/render", responses={200: {"content": {"image/png": {}}}})
    def render(q: str) -> Response:
        """The synthetic plate a query is embedded from (PNG)."""
        try:
            return _png(render_plate(q))
        except PlateTextError as error:
            raise ApiError(str(error)) from None

    def photo_and_box(crop_id: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        crop = reader.crop(crop_id)
        if crop is None:
            raise ApiError(f"no crop {crop_id} in this index", 404)
        try:
            return read_still(crop.photo_path, crop.time), crop.box
        except ImageReadError:
            raise ApiError(f"the photo of crop {crop_id} cannot be read any more", 404) from None

    @app.get("/api/crops/{crop_id}.png", responses={200: {"content": {"image/png": {}}}})
    def crop_image(crop_id: int) -> Response:
        """The matched region of a photo, with a small margin (PNG)."""
        photo, (x, y, w, h) = photo_and_box(crop_id)
        m = int(CROP_MARGIN * h)
        return _png(photo[max(0, y - m) : y + h + m, max(0, x - m) : x + w + m])

    @app.get("/api/photos/{crop_id}.jpg", responses={200: {"content": {"image/jpeg": {}}}})
    def photo_image(crop_id: int) -> Response:
        """The photo of a crop with the crop's box drawn, at most 640 pixels on its longest side (JPEG)."""
        photo, (x, y, w, h) = photo_and_box(crop_id)
        scale = min(1.0, THUMBNAIL_SIDE / max(photo.shape[:2]))
        thumbnail = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else photo
        corner = (int(x * scale), int(y * scale))
        cv2.rectangle(thumbnail, corner, (int((x + w) * scale), int((y + h) * scale)), (0, 0, 255), 2)
        return _jpeg(thumbnail)

    return app


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1")


def open_for_serving(index_dir: Path) -> PlateIndex:
    """The index as a long-running reader keeps it: readings in memory, queries embedded with
    TensorFlow Lite (BENCHMARKS.md "Serving")."""
    return PlateIndex.open(index_dir, PlateEmbedder(runtime="lite"), readings_in_memory=True)


def serve(index_dir: Path, host: str, port: int, token: str | None, workers: int = 1) -> None:
    """Open the index (the model loads now, once per worker) and serve until interrupted."""
    import uvicorn

    if workers == 1:
        with open_for_serving(index_dir) as plate_index:
            plate_index.warm_up()  # the model loads now, not during the first request
            uvicorn.run(create_app(IndexReader(plate_index), token), host=host, port=port, log_level="warning")
        return
    PlateIndex.open(index_dir).close()  # a missing or foreign index fails here, once, before any worker starts
    os.environ[THREADS_VARIABLE] = str(max(1, thread_budget() // workers))  # each worker's share of the cores
    pool = ReaderPool(index_dir, workers)
    try:
        uvicorn.run(create_app(pool, token), host=host, port=port, log_level="warning")
    finally:
        pool.close()
