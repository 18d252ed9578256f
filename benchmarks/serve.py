"""Latency of `platesearch serve`'s /api/search under 1, 8 and 32 concurrent clients.

The server runs as its own process (`platesearch serve`), as a user starts it; the clients
are processes forked from this one, each with a keep-alive HTTP connection (`http.client`),
asking for the default hybrid ranking (k=10) of real US plate texts in turn. They share the
server's cores, so their CPU per request is printed too. Indexes:
- the real US crops (`--crops-index DIR`, an index of ../shared/datasets/openalpr-us-crops
  made with `platesearch index ... --crops`; built here when the folder does not exist);
- a simulated collection of `--simulated` crops, made as benchmarks/scale.py makes it (real
  and synthetic embeddings plus noise, readings with 10 % wrong characters).

Each index is served by 1 and by 2 worker processes (`serve --workers N`).

Run: .venv/bin/python benchmarks/serve.py [--crops-index DIR] [--simulated 1000000] [--requests 400]
     [--simulated-index DIR] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from urllib.parse import urlencode

import httpx
import numpy as np
from scale import SHARED, grow, sources  # the benchmarks folder is on the path of its scripts

from platesearch.datasets import load_dataset
from platesearch.model import default_embedder
from platesearch.pipeline import PlateIndex
from platesearch.store import IndexStore

CONCURRENCY = (1, 8, 32)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(index_dir: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "platesearch", "serve", "--index", str(index_dir), "--port", str(port)]
    command += ["--workers", str(workers)]
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start")


def client(url: str, plates: list[str], number: int, clients: int, requests: int, start: Barrier, out: Queue) -> None:
    """One client: a keep-alive connection asking for its share of the requests in turn."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    seconds = []
    start.wait()
    for n in range(number, requests, clients):
        started = time.perf_counter()
        connection.request("GET", "/api/search?" + urlencode({"q": plates[n % len(plates)], "k": 10}))
        response = connection.getresponse()
        body = response.read()
        seconds.append(time.perf_counter() - started)
        assert response.status == 200, body
    connection.close()
    out.put(seconds)


def load(url: str, plates: list[str], clients: int, requests: int) -> tuple[list[float], float]:
    """Seconds per request, `requests` in all, spread over `clients` processes (threads of one
    process would wait on each other for the interpreter lock, and that wait would be counted
    as latency); and the CPU seconds the clients took."""
    context = multiprocessing.get_context("fork")  # the clients need nothing this process loaded
    start, out = context.Barrier(clients), context.Queue()
    processes = [
        context.Process(target=client, args=(url, plates, n, clients, requests, start, out)) for n in range(clients)
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for process in processes:
        process.start()
    seconds = [s for _ in processes for s in out.get()]
    for process in processes:
        process.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def server_cpu_seconds(server: subprocess.Popen) -> float:
    """CPU time of the server process and its worker processes so far (Linux /proc; NaN elsewhere).
    Per request it is the figure that holds still on a machine whose speed drifts."""
    try:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        ticks = 0
        for pid in [server.pid, *map(int, children)]:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return float("nan")


def measure(name: str, index_dir: Path, plates: list[str], requests: int, workers: int) -> None:
    server, url = start_server(index_dir, workers)
    try:
        load(url, plates, 8, 40)  # warm-up, every worker
        for clients in CONCURRENCY:
            started, cpu = time.perf_counter(), server_cpu_seconds(server)
            seconds, client_cpu = load(url, plates, clients, requests)
            rate = requests / (time.perf_counter() - started)
            ms = np.array(seconds) * 1000
            cpu_ms = (server_cpu_seconds(server) - cpu) / requests * 1000
            client_ms = client_cpu / requests * 1000
            print(
                f"| {name} | {workers} | {clients} | {np.percentile(ms, 50):.1f} / {np.percentile(ms, 99):.1f} "
                f"| {rate:.0f} | {cpu_ms:.1f} | {client_ms:.1f} |",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crops-index", type=Path, default=Path("runs/serve-us-crops"))
    parser.add_argument("--simulated", type=int, default=1_000_000, help="crops in the simulated index (0: skip)")
    parser.add_argument("--requests", type=int, default=400, help="requests per concurrency level")
    parser.add_argument(
        "--simulated-index", type=Path, help="keep the simulated index here (built when missing), to measure it again"
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker processes of the server")
    args = parser.parse_args()
    dataset = load_dataset(SHARED / "openalpr-us-crops")
    plates = sorted(set(dataset.plates))
    if not args.crops_index.exists():
        with PlateIndex.create(args.crops_index) as plate_index:
            plate_index.add([item.path for item in dataset.items], crops=True, workers=None)
    print(
        "| index | workers | clients | /api/search p50 / p99 (ms) | requests/s | server CPU per request (ms) "
        "| clients' CPU per request (ms) |"
    )
    print("|---|---|---|---|---|---|---|")
    with PlateIndex.open(args.crops_index) as plate_index:
        crops = plate_index.stats()["crops"]
    for workers in args.workers:
        measure(f"US crops ({crops:,} crops)", args.crops_index, plates, args.requests, workers)
    if args.simulated:
        work = Path(tempfile.mkdtemp(prefix="platesearch-serve-"))
        simulated = args.simulated_index or work / "index"
        try:
            if not simulated.exists():
                rng = np.random.default_rng(7)
                base, texts, _ = sources(4000, rng)
                store = IndexStore.create_or_open(simulated, PlateIndex.manifest_for(default_embedder()))
                grow(store, args.simulated, base, texts, rng)
                store.close()
            for workers in args.workers:
                measure(f"simulated ({args.simulated:,} crops)", simulated, plates, args.requests, workers)
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
