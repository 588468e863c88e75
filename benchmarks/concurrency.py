"""Questions per second and latency with 1, 10 and 30 concurrent API clients, the reader's passes
batched across questions (QA_READER_BATCH_MS, default 2) or not (0), in one run.

    python -m benchmarks.concurrency [--index-dir /tmp/facqa] [--questions ../shared/data/facqa-id/questions-dev.jsonl]
                                     [--clients 1 10 30] [--seconds 40] [--batch-ms 0 2]

For each setting a real server (app.py) is started on 127.0.0.1 over the index; each client posts
`/v1/ask` questions one after another (FacQA dev, in turn) for `--seconds`; printed: questions/s,
p50 and p95 latency, and whether the answers match the unbatched server's.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server(index_dir: Path, batch_ms: float, log: Path) -> tuple[subprocess.Popen, str]:
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(QA_READER_BATCH_MS=str(batch_ms), QA_USERS_FILE=str(log.with_suffix(".users.json")))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--index-dir", str(index_dir)],
        cwd=ROOT,
        env=env,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    for _ in range(240):
        try:
            if httpx.get(url + "v1/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(log.read_text())


def _load(url: str, questions: list[str], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    answers: dict[str, str] = {}
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(n: int) -> None:
        with httpx.Client(timeout=120) as http:
            i = n
            while time.perf_counter() < stop:
                q = questions[i % len(questions)]
                t = time.perf_counter()
                r = http.post(url + "v1/ask", json={"question": q})
                with lock:
                    latencies.append(time.perf_counter() - t)
                    answers[q] = r.json().get("answer", "")
                i += clients

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "clients": clients,
        "questions": len(latencies),
        "per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": round(statistics.median(latencies) * 1000),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000),
        "answers": answers,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.concurrency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, default=Path("/tmp/facqa"))
    parser.add_argument("--questions", type=Path, default=ROOT.parent / "shared" / "data" / "facqa-id" / "questions-dev.jsonl")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--batch-ms", type=float, nargs="+", default=[0, 2])
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in open(args.questions, encoding="utf-8")]
    reference: dict[str, str] = {}
    for batch_ms in args.batch_ms:
        proc, url = _server(args.index_dir, batch_ms, Path(f"/tmp/concurrency-{batch_ms:g}.log"))
        try:
            _load(url, questions[:5], 2, 3)  # warm up
            for clients in args.clients:
                result = _load(url, questions, clients, args.seconds)
                answers = result.pop("answers")
                same = [answers[q] == reference[q] for q in answers if q in reference]
                if batch_ms == args.batch_ms[0]:
                    reference.update(answers)
                result["same_answers"] = f"{sum(same)}/{len(same)}" if same else "-"
                print(json.dumps({"batch_ms": batch_ms, **result}), flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
