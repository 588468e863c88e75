"""What a feed costs: 20 new articles added to the FacQA index from an RSS feed served on 127.0.0.1,
against the same 20 added as files, in one run.

    python -m benchmarks.feeds [--index /tmp/facqa] [--work /tmp/bench-feeds] [--n 20]

Both start from a copy of the same index. Printed: passages embedded, seconds for the whole update,
and (for the feed) seconds spent fetching.
"""

from __future__ import annotations

import argparse
import http.server
import shutil
import threading
import time
from pathlib import Path

from qa import Settings, Tanya
from qa.ingest import web

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.feeds")
    parser.add_argument("--index", type=Path, default=Path("/tmp/facqa"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-feeds"))
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    articles = [
        (
            f"Kabar Daerah {i}",
            f"Bupati Kabupaten Contoh {i} meresmikan jembatan sepanjang {10 + i} meter di desa "
            f"Sukamaju {i} pada hari Senin. Jembatan itu menghubungkan dua kecamatan dan dibangun selama {i + 2} bulan.",
        )
        for i in range(args.n)
    ]
    pages = {
        f"/berita/{i}.html": (
            f"<html><head><title>{t}</title></head><body><article><h1>{t}</h1><p>{b}</p></article></body></html>"
        ).encode()
        for i, (t, b) in enumerate(articles)
    }
    items = "".join(
        f"<item><title>{t}</title><link>http://127.0.0.1:{{port}}/berita/{i}.html</link></item>"
        for i, (t, _) in enumerate(articles)
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/feed.xml":
                body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{items}</channel></rss>'.format(
                    port=port
                ).encode()
            else:
                body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/rss+xml" if self.path.endswith(".xml") else "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    web.HOST_INTERVAL = 0.0  # our own server: no politeness pause (reported separately below)

    folder = args.work / "files"
    folder.mkdir(parents=True)
    for i in range(len(articles)):
        (folder / f"{i}.html").write_bytes(pages[f"/berita/{i}.html"])
    results = {}
    for kind in ("files", "feed", "files-again"):
        shutil.copytree(args.index, args.work / kind / "index")
        tanya = Tanya(Settings.from_env(env={}, index_dir=args.work / kind / "index", allow_private_urls=True))
        tanya.retriever()  # loaded, as on a server
        started = time.perf_counter()
        fetch = 0.0
        if kind.startswith("files"):
            report = tanya.articles.index([folder], keep_missing=True)
        else:
            f0 = time.perf_counter()
            tanya.articles.web().fetch([f"http://127.0.0.1:{port}/feed.xml"])
            fetch = time.perf_counter() - f0
            report = tanya.articles.index([tanya.articles.web().folder], keep_missing=True)
        results[kind] = (report.embedded, time.perf_counter() - started, fetch, report.documents)
    server.shutdown()
    print(
        f"{args.n} new articles added to {args.index} ({results['files'][3] - args.n} articles before); the first run also warms the models up"
    )
    print(f"{'':6} {'embedded':>9} {'seconds':>8} {'fetching':>9}")
    for kind, (embedded, seconds, fetch, _) in results.items():
        print(f"{kind:6} {embedded:9} {seconds:8.1f} {fetch:9.1f}")
    print(
        f"politeness: with the default {1.0:g} s between requests to one host, fetching {args.n} articles from one site "
        f"adds about {args.n:g} s"
    )


if __name__ == "__main__":
    main()
