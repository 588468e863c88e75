"""Tanya on Milvus: a real `milvus-lite server` started by the test on loopback and used through the
network client (the code a Milvus cluster gets). Same answers as the embedded store, incremental
updates, atomic publishing (a build killed while copying changes nothing), stateless app servers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, SEEDS, free_port, serve_app, settings_for, write

from qa import Tanya
from qa.index.milvus import MilvusBackend

pytestmark = pytest.mark.slow  # starts a Milvus server

pytest.importorskip("pymilvus")
MILVUS_LITE = Path(sys.executable).parent / "milvus-lite"
QUESTIONS = [
    "Who offered Jack Ma the advisor role?",
    "Siapa yang menawari Jack Ma menjadi penasehat?",
    "Apa nama sebelumnya dari Tmall?",
    "Berapa kementerian dalam steering committee?",
    "Kapan Alibaba menguasai saham Lazada?",
    "What is the boiling point of mercury?",
]
BUS = "Bus Listrik Bandung\nWali Kota Bandung Ridwan Kamil meresmikan 25 bus listrik baru pada Senin (3/10/2016).\n"


def start_milvus(data: Path, port: int) -> subprocess.Popen:
    """`milvus-lite server` over `data` on 127.0.0.1:`port`, once it listens."""
    data.mkdir(parents=True, exist_ok=True)
    log = open(data / "server.log", "a")
    proc = subprocess.Popen(
        [str(MILVUS_LITE), "server", "--data-dir", str(data / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )  # docs/milvus.md
    deadline = time.time() + 60
    while True:
        assert proc.poll() is None and time.time() < deadline, (data / "server.log").read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.2)


def stop_milvus(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    proc = start_milvus(tmp_path_factory.mktemp("milvus"), port)
    yield f"http://127.0.0.1:{port}"
    stop_milvus(proc)


def _milvus(tmp: Path, uri: str, name: str, **overrides) -> Tanya:
    return Tanya(
        settings_for(
            tmp / "index", store="milvus", milvus_uri=uri, milvus_collection=name, upload_dir=tmp / "uploads", **overrides
        )
    )


def _on_milvus(tanya: Tanya) -> MilvusBackend:
    """The backend of a Tanya on Milvus, for what only Milvus has (its collections, versions, lease)."""
    backend = tanya.backend
    assert isinstance(backend, MilvusBackend)
    return backend


def _served(tanya: Tanya) -> str:
    """The name of the served version's record (its generation: `…__gN`)."""
    served = tanya.backend.served()
    assert served is not None
    return served.name


def _stamp(tanya: Tanya) -> str:
    """The served version's name, which its collections are named after."""
    published = _on_milvus(tanya).published()
    assert published is not None
    return published[0]


def test_same_passages_and_answers_as_the_embedded_store(milvus_uri: str, tmp_path: Path) -> None:
    on_milvus, local = _milvus(tmp_path / "m", milvus_uri, "same"), Tanya(settings_for(tmp_path / "local"))
    assert on_milvus.articles.index().chunks == local.articles.index().chunks == 13
    for question in QUESTIONS:
        ours, theirs = on_milvus.retriever().search(question), local.retriever().search(question)
        assert [h.chunk.chunk_id for h in ours] == [h.chunk.chunk_id for h in theirs], question
        assert [round(h.keyword or 0, 4) for h in ours] == [round(h.keyword or 0, 4) for h in theirs]  # the same BM25
        assert [round(h.dense or 0, 4) for h in ours] == [round(h.dense or 0, 4) for h in theirs]
        a, b = on_milvus.ask(question), local.ask(question)
        assert (a.text, a.abstained, [c.paragraph for c in a.citations]) == (
            b.text,
            b.abstained,
            [c.paragraph for c in b.citations],
        )
    assert on_milvus.articles.files()[0]["doc_id"] == local.articles.files()[0]["doc_id"]
    seed = local.articles.files()[0]["doc_id"]
    assert on_milvus.articles.document_text(seed) == local.articles.document_text(seed)
    assert on_milvus.manifest["vectors"]["type"] == "milvus" and on_milvus.manifest["chunks"] == 13


