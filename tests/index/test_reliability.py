"""An index that is never broken: builds killed at any moment, and questions answered during updates.

Uses real FacQA-id articles from ../shared (as CI has them) to make builds long enough to interrupt."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS, settings_for

from qa import Tanya
from qa.index.versions import current_version

FACQA = ROOT.parent / "shared" / "data" / "facqa-id" / "articles"
pytestmark = [pytest.mark.shared, pytest.mark.slow]

SEED_QUESTIONS = [
    ("Siapa yang menawari Jack Ma menjadi penasehat?", "Joko Widodo"),
    ("Who offered Jack Ma the advisor role?", "Joko Widodo"),
    ("Siapa Menteri Komunikasi dan Informatika?", "Rudiantara"),
    ("Apa nama sebelumnya dari Tmall?", "Taobao Mall"),
]


def _collection(tmp_path: Path, n: int) -> Path:
    if not FACQA.is_dir():
        pytest.fail(f"{FACQA} is missing: these tests need the shared FacQA articles")
    folder = tmp_path / "articles"
    folder.mkdir(exist_ok=True)
    shutil.copy(SEEDS / "000_3a3f117793ab0552.txt", folder)
    for path in sorted(FACQA.glob("*.txt"))[:n]:
        shutil.copy(path, folder)
    return folder


def _index_process(folder: Path, index_dir: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return subprocess.Popen(
        [sys.executable, "-m", "qa", "index", str(folder), "--index-dir", str(index_dir), "--quiet"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _still_serving(index_dir: Path, documents: int) -> None:
    fresh = Tanya(settings_for(index_dir))  # a new reader, as another process would load it
    assert fresh.manifest["documents"] == documents
    for question, expected in SEED_QUESTIONS:
        assert expected in fresh.ask(question).text


def _cached_vectors(index_dir: Path) -> int:
    """Vectors in the build's embedding cache (0 while it cannot be read)."""
    try:
        with closing(sqlite3.connect(f"file:{index_dir / '.embed-cache.sqlite'}?mode=ro", uri=True, timeout=0)) as db:
            return int(db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_a_build_killed_at_any_moment_leaves_the_last_good_index(tmp_path: Path) -> None:
    folder = _collection(tmp_path, 60)
    index_dir = tmp_path / "index"
    Tanya(settings_for(index_dir)).articles.index([folder])
    served = current_version(index_dir)
    for path in sorted(FACQA.glob("*.txt"))[60:200]:  # 140 new articles: an update of several seconds
        shutil.copy(path, folder)

    # killed while loading, while embedding, and once it has embedded everything but not yet published
    for moment in ("start", "embedding", "embedded"):
        build = _index_process(folder, index_dir)
        if moment == "start":
            time.sleep(0.3)
        elif moment == "embedding":
            time.sleep(4.0)
        else:
            deadline = time.time() + 120
            while time.time() < deadline:
                build.send_signal(signal.SIGSTOP)  # frozen, it cannot publish between this check and the kill
                if _cached_vectors(index_dir) >= 140 or build.poll() is not None:
                    break
                build.send_signal(signal.SIGCONT)
                time.sleep(0.005)
        assert build.poll() is None, f"the build ended before it could be killed ({moment})"
        build.send_signal(signal.SIGKILL)
        build.wait()
        assert current_version(index_dir) == served, moment
        _still_serving(index_dir, 61)

    # the next build takes the lock of the killed one over, resumes from the vectors the killed builds
    # had already embedded (the last one was killed after embedding everything), and completes
    build = _index_process(folder, index_dir)
    out, err = build.communicate(timeout=600)
    assert build.returncode == 0, err
    assert "added 140" in out
    assert re.search(r"embedded 0, reused \d+ \(140 from an interrupted build\)", out), out
    assert not (index_dir / ".embed-cache.sqlite").exists()
    assert current_version(index_dir) != served
    current = current_version(index_dir)
    assert current is not None
    assert [p.name for p in index_dir.glob("v-*")] == [current.name]  # half-builds cleaned up
    _still_serving(index_dir, 201)


def test_questions_keep_being_answered_during_a_1000_article_update(tmp_path: Path) -> None:
    folder = _collection(tmp_path, 0)
    index_dir = tmp_path / "index"
    tanya = Tanya(settings_for(index_dir))
    tanya.articles.index([folder])
    for path in sorted(FACQA.glob("*.txt"))[:1000]:
        shutil.copy(path, folder)

    results: list[str] = []
    failures: list[str] = []
    done = threading.Event()

    def ask_many(offset: int) -> None:
        for i in range(50):
            question, expected = SEED_QUESTIONS[(i + offset) % len(SEED_QUESTIONS)]
            try:
                answer = tanya.ask(question)
                (results if expected in answer.text else failures).append(f"{question} -> {answer.text}")
            except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
                failures.append(f"{question} -> {type(exc).__name__}: {exc}")
            time.sleep(0.05)

    # the update runs in this process (as the page does) while another process also reads the index
    def update() -> None:
        tanya.articles.index([folder])
        done.set()

    builder = threading.Thread(target=update)
    builder.start()
    askers = [threading.Thread(target=ask_many, args=(n,)) for n in range(4)]
    for t in askers:
        t.start()
    reader = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "--index-dir", str(index_dir)],
        input="\n".join(q for q, _ in SEED_QUESTIONS * 5),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    for t in askers:
        t.join()
    builder.join()
    assert done.is_set()
    assert failures == [] and len(results) == 200
    assert reader.returncode == 0 and reader.stdout.count("Joko Widodo") >= 10 and '"error"' not in reader.stdout
    assert tanya.manifest["documents"] == 1001  # the same Tanya switched to the new version
    answer = tanya.ask("Apa nama latin dari harimau Sumatera?")  # an article of the update
    assert "Panthera" in answer.text and answer.citations[0].doc_id == "facqa-6f1816febd"


def test_a_build_the_machine_refuses_is_a_message_and_resumes(tmp_path: Path) -> None:
    """A build that cannot write (here a 150 kB file-size limit, as a nearly full disk would) says what
    happened and what is still served, without a traceback; run again with room, it finishes."""
    import resource

    articles = tmp_path / "articles"
    articles.mkdir()
    facqa = ROOT.parent / "shared" / "data" / "facqa-id" / "articles"
    for path in sorted(facqa.iterdir())[:150]:
        shutil.copy(path, articles / path.name)
    index = tmp_path / "index"
    command = [sys.executable, "-m", "qa", "index", str(articles), str(SEEDS), "--index-dir", str(index), "--quiet"]
    subprocess.run([*command[:4], str(SEEDS), *command[6:]], cwd=ROOT, check=True, capture_output=True)
    served = current_version(index)
    assert served is not None

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))

    refused = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, preexec_fn=small_disk, timeout=600)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert "the machine refused to write" in refused.stderr and f"served index ({served.name}) is unchanged" in refused.stderr
    assert "run the same command again" in refused.stderr and current_version(index) == served
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "added 150" in done.stdout, done.stderr
