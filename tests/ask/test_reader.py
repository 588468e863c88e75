"""The trained reader on the real seed index: spans, comparable scores, abstention, the linear fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SEED_ID, settings_for

from qa import Settings, Tanya
from qa.ask.question import analyse
from qa.ask.reader import READER_DIR, Reader, get_reader
from qa.records import Chunk, Hit, Reading

pytestmark = pytest.mark.skipif(not (READER_DIR / "meta.json").is_file(), reason="no trained reader shipped")


def _hit(text: str, rank: int) -> Hit:
    return Hit(Chunk(f"c{rank}", f"d{rank}", "x.txt", "", 1, 0, len(text), text), 0.0, rank=rank)


def _reader(name: str = "e5") -> Reader:
    reader = get_reader(name)
    assert reader is not None
    return reader


def test_reader_is_on_by_default_and_finds_the_span(seed_tanya: Tanya) -> None:
    assert seed_tanya.reader is not None
    answer = seed_tanya.ask("Di bidang apa Jack Ma diminta menjadi penasehat?")
    assert answer.reader_margin is not None and answer.reader_margin > 0
    assert "e-commerce" in answer.text
    # the span's document offsets point at the answer inside the cited sentence
    document = seed_tanya.articles.document_text(SEED_ID)
    assert document is not None and answer.span is not None
    assert document[answer.span[0] : answer.span[1]] == answer.text
    assert answer.citations[0].start <= answer.span[0] < answer.span[1] <= answer.citations[0].end


def test_scores_compare_across_passages() -> None:
    """Trained with passages that do not answer, the reader says so; the passage that answers wins."""
    reader = _reader()
    q = analyse("Siapa yang menawari Jack Ma menjadi penasehat?")
    distractors = [
        "Harimau Sumatera terancam punah karena hutan terus dibuka untuk perkebunan kelapa sawit.",
        "Banjir merendam ribuan rumah di Jakarta Timur setelah hujan deras sejak Senin malam.",
        "Menteri Komunikasi dan Informatika Rudiantara meminta Jack Ma menjadi penasehat di Asia Tenggara.",
    ]
    gold = "Jack Ma sempat berada dalam posisi dilematis setelah ditawari Presiden Joko Widodo menjadi penasehat."
    readings = reader.read(q, [_hit(t, n) for n, t in enumerate(distractors + [gold], start=1)])
    best = max(readings, key=lambda r: r.margin)
    assert "Joko Widodo" in best.text
    assert readings[0].margin < 0 and readings[1].margin < 0  # unrelated: "no answer here"
    assert best.margin > max(r.margin for r in readings[:2]) + 3


@pytest.mark.parametrize(
    "question, passage",
    [
        (
            "What is the boiling point of mercury?",
            "Pameran Batik ![judul](http://127.0.0.1:36285/title.png)\nGubernur Jawa Barat Ahmad Heryawan membuka pameran batik.",
        ),
        ("Berapa harga tiketnya?", "Tiket dijual di https://tiket.example.com/acara/2017/harga-150000 mulai besok."),
        ("Tahun berapa situs itu dibuat?", "Lihat www.acara2016.id untuk jadwal acara di Bandung."),
    ],
)
def test_no_answer_is_taken_from_a_web_address(question: str, passage: str) -> None:
    """A link or an image's markdown in an article is never an answer (its digits read as a price, a year,
    a boiling point): no span holds a piece of one."""
    from qa.ask.reader import WEB_ADDRESS

    reading = _reader().read(analyse(question), [_hit(passage, 1)])[0]
    address = WEB_ADDRESS.search(passage)
    assert address is not None
    assert reading.end <= address.start() or reading.start >= address.end(), reading.text


def test_the_passage_answered_from_is_listed_first() -> None:
    """The reader reorders what it read (a cross-encoder over the top passages): the passage it answers
    from comes first in the answer's sources, ranks renumbered, the others kept behind it."""
    from qa.ask.answer import extract_answer
    from qa.ask.decision import ReaderPolicy
    from qa.settings import Settings

    q = analyse("Siapa yang menawari Jack Ma menjadi penasehat?")
    hits = [
        _hit(t, n)
        for n, t in enumerate(
            [
                "Banjir merendam ribuan rumah di Jakarta Timur setelah hujan deras sejak Senin malam.",
                "Jack Ma sempat berada dalam posisi dilematis setelah ditawari Presiden Joko Widodo menjadi penasehat.",
                "Harimau Sumatera terancam punah karena hutan terus dibuka untuk perkebunan kelapa sawit.",
            ],
            start=1,
        )
    ]
    readings = _reader().read(q, hits[:2])
    answer = extract_answer(q, hits, readings=readings, policy=ReaderPolicy.of(Settings()))
    assert "Joko Widodo" in answer.text and answer.citations[0].chunk_id == "c2"
    assert [h.chunk.chunk_id for h in answer.hits] == ["c2", "c1", "c3"]
    assert [h.rank for h in answer.hits] == [1, 2, 3]


