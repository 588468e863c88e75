"""Every supported format read for real, and a corpus of hostile files that must not spoil a batch.

The fixtures are made here, by the test: nothing binary is committed."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from conftest import settings_for, write

from qa import Tanya
from qa.ingest.documents import read_documents


def make_pdf(pages: list[str]) -> bytes:
    """A real PDF with one text line per page (Helvetica), offsets and xref computed."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", ""]
    kids = []
    for text in pages:
        page_no, content_no = len(objects) + 1, len(objects) + 2
        kids.append(f"{page_no} 0 R")
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET" if text else ""
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_no} 0 R "
            f"/Resources << /Font << /F1 {len(pages) * 2 + 3} 0 R >> >> >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>"
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def make_docx(title: str, paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    for p in paragraphs:
        document.add_paragraph(p)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


HTML = """<!doctype html><html><head><title>Banjir Jakarta Timur</title>
<meta name="date" content="2016-02-09"><script>window.__x = 1</script></head><body>
<nav><a href="/">Beranda</a> | <a href="/politik">Politik</a> | <a href="/olahraga">Olahraga</a></nav>
<article><h1>Banjir Merendam Ribuan Rumah di Jakarta Timur</h1>
<p>Banjir setinggi satu meter merendam 3.200 rumah warga di Kampung Melayu, Jakarta Timur, pada Selasa pagi.</p>
<p>Kepala Badan Penanggulangan Bencana Daerah DKI Jakarta, Denny Wahyu, mengatakan 1.500 warga mengungsi ke masjid dan sekolah terdekat.</p>
<p>Menurut Denny, hujan deras sejak Senin malam membuat Sungai Ciliwung meluap.</p></article>
<footer>Hak cipta 2016. Semua hak dilindungi.</footer></body></html>"""


def test_each_format_is_read_with_title_date_and_pages(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    write(folder / "banjir.html", HTML)
    write(
        folder / "laporan.pdf",
        make_pdf(["Laporan Tahunan Bank Sentral", "Inflasi tahun ini tercatat 3,2 persen menurut Gubernur Agus Martowardojo."]),
    )
    write(
        folder / "rapat.docx",
        make_docx("Rapat Kabinet", ["Rapat Kabinet", "Presiden memimpin rapat kabinet terbatas di Istana Bogor pada Rabu."]),
    )
    write(
        folder / "feed.jsonl",
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "title": "Gempa Lombok",
                    "text": "Gempa bermagnitudo 6,4 mengguncang Lombok Timur pada Minggu pagi.",
                    "url": "https://example.org/gempa",
                    "date": "2018-07-29",
                },
                {
                    "title": "Harga Beras",
                    "text": "Harga beras medium naik menjadi Rp 11.000 per kilogram di Pasar Induk Cipinang.",
                },
            ]
        ),
    )
    result = read_documents([folder])
    assert result.skipped == []
    docs = {d.doc_id: d for d in result.documents}
    assert set(docs) == {"banjir", "laporan", "rapat", "feed/1", "feed/2"}
    html = docs["banjir"]
    assert "3.200 rumah" in html.text and "Beranda" not in html.text and "window.__x" not in html.text
    assert "Hak cipta" not in html.text
    assert html.title.startswith("Banjir") and html.date == "2016-02-09"
    pdf = docs["laporan"]
    assert "Inflasi tahun ini" in pdf.text and pdf.page_at(pdf.text.index("Inflasi")) == 2 and pdf.page_at(0) == 1
    assert docs["rapat"].title == "Rapat Kabinet" and "Istana Bogor" in docs["rapat"].text
    assert docs["feed/1"].url == "https://example.org/gempa" and docs["feed/1"].date == "2018-07-29"
    assert docs["feed/2"].title == "Harga Beras"

    tanya = Tanya(settings_for(tmp_path / "index"))
    tanya.articles.index([folder])
    answer = tanya.ask("Berapa persen inflasi tahun ini?")
    assert "3,2 persen" in answer.text and answer.citations[0].doc_id == "laporan" and answer.citations[0].page == 2
    assert "Denny Wahyu" in tanya.ask("Siapa Kepala Badan Penanggulangan Bencana Daerah DKI Jakarta?").text
    assert "Rp 11.000" in tanya.ask("Berapa harga beras medium di Pasar Induk Cipinang?").text


def test_hostile_files_are_skipped_with_reasons_and_the_rest_is_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    write(folder / "good.txt", "Berita Baik\nWali Kota Bandung Ridwan Kamil meresmikan 25 bus listrik baru.")
    write(folder / "latin1.txt", "Gubernur Jawa Barat meresmikan café baru di Bandung.".encode("latin-1"))
    write(folder / "utf16.txt", "Menteri Susi menenggelamkan kapal asing di Natuna.".encode("utf-16"))
    write(folder / "empty.txt", b"")
    write(folder / "junk.txt", os.urandom(50_000))
    big = folder / "huge.txt"
    with open(big, "wb") as fh:  # 51 MB, written in pieces
        line = ("kata " * 20 + "\n").encode()
        for _ in range(51 * 1024 * 1024 // len(line) + 1):
            fh.write(line)
    write(folder / "scan.pdf", make_pdf(["", ""]))
    write(folder / "broken.pdf", b"%PDF-1.4\n" + os.urandom(3000))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("word/document.xml", "w") as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(260):
                member.write(block)
    write(folder / "bomb.docx", bomb.getvalue())
    write(folder / "script.html", "<html><body><script>" + "var a = 1;" * 500 + "</script></body></html>")
    write(tmp_path / "outside" / "secret.txt", "Rahasia di luar folder.")
    (folder / "escape.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    locked = write(folder / "locked.txt", "Berita terkunci tentang Kota Medan.")
    locked.chmod(0)

    tanya = Tanya(settings_for(tmp_path / "index"))
    report = tanya.articles.index([folder])
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert {"good", "latin1", "utf16"} <= set(report.added)
    assert reasons["empty.txt"].startswith("empty")
    assert "binary" in reasons["junk.txt"]
    assert "too large" in reasons["huge.txt"]
    assert "without a text layer" in reasons["scan.pdf"]
    assert "damaged PDF" in reasons["broken.pdf"]
    assert "zip bomb" in reasons["bomb.docx"]
    assert "no article text" in reasons["script.html"]
    assert "outside the folder" in reasons["escape.txt"]
    assert "loop.txt" in reasons
    # as root the permissions do not stop a read; otherwise the file is skipped with the reason
    assert "locked" in report.added or "ermission" in reasons["locked.txt"]
    assert "Ridwan Kamil" in tanya.ask("Siapa Wali Kota Bandung?").text
    assert "café" in tanya.ask("Apa yang diresmikan Gubernur Jawa Barat?").support


@pytest.mark.parametrize("bad", ["[1, 2, 3]", '{"title": "x"}', "not json at all {"])
def test_json_without_articles_is_refused(tmp_path: Path, bad: str) -> None:
    result = read_documents([write(tmp_path / "a.json", bad)])
    assert result.documents == [] and result.skipped
