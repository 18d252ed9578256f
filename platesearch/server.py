"""`platesearch serve`: one long-running reader of an index behind a JSON API and a web page.

The model loads once per worker process; each request first picks up what a concurrent
`platesearch index` committed (`PlateIndex.refresh`). A process answers one query at a time
(the model and the catalog connection are shared); `workers` processes, each with its own
reader and its share of the cores, answer side by side (BENCHMARKS.md "Serving").
Images are served by crop id only, for crops in the index; a client never names a path.
"""

from __future__ import annotations

import hmac
import os
import threading
from importlib import resources
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
from platesearch.records import TimeWindow
from platesearch.render import render_plate
from platesearch.runtime import THREADS_VARIABLE, thread_budget
from platesearch.scoring import DEFAULT_SEARCH_METHOD
from platesearch.search import SearchError
from platesearch.video import read_still

MAX_K = 100
THUMBNAIL_SIDE = 640  # longest side of the photo with its box
CROP_MARGIN = 0.15  # of the box's height, around the served crop
ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}
INDEX_VARIABLE = "PLATESEARCH_SERVE_INDEX"  # what each worker process of `serve --workers N` opens
TOKEN_VARIABLE = "PLATESEARCH_TOKEN"


class ApiError(Exception):
    """A request this server refuses: answered as {"error": message} with `status`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


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


def create_app(plate_index: PlateIndex, token: str | None = None) -> FastAPI:
    """The API and page over an open (read-only) index; with `token`, /api needs `Authorization: Bearer <token>`."""
    app = FastAPI(
        title="platesearch",
        summary="Find photos of a licence plate from its text.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )
    lock = threading.Lock()

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
        """Up and serving (needs no token); `pid`: the worker process that answered."""
        return {"ok": True, "pid": os.getpid()}

    # async: answered on the event loop's thread (queries run one at a time in a process anyway).
    # A plain function is handed to a thread pool and back: with 8 clients on the 30 sample
    # crops, p50 21-23 ms where this takes 13-14 (BENCHMARKS.md "Serving").
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
        with lock:
            plate_index.refresh()
            try:
                window = TimeWindow.parse(since, until)
                results = plate_index.search(q, k=k, method=method, window=window)
            except (PlateTextError, SearchError, ValueError) as error:
                raise ApiError(str(error)) from None
        # A response returned as such skips FastAPI's validation of it against the documented model.
        return JSONResponse([{**result.to_json(), "crop_id": result.crop_id} for result in results])

    @app.get("/api/stats")
    def stats() -> dict:
        """What `platesearch stats` prints, and the files that failed."""
        with lock:
            plate_index.refresh()
            return {**plate_index.stats(), "failures": [{"path": p, "reason": r} for p, r in plate_index.failures()]}

    @app.get("/api/render", responses={200: {"content": {"image/png": {}}}})
    def render(q: str) -> Response:
        """The synthetic plate a query is embedded from (PNG)."""
        try:
            return _png(render_plate(q))
        except PlateTextError as error:
            raise ApiError(str(error)) from None

    def photo_and_box(crop_id: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        with lock:
            crop = plate_index.crop(crop_id)
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


def app_from_environment() -> FastAPI:
    """One worker process's app (`serve --workers N`): the index and token it was given in the
    environment, opened and warmed up before the worker accepts a request."""
    plate_index = open_for_serving(Path(os.environ[INDEX_VARIABLE]))
    plate_index.warm_up()
    return create_app(plate_index, os.environ.get(TOKEN_VARIABLE) or None)


def serve(index_dir: Path, host: str, port: int, token: str | None, workers: int = 1) -> None:
    """Open the index (the model loads now, once per worker) and serve until interrupted."""
    import uvicorn

    if workers == 1:
        with open_for_serving(index_dir) as plate_index:
            plate_index.warm_up()  # the model loads now, not during the first request
            uvicorn.run(create_app(plate_index, token), host=host, port=port, log_level="warning")
        return
    PlateIndex.open(index_dir).close()  # a missing or foreign index fails here, once, before any worker starts
    os.environ[INDEX_VARIABLE] = str(index_dir)
    os.environ[TOKEN_VARIABLE] = token or ""
    os.environ[THREADS_VARIABLE] = str(max(1, thread_budget() // workers))  # each worker's share of the cores
    uvicorn.run(
        "platesearch.server:app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="warning",
    )