def test_only_the_first_passage_is_read_when_the_reader_is_sure_of_it() -> None:
    reader = _reader()
    q = analyse("Siapa yang menawari Jack Ma menjadi penasehat?")
    gold = "Jack Ma sempat berada dalam posisi dilematis setelah ditawari Presiden Joko Widodo menjadi penasehat."
    other = "Banjir merendam ribuan rumah di Jakarta Timur setelah hujan deras sejak Senin malam."
    sure = reader.read_top(q, [_hit(gold, 1), _hit(other, 2), _hit(other, 3)], passages=3, sure=5.0)
    assert len(sure) == 1 and sure[0].margin >= 5.0 and "Joko Widodo" in sure[0].text
    unsure = reader.read_top(q, [_hit(other, 1), _hit(gold, 2), _hit(other, 3)], passages=3, sure=5.0)
    assert [r.hit.rank for r in unsure] == [1, 2, 3] and "Joko Widodo" in unsure[1].text


def test_long_passages_are_read_in_overlapping_windows() -> None:
    reader = _reader()
    filler = " ".join(f"Kalimat pengisi nomor {i} tentang cuaca di kota yang tidak disebutkan namanya." for i in range(60))
    text = filler + " Jembatan Suramadu diresmikan oleh Presiden Susilo Bambang Yudhoyono pada tahun 2009. " + filler
    reading = reader.read(analyse("Siapa yang meresmikan Jembatan Suramadu?"), [_hit(text, 1)])[0]
    assert "Susilo Bambang Yudhoyono" in reading.text
    assert text[reading.start : reading.end] == reading.text


def test_yes_no_questions_get_the_supporting_sentence(seed_tanya: Tanya) -> None:
    # whether to answer is the decision's business (this one is withheld since the reader of a05b34f): forced open here
    opened = Tanya(seed_tanya.settings.with_values(reader_min_confidence=0.0))
    answer = opened.ask("Did Jack Ma immediately accept the offer?")
    assert not answer.abstained
    assert answer.text == answer.support and len(answer.text.split()) > 6


def test_no_reader_falls_back_to_the_linear_scorer(tmp_path: Path, seed_tanya: Tanya) -> None:
    plain = Tanya(seed_tanya.settings.with_values(reader=""))
    assert plain.reader is None
    from_env = Settings.from_env({"QA_INDEX_DIR": str(seed_tanya.settings.store.index_dir), "QA_READER": "linear"})
    assert Tanya(from_env).reader is None
    answer = plain.ask("Siapa yang menawari Jack Ma menjadi penasehat?")
    assert "Joko Widodo" in answer.text and answer.reader_margin is None
    with pytest.raises(ValueError, match="QA_READER"):
        Tanya(settings_for(tmp_path / "i", reader=str(tmp_path))).reader


def test_reader_abstains_on_questions_the_article_does_not_answer(seed_tanya: Tanya) -> None:
    for question in ("Who won the 2018 World Cup?", "Berapa harga saham Apple hari ini?"):
        answer = seed_tanya.ask(question)
        assert answer.abstained and answer.citations == [], answer.reply