def test_updates_are_incremental_and_old_versions_go(milvus_uri: str, tmp_path: Path) -> None:
    tanya = _milvus(tmp_path, milvus_uri, "incr")
    tanya.articles.index()
    report = tanya.articles.add_files([(write(tmp_path / "in" / "bus.txt", BUS), "bus.txt")])
    assert report.added == ["bus"] and report.embedded == 2 and report.reused == 13  # only the new article is embedded
    assert "Ridwan Kamil" in tanya.ask("Siapa Wali Kota Bandung?").text
    removed = tanya.articles.remove(["bus"])
    assert removed.removed == ["bus"] and removed.embedded == 0
    assert "Ridwan Kamil" not in tanya.ask("Siapa Wali Kota Bandung?").text
    assert [f["doc_id"] for f in tanya.articles.files()] == [tanya.articles.files()[0]["doc_id"]]
    # updated in place: one version, its second generation served, the first one's record kept for readers
    assert len(_on_milvus(tanya).versions()) == 1 and _served(tanya).endswith("__g2")


def test_an_update_killed_midway_leaves_the_served_generation(milvus_uri: str, tmp_path: Path) -> None:
    """An update writes its rows into the served collections as the next generation; killed while it
    writes, readers still see the published generation alone, and the next update deletes the half-written
    rows before writing its own."""
    tanya = _milvus(tmp_path, milvus_uri, "killed")
    tanya.articles.index()
    served = tanya.backend.served()
    stamp = _stamp(tanya)
    articles = tmp_path / "many"
    for i in range(400):
        write(articles / f"berita-{i:03d}.txt", f"Berita {i}\nWarga desa {i} membangun jembatan bambu sepanjang {i + 3} meter.\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(QA_STORE="milvus", QA_MILVUS_URI=milvus_uri, QA_MILVUS_COLLECTION="killed")
    build = subprocess.Popen(
        [sys.executable, "-m", "qa", "index", str(SEEDS), str(articles), "--index-dir", str(tmp_path / "index"), "--quiet"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not _on_milvus(tanya).milvus.query(
        f"{stamp}__chunks", "gen > 0", ["row"], limit=1
    ):  # the next generation is being written
        assert build.poll() is None and time.time() < deadline, "the update finished before it could be killed"
        time.sleep(0.05)
    build.send_signal(signal.SIGKILL)
    build.wait()
    assert tanya.backend.served() == served and _on_milvus(tanya).milvus.query(f"{stamp}__chunks", "gen > 0", ["row"], limit=1)
    fresh = _milvus(tmp_path, milvus_uri, "killed")  # another process would see the same
    assert fresh.manifest["chunks"] == 13 and "Joko Widodo" in fresh.ask("Who offered Jack Ma the advisor role?").text
    assert "bambu" not in fresh.ask("Berapa panjang jembatan bambu warga desa 7?").reply
    assert len(fresh.articles.files()) == 1
    report = fresh.articles.index([SEEDS, articles])  # the next update rolls the half-written rows back, then writes its own
    assert report.documents == 401 and len(report.added) == 400 and report.embedded == fresh.manifest["chunks"] - 13
    assert "bambu" in fresh.ask("Berapa panjang jembatan bambu warga desa 7?").reply
    rows = _on_milvus(fresh).milvus.query(f"{stamp}__chunks", "row >= 0", ["row"], limit=16_000)
    assert len(rows) == fresh.manifest["chunks"]  # nothing of the killed update is left


def test_an_update_that_fails_midway_is_rolled_back_by_the_next(milvus_uri: str, tmp_path: Path) -> None:
    """An update that stops with an error after writing rows (here its caller cancels it, as a page whose
    user went away) leaves its lease lapsed, not deleted: the next builder knows to delete the rows beyond
    the published generation. A build that finished deletes its lease: the next has nothing to roll back."""
    tanya = _milvus(tmp_path, milvus_uri, "failed")
    tanya.articles.index()
    stamp = _stamp(tanya)
    with tanya.backend.builder_lease():
        assert not _on_milvus(tanya).after_unfinished  # the first build finished
    articles = tmp_path / "many"
    for i in range(40):
        write(articles / f"berita-{i:03d}.txt", f"Berita {i}\nWarga desa {i} membangun jembatan bambu sepanjang {i + 3} meter.\n")

    def cancel(stage: str, done: int, total: int) -> None:
        if stage == "embedding" and done:  # a batch of the next generation is in Milvus
            raise Cancelled

    class Cancelled(Exception):
        pass

    with pytest.raises(Cancelled):
        tanya.articles.index([SEEDS, articles], progress=cancel)
    assert _on_milvus(tanya).milvus.query(f"{stamp}__chunks", "gen > 0", ["row"], limit=1)  # written, never published
    assert "bambu" not in tanya.ask("Berapa panjang jembatan bambu warga desa 7?").reply
    report = tanya.articles.index([SEEDS, write(tmp_path / "in" / "bus.txt", BUS).parent])  # its generation is written again
    assert report.documents == 2 and report.added == ["bus"]
    rows = _on_milvus(tanya).milvus.query(f"{stamp}__chunks", "row >= 0", ["row"], limit=16_000)
    assert len(rows) == tanya.manifest["chunks"]  # what the failed update wrote is gone
    assert "bambu" not in tanya.ask("Berapa panjang jembatan bambu warga desa 7?").reply
    assert "Ridwan Kamil" in tanya.ask("Siapa Wali Kota Bandung?").text
    with tanya.backend.builder_lease():
        assert not _on_milvus(tanya).after_unfinished


def test_a_changed_article_replaces_its_rows_and_answers_match_the_embedded_store(milvus_uri: str, tmp_path: Path) -> None:
    """Add, change and remove an article, on Milvus (in place: one version, a generation per update) and
    on the embedded store (a new version each time): after each step the same passages in the same order,
    the same answers and dense scores, and keyword scores within 10% (exact idf; Milvus keeps the average
    passage length of the version's first build, and two short passages move it ~5% in a collection of
    15); the changed article's old rows are gone."""
    on_milvus, local = _milvus(tmp_path / "m", milvus_uri, "changes"), Tanya(settings_for(tmp_path / "local"))
    folder = tmp_path / "in"
    on_milvus.articles.index([SEEDS]), local.articles.index([SEEDS])
    served = [_served(on_milvus)]
    for step in ("add", "change", "remove"):
        if step == "add":
            write(folder / "bus.txt", BUS)
        if step == "change":
            write(folder / "bus.txt", BUS.replace("25 bus", "40 bus"))
        if step == "remove":
            report = on_milvus.articles.remove(["bus"])
            local.articles.remove(["bus"])
        else:
            report = on_milvus.articles.index([SEEDS, folder])
            local.articles.index([SEEDS, folder])
        assert report.embedded == (0 if step == "remove" else 2), step  # only what changed
        served.append(_served(on_milvus))
        for question in (*QUESTIONS, "Berapa bus listrik yang diresmikan Wali Kota Bandung?"):
            ours, theirs = on_milvus.retriever().search(question), local.retriever().search(question)
            assert [h.chunk.chunk_id for h in ours] == [h.chunk.chunk_id for h in theirs], (step, question)
            for a, b in zip(ours, theirs):
                assert abs((a.keyword or 0) - (b.keyword or 0)) <= 0.1 * max(b.keyword or 0, 1e-9), (step, question)
            assert [round(h.dense or 0, 4) for h in ours] == [round(h.dense or 0, 4) for h in theirs]
            assert on_milvus.ask(question).text == local.ask(question).text, (step, question)
        assert sorted(f["doc_id"] for f in on_milvus.articles.files()) == sorted(f["doc_id"] for f in local.articles.files())
        assert on_milvus.manifest["chunks"] == local.manifest["chunks"]
        stamp = _stamp(on_milvus)
        texts = [r["text"] for r in _on_milvus(on_milvus).milvus.query(f"{stamp}__chunks", 'doc_id == "bus"', ["text"])]
        if step == "change":  # the old rows were deleted
            assert len(texts) == 2 and any("40 bus" in t for t in texts) and not any("25 bus" in t for t in texts)
        if step == "remove":
            assert texts == [] and not _on_milvus(on_milvus).milvus.query(f"{stamp}__docs", 'doc_id == "bus"', ["key"])
    assert [name[-3:] for name in served] == ["_g0", "_g1", "_g2", "_g3"] and len(_on_milvus(on_milvus).versions()) == 1


def test_milvus_lite_in_a_file(tmp_path: Path) -> None:
    tanya = Tanya(settings_for(tmp_path / "index", store="milvus", milvus_uri=str(tmp_path / "db" / "tanya.db")))
    tanya.articles.index()
    assert "Joko Widodo" in tanya.ask("Who offered Jack Ma the advisor role?").text
    assert (tmp_path / "db" / "tanya.db").exists()
    # Lite searches inside this process: its BLAS must not keep idle threads spinning beside the reader
    from threadpoolctl import threadpool_info

    numpy_blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas" and "numpy" in pool["filepath"]]
    assert numpy_blas == [1], threadpool_info()


def test_a_bad_milvus_address_is_a_clear_error(tmp_path: Path) -> None:
    from qa.errors import MilvusUnavailable

    with pytest.raises(MilvusUnavailable, match="cannot connect to Milvus at http://127.0.0.1"):
        Tanya(
            settings_for(
                tmp_path / "index", store="milvus", milvus_uri=f"http://127.0.0.1:{free_port()}", milvus_collection="nowhere"
            )
        ).ask("Siapa?")


def test_two_app_servers_share_one_milvus(milvus_uri: str, tmp_path: Path) -> None:
    """An article uploaded through one app server is answerable through the other, without a restart."""
    from gradio_client import Client, handle_file

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        serve_app(tmp_path / "a", SEEDS, QA_STORE="milvus", QA_MILVUS_URI=milvus_uri, QA_MILVUS_COLLECTION="shared") as first,
        serve_app(tmp_path / "b", SEEDS, QA_STORE="milvus", QA_MILVUS_URI=milvus_uri, QA_MILVUS_COLLECTION="shared") as second,
    ):
        ask = lambda url, q: httpx.post(url + "v1/ask", json={"question": q}, timeout=60).json()  # noqa: E731
        assert "Joko Widodo" in ask(second, "Who offered Jack Ma the advisor role?")["answer"]
        assert "Ridwan Kamil" not in ask(second, "Siapa Wali Kota Bandung?")["answer"]
        message = Client(first, verbose=False).predict(
            [handle_file(str(write(tmp_path / "in" / "bus.txt", BUS)))], "default", api_name="/add_files"
        )[0]
        assert "Index updated" in message
        assert "Ridwan Kamil" in ask(second, "Siapa Wali Kota Bandung?")["answer"]
        # an upload through the second keeps the first's article (the store is shared, not each server's folders)
        other = write(tmp_path / "in" / "bogor.txt", BUS.replace("Bandung", "Bogor").replace("Ridwan Kamil", "Bima Arya"))
        Client(second, verbose=False).predict([handle_file(str(other))], "default", api_name="/add_files")
        assert "Ridwan Kamil" in ask(first, "Siapa Wali Kota Bandung?")["answer"]
        assert "Bima Arya" in ask(first, "Siapa Wali Kota Bogor?")["answer"]


HR = "Pengumuman Kepegawaian\nKepala bagian personalia yang baru adalah Bambang Wiratmoko. Ia menggantikan Sri Handayani.\n"
HR_Q = "Siapa kepala bagian personalia yang baru?"


def test_collections_on_milvus(milvus_uri: str, tmp_path: Path) -> None:
    """Each collection behind its own alias; another server (another index folder) sees it; rights hold
    over HTTP as on the embedded store."""
    from qa.library import Library

    def library(folder: str) -> Library:
        return Library(
            settings_for(tmp_path / folder / "index", store="milvus", milvus_uri=milvus_uri, milvus_collection="office")
        )

    here = library("a")
    here.get("default").articles.index()
    here.create("hr").articles.index([write(tmp_path / "hr" / "kepala.txt", HR).parent], remember=True)
    there = library("b")  # another app server's folder: nothing of hr in it
    assert there.names() == ["default", "hr"]
    assert "Bambang Wiratmoko" in there.get("hr").ask(HR_Q).text
    assert all("Bambang" not in h.chunk.text for h in there.get("default").ask(HR_Q).hits)
    answer = there.asker(["default", "hr"]).ask(HR_Q)
    assert "Bambang Wiratmoko" in answer.text and answer.citations[0].collection == "hr"
    users = str(tmp_path / "a" / "users.json")
    for name in ("alice", "bob"):
        _qa_ok("user", "add", name, "--users-file", users, stdin=f"{name}-password\n")
    _qa_ok("grant", "alice", "read", "hr", "--users-file", users, "--index-dir", str(tmp_path / "a" / "index"))
    keys = {name: _qa_ok("user", "key", name, "--users-file", users).strip() for name in ("alice", "bob")}
    with serve_app(tmp_path / "a", SEEDS, QA_STORE="milvus", QA_MILVUS_URI=milvus_uri, QA_MILVUS_COLLECTION="office") as url:

        def call(route: str, who: str, body: dict | None = None) -> httpx.Response:
            headers = {"Authorization": f"Bearer {keys[who]}"}
            if body is None:
                return httpx.get(url + route, headers=headers, timeout=60)
            return httpx.post(url + route, json=body, headers=headers, timeout=60)

        assert [m["id"] for m in call("v1/models", "alice").json()["data"]] == ["default", "hr"]
        assert [m["id"] for m in call("v1/models", "bob").json()["data"]] == ["default"]
        refused, missing = (call("v1/ask", "bob", {"question": HR_Q, "model": m}) for m in ("hr", "nosuch"))
        assert refused.status_code == missing.status_code == 404 and refused.text == missing.text.replace("nosuch", "hr")
        assert "Bambang" not in call("v1/ask", "bob", {"question": HR_Q}).text
        assert "Bambang Wiratmoko" in call("v1/ask", "alice", {"question": HR_Q, "model": "hr"}).json()["answer"]
    there.remove("hr")
    assert there.get("default").backend.neighbours() == [] and there.names() == ["default"]


def _qa_ok(*args: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "-m", "qa", *args], cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_settings_for_milvus_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="QA_MILVUS_URI"):
        Tanya(settings_for(tmp_path / "index").with_values(store="milvus")).has_index()
    with pytest.raises(ValueError, match="QA_STORE"):
        Tanya(settings_for(tmp_path / "index").with_values(store="elastic")).has_index()


def test_the_app_recovers_when_milvus_restarts(tmp_path: Path) -> None:
    """Milvus killed under a running app: questions get a 503 that names nothing of the server's insides;
    Milvus started again on the same data: the app answers again by itself (it loads what the restart
    released), without being restarted."""
    data, port = tmp_path / "milvus", free_port()
    ask = lambda url: httpx.post(url + "v1/ask", json={"question": "Who offered Jack Ma the advisor role?"}, timeout=60)  # noqa: E731
    milvus = start_milvus(data, port)
    try:
        with serve_app(
            tmp_path, SEEDS, QA_STORE="milvus", QA_MILVUS_URI=f"http://127.0.0.1:{port}", QA_MILVUS_COLLECTION="restarted"
        ) as url:
            assert "Joko Widodo" in ask(url).json()["answer"]
            stop_milvus(milvus)
            down = ask(url)
            assert down.status_code == 503, down.text
            assert "not reachable" in down.json()["error"]["message"]
            assert not any(inside in down.text for inside in (str(port), "127.0.0.1", "restarted", "__chunks"))
            milvus = start_milvus(data, port)
            answers = [ask(url) for _ in range(2)]
            assert [a.status_code for a in answers] == [200, 200], answers[-1].text
            assert "Joko Widodo" in answers[-1].json()["answer"]
    finally:
        stop_milvus(milvus)


def test_an_update_survives_milvus_being_killed_after_it(tmp_path: Path) -> None:
    """An update's rows are not flushed (Milvus keeps them in its log): the server killed at once after
    the update (SIGKILL, nothing written on the way out) and started again on the same data still holds
    them."""
    data, port = tmp_path / "milvus", free_port()
    milvus = start_milvus(data, port)
    try:
        uri = f"http://127.0.0.1:{port}"
        tanya = _milvus(tmp_path, uri, "durable")
        tanya.articles.index()
        tanya.articles.index([SEEDS, write(tmp_path / "in" / "bus.txt", BUS).parent])
        milvus.kill()
        milvus.wait()
        milvus = start_milvus(data, port)
        fresh = Tanya(tanya.settings.with_values(index_dir=tmp_path / "other"))  # another app server
        assert fresh.manifest["documents"] == 2 and "Ridwan Kamil" in fresh.ask("Siapa Wali Kota Bandung?").text
    finally:
        stop_milvus(milvus)


def test_an_index_of_the_previous_layout_is_served_and_its_update_asks_for_a_rebuild(milvus_uri: str, tmp_path: Path) -> None:
    """An index written before docs rows named their passages (layout 2) still answers; updating it in
    place stops with a clear message and changes nothing (a full build from this server's files could
    drop what other servers added)."""
    import json

    from qa.errors import IndexMismatch

    tanya = _milvus(tmp_path, milvus_uri, "older")
    tanya.articles.index()
    record = _served(tanya)
    manifest = json.loads(_on_milvus(tanya).milvus.query(record, 'key == "manifest"', ["value"])[0]["value"])
    manifest["vectors"]["layout"] = 2
    _on_milvus(tanya).milvus.client.upsert(record, [{"key": "manifest", "value": json.dumps(manifest), "v": [0.0, 0.0]}])
    older = _milvus(tmp_path / "other", milvus_uri, "older")  # another app server, reading it afresh
    assert "Joko Widodo" in older.ask("Who offered Jack Ma the advisor role?").text
    with pytest.raises(IndexMismatch, match="rebuild it once"):
        older.articles.index([SEEDS, write(tmp_path / "in" / "bus.txt", BUS).parent])
    assert _served(older) == record and len(older.articles.files()) == 1


def test_one_builder_at_a_time_across_machines(milvus_uri: str, tmp_path: Path) -> None:
    """A lease kept in Milvus: while one builder holds it another machine's build stops with a clear
    message and changes nothing; of two builders starting at the same moment exactly one goes on; a
    lease whose builder died lapses."""
    import threading

    from qa.errors import BuildInProgress
    from qa.index.milvus import lease
    from qa.index.milvus.connection import Connection

    first = _milvus(tmp_path / "a", milvus_uri, "leased")
    first.articles.index()
    served = first.backend.served()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(QA_STORE="milvus", QA_MILVUS_URI=milvus_uri, QA_MILVUS_COLLECTION="leased", QA_UPLOAD_DIR=str(tmp_path / "up"))
    other = [
        sys.executable,
        "-m",
        "qa",
        "index",
        str(write(tmp_path / "in" / "bus.txt", BUS).parent),
        "--keep-missing",
        "--index-dir",
        str(tmp_path / "b" / "index"),
    ]  # another machine: its own folder
    with first.backend.builder_lease():
        done = subprocess.run(other, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 2 and "another build is updating this index in Milvus" in done.stderr, done.stderr
        assert first.backend.served() == served
    done = subprocess.run(other, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr  # released: the other machine's build goes on
    assert "Ridwan Kamil" in first.ask("Siapa Wali Kota Bandung?").text

    backends = [MilvusBackend(Connection.open(milvus_uri), "leased") for _ in range(2)]  # two clients, as two machines
    entered, refused, go = [], [], threading.Barrier(2)

    def build(backend) -> None:
        go.wait()
        try:
            with backend.builder_lease():
                entered.append(backend)
                time.sleep(2 * lease.LEASE_SETTLE)
        except BuildInProgress:
            refused.append(backend)

    threads = [threading.Thread(target=build, args=(b,)) for b in backends]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(entered) == 1 and len(refused) == 1
    backends[0].lease._write("dead-builder:1:x")  # a builder that died holding it …
    with pytest.raises(BuildInProgress, match="dead-builder"):
        with backends[1].builder_lease():
            pass
    backends[0].milvus.client.upsert(
        backends[0].lease.collection,
        [{"key": "lease", "owner": "dead-builder:1:x", "since": 0.0, "expires": time.time() - 1, "v": [0.0, 0.0]}],
    )
    with backends[1].builder_lease():  # … and whose lease has lapsed
        pass
