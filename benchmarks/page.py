"""How the chat page feels: click-to-answer time in a real browser, and uploading articles.

    python -m benchmarks.page [--questions 20] [--uploads 100] [--data ../shared/data/facqa-id] [--root DIR]

Starts app.py on a free port over a fresh index of the seed article, drives Debian's chromium with
Playwright, and prints: the median (and p90) time from clicking "Ask" to the answer being shown,
over N questions; and the time from clicking "Add to the index" with N FacQA articles to the
result being shown. `--root` serves another checkout's app.py (an older commit, for a before/after
comparison in one session); `--uploads 0` skips the upload. It also prints how long the browser's
main thread was busy per answer (Chrome's own counters): the page's share of the wait, apart from
the server's.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "Who offered Jack Ma the advisor role?",
    "Siapa yang menawari Jack Ma menjadi penasehat?",
    "How many ministries are in the steering committee?",
    "Berapa kementerian yang terdiri dalam steering committee?",
    "Siapa Menteri Komunikasi dan Informatika?",
    "Kapan Alibaba Group menguasai saham Lazada?",
    "What was Tmall previously called?",
    "Apa nama sebelumnya dari Tmall?",
    "Layanan pembayaran apa yang diintegrasikan Lazada Indonesia?",
    "What is the boiling point of mercury?",
]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.page", description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "facqa-id")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose app.py is served")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
        env.update(QA_UPLOAD_DIR=str(Path(tmp) / "uploads"), QA_USERS_FILE=str(Path(tmp) / "users.json"), HF_HUB_OFFLINE="1")
        app = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port), "--index-dir", str(Path(tmp) / "index")],
            cwd=args.root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(240):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.5)
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                    args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
                )
                page = browser.new_page()
                cdp = page.context.new_cdp_session(page)
                cdp.send("Performance.enable")
                busy: list[float] = []  # ms the browser's main thread worked per answer

                def main_thread_seconds() -> float:
                    metrics = cdp.send("Performance.getMetrics")["metrics"]
                    return next(m["value"] for m in metrics if m["name"] == "TaskDuration")

                page.goto(f"http://127.0.0.1:{port}/")
                times: list[float] = []
                pipeline: list[float] = []  # the answer's own time, as its sources panel says
                page.locator("#question").wait_for(timeout=120_000)
                for i in range(args.questions):
                    page.locator("#new-chat").click()
                    page.wait_for_function("!document.querySelector('#chat').innerText.includes('[1]')")
                    page.locator("#question textarea").fill(QUESTIONS[i % len(QUESTIONS)])
                    worked = main_thread_seconds()
                    started = time.perf_counter()
                    page.locator("#ask").click()
                    page.wait_for_function(
                        "(() => { const t = document.querySelector('#chat').innerText;"
                        " return (t.includes('[1]') || t.includes('could not find') || t.includes('tidak ditemukan'))"
                        " && !t.includes('Searching'); })()",
                        timeout=60_000,
                    )
                    times.append((time.perf_counter() - started) * 1000)
                    busy.append((main_thread_seconds() - worked) * 1000)
                    said = re.search(r" (\d+) ms", page.locator("#sources").inner_text())
                    if said:
                        pipeline.append(float(said.group(1)))
                times.sort()
                print(
                    f"click to answer, {len(times)} questions: median {statistics.median(times):.0f} ms, "
                    f"p90 {times[int(0.9 * (len(times) - 1))]:.0f} ms, max {times[-1]:.0f} ms; "
                    f"the answer's own time (median): {statistics.median(pipeline) if pipeline else float('nan'):.0f} ms; "
                    f"the browser's main thread busy per answer (median): {statistics.median(busy):.0f} ms"
                )

                if not args.uploads:
                    browser.close()
                    return 0
                files = sorted((args.data / "articles").glob("*.txt"))[: args.uploads]
                page.get_by_role("tab", name="Add articles").click()
                page.locator("#upload input[type=file]").set_input_files([str(f) for f in files])
                page.wait_for_timeout(500)
                started = time.perf_counter()
                page.locator("#add").click()
                page.locator("#add-result").get_by_text("Index updated").wait_for(timeout=600_000)
                seconds = time.perf_counter() - started
                summary = page.locator("#add-result").inner_text().splitlines()[0]
                print(f"upload of {len(files)} FacQA articles, click to result: {seconds:.1f} s ({summary})")
                browser.close()
        finally:
            app.terminate()
            app.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