@pytest.mark.slow
@pytest.mark.shared
def test_training_command_writes_a_reader_that_loads(tmp_path: Path) -> None:
    """`python -m qa train … --reader` on a few TyDi questions (BM25 negatives) and a few of the English
    ones written from them (a file that names its corpus), one epoch, into a folder."""
    import json
    import subprocess
    import sys

    from conftest import ROOT

    tydi = ROOT.parent / "shared" / "data" / "tydiqa-id" / "questions-train.jsonl"
    out = tmp_path / "reader"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa",
            "train",
            str(tydi),
            "--reader",
            "data/train/tydiqa-train-en.jsonl",
            "--limit",
            "12",
            "--epochs",
            "1",
            "--out",
            str(out),
            "--index-dir",
            str(tmp_path / "none"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert "tydiqa-train-en.jsonl: hard negatives from BM25" in run.stderr
    meta = json.loads((out / "meta.json").read_text())
    assert meta["split"] == 6 and meta["train_examples"] == 48 and meta["epochs"] == 1
    assert (out / "weights.safetensors").stat().st_size < 30_000_000
    reader = _reader(str(out))
    readings = reader.read(analyse("Siapa presiden pertama Indonesia?"), [_hit("Presiden pertama Indonesia adalah Soekarno.", 1)])
    assert len(readings) == 1 and readings[0].end >= readings[0].start

    # from that reader, two more of its layers trained (layers 4 and 5 were the encoder's, frozen)
    def train_from(init: Path, layers: int, into: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "qa",
                "train",
                str(tydi),
                "--reader",
                "--limit",
                "8",
                "--epochs",
                "1",
                "--init",
                str(init),
                "--trained-layers",
                str(layers),
                "--out",
                str(into),
                "--index-dir",
                str(tmp_path / "none"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )

    assert train_from(out, 8, tmp_path / "wider").returncode == 0
    from safetensors import safe_open

    with safe_open(str(tmp_path / "wider" / "weights.safetensors"), "pt") as f:
        trained = {int(k.split(".")[1]) for k in f.keys() if k.startswith("layers.")}
    assert json.loads((tmp_path / "wider" / "meta.json").read_text())["split"] == 4 and trained == set(range(4, 12))
    # fewer layers than it trained: its lower trained layers would be lost
    narrower = train_from(tmp_path / "wider", 6, tmp_path / "narrower")
    assert narrower.returncode != 0 and "trained 8 layers" in narrower.stderr and not (tmp_path / "narrower").exists()


@pytest.mark.slow
@pytest.mark.shared
def test_training_takes_unanswerables_samples_and_resumes_when_killed(tmp_path: Path) -> None:
    """IDK-MRC's unanswerable questions become "no answer" on their own passage; `FILE:N` samples a file;
    `--init` starts from the shipped reader; a run killed after a checkpoint resumes where it stopped."""
    import json
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT

    idk = ROOT.parent / "shared" / "data" / "idk-mrc" / "questions-train.jsonl"
    out, work = tmp_path / "reader", tmp_path / "work"
    command = [
        sys.executable,
        "-m",
        "qa",
        "train",
        f"{idk}:60",
        "--reader",
        "data/train/idkmrc-train-en.jsonl:20",
        "--epochs",
        "2",
        "--negatives",
        "0",
        "--init",
        str(READER_DIR),
        "--work",
        str(work),
        "--checkpoint-every",
        "1",
        "--out",
        str(out),
        "--index-dir",
        str(tmp_path / "none"),
    ]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (work / "checkpoint.pt").exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert (work / "checkpoint.pt").exists() and not (out / "meta.json").exists()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "resuming from" in run.stderr
    meta = json.loads((out / "meta.json").read_text())
    assert meta["epochs"] == 2 and meta["sources"]["init"] == str(READER_DIR)
    # 60 + 20 questions sampled, no hard negatives: the unanswerable ones are the negatives
    assert 20 < meta["train_negatives"] < meta["train_examples"] <= 80


def test_questions_asked_at_once_share_passes_and_get_their_own_readings() -> None:
    """Eight questions read from eight threads at once: the batcher serves them in fewer forward passes
    than questions, and each gets the same reading it gets alone."""
    import threading

    import numpy as np

    from qa.ask.reader import TransformerReader

    cases = [
        ("Siapa yang menawari Jack Ma menjadi penasehat?", "Jack Ma ditawari Presiden Joko Widodo menjadi penasehat e-commerce."),
        ("Kapan Alibaba menguasai saham Lazada?", "Alibaba Group menguasai saham Lazada pada awal 2016 di Asia Tenggara."),
        ("Berapa kementerian dalam steering committee?", "Steering committee itu terdiri dari 10 kementerian dan Jack Ma."),
        ("Who is the mayor of Bandung?", "Wali Kota Bandung Ridwan Kamil meresmikan sepuluh bus listrik baru pada Senin."),
        ("Apa nama Tmall sebelumnya?", "Produk dipasarkan melalui Tmall (sebelumnya bernama Taobao Mall) milik Alibaba."),
        ("Di mana bus listrik itu melayani rute?", "Bus itu melayani rute Dago hingga Leuwipanjang di Bandung."),
        ("Siapa pendiri Alibaba?", "Pendiri sekaligus CEO Alibaba Group Holding, Jack Ma, berbicara di Jakarta."),
        ("What did Rudiantara ask for?", "Rudiantara meminta Jack Ma menjadi penasehat pengembangan industri e-commerce."),
    ]
    alone = TransformerReader(READER_DIR, batch_ms=0)
    expected = [alone.read(analyse(q), [_hit(p, 1)])[0] for q, p in cases]
    together = TransformerReader(READER_DIR, batch_ms=50)
    passes: list[int] = []
    assert together.batcher is not None
    run = together.batcher.run

    def counted(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        passes.append(len(rows))
        return run(rows)

    together.batcher.run = counted
    got: dict[int, Reading] = {}
    threads = [
        threading.Thread(target=lambda n=n: got.__setitem__(n, together.read(analyse(cases[n][0]), [_hit(cases[n][1], 1)])[0]))
        for n in range(len(cases))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(passes) == len(cases) and len(passes) < len(cases), passes
    for n, reading in enumerate(expected):
        assert (got[n].start, got[n].end) == (reading.start, reading.end)
        assert abs(got[n].margin - reading.margin) < 1e-3


def test_rows_are_read_in_passes_of_similar_lengths_and_come_back_in_order() -> None:
    """Padding a short row to a long one's width costs as much as reading it: rows are run in passes of
    similar lengths (fewer padded tokens), and each row's logits are the ones it gets read alone."""
    import numpy as np

    from qa.ask.reader import TransformerReader, length_groups

    assert length_groups([20] * 4 + [300] * 4) == [range(0, 4), range(4, 8)]
    assert length_groups([80] * 6) == [range(0, 6)]  # alike: one pass
    groups = length_groups(sorted([46, 50, 60, 70, 80, 81, 85, 90, 100, 113] * 5))
    assert [i for g in groups for i in g] == list(range(50)) and 1 < len(groups) < 50
    reader = TransformerReader(READER_DIR, batch_ms=0)
    q = reader.encoding.question("Siapa yang menawari Jack Ma menjadi penasehat?")
    texts = ["Jack Ma ditawari Presiden Joko Widodo.", "Rudiantara meminta Jack Ma menjadi penasehat " * 30, "Alibaba."]
    rows = [w.ids for n, t in enumerate(texts) for w in reader.encoding.windows(q, t, n)]
    start, end = reader._run(rows)
    for r, row in enumerate(rows):
        s, e = reader._run([row])
        assert np.abs(start[r, : len(row)] - s[0, : len(row)]).max() < 1e-3
        assert np.abs(end[r, : len(row)] - e[0, : len(row)]).max() < 1e-3
