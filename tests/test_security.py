"""Security: nothing outside the import root becomes answerable, uploads are bounded, editing needs
the editor role, the API needs a key. Through the library first, then through HTTP against a real
server process (the page's Gradio endpoints and the /v1 API)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import settings_for, write
from qa import Tanya
from qa.store import current_version
from qa.uploads import ImportRefused

SECRET = "Rahasia\nThe database password for the payroll server is hunter2-XYZ. Kata sandi basis data server penggajian adalah hunter2-XYZ.\n"
SECRET_Q = "What is the database password for the payroll server?"
GOOD = """Bus Listrik Bandung
Wali Kota Bandung Ridwan Kamil meresmikan sepuluh bus listrik baru pada Senin. Bus itu melayani rute Dago hingga Leuwipanjang.
"""


@pytest.fixture()
def layout(tmp_path: Path) -> dict[str, Path]:
    """An import root with a good article, a secret outside it, and links from inside to the outside."""
    root = tmp_path / "shared-articles"
    secret_dir = tmp_path / "private"
    write(secret_dir / "creds.txt", SECRET)
    write(root / "news" / "bus.txt", GOOD)
    os.symlink(secret_dir / "creds.txt", root / "news" / "creds.txt")  # a file link out of the root
    os.symlink(secret_dir, root / "news" / "private")  # a folder link out of the root
    return {"root": root, "secret": secret_dir, "tmp": tmp_path}


def _tanya(layout: dict[str, Path], **overrides) -> Tanya:
    tmp = layout["tmp"]
    tanya = Tanya(settings_for(tmp / "index", upload_dir=tmp / "uploads", **overrides))
    tanya.index()
    return tanya


def _nothing_secret(tanya: Tanya, layout: dict[str, Path]) -> None:
    answer = tanya.ask(SECRET_Q)
    assert "hunter2" not in answer.reply and all("hunter2" not in c.text for c in answer.citations)
    uploads = layout["tmp"] / "uploads"
    assert not any("hunter2" in p.read_text(errors="ignore") for p in uploads.rglob("*") if p.is_file())


def test_folder_import_is_refused_without_an_import_root(layout: dict[str, Path]) -> None:
    tanya = _tanya(layout)
    served = current_version(layout["tmp"] / "index")
    for folder in (str(layout["secret"]), str(layout["root"])):
        with pytest.raises(ImportRefused, match="QA_IMPORT_ROOT"):
            tanya.import_folder(folder)
    assert current_version(layout["tmp"] / "index") == served
    _nothing_secret(tanya, layout)


def test_folder_import_stays_inside_the_import_root(layout: dict[str, Path]) -> None:
    tanya = _tanya(layout, import_root=str(layout["root"]))
    served = current_version(layout["tmp"] / "index")
    for outside in (str(layout["secret"]), "../private", "news/../../private", "/etc", "news/private", ""):
        with pytest.raises(ImportRefused):
            tanya.import_folder(outside)
    assert current_version(layout["tmp"] / "index") == served

    report = tanya.import_folder("news")  # relative to the root; the links out of it are skipped and said so
    assert report.added == ["bus"]
    skipped = {Path(s.path).name: s.reason for s in report.skipped}
    assert "outside the import root" in skipped["creds.txt"] and "outside the import root" in skipped["private"]
    assert "Ridwan Kamil" in tanya.ask("Siapa Wali Kota Bandung?").text
    _nothing_secret(tanya, layout)
    assert tanya.import_folder(str(layout["root"])).unchanged  # an absolute path inside the root is fine


def test_an_upload_request_is_bounded_in_files_and_bytes(layout: dict[str, Path]) -> None:
    tanya = _tanya(layout, max_upload_files=3, max_upload_mb=0.0004)
    served = current_version(layout["tmp"] / "index")
    small = [(write(layout["tmp"] / "in" / f"a{i}.txt", GOOD), f"a{i}.txt") for i in range(4)]
    with pytest.raises(ImportRefused, match="too many files"):
        tanya.add_files(small)
    with pytest.raises(ImportRefused, match="limit per request"):
        tanya.add_files(small[:3])  # 3 × ~190 bytes > 419 bytes
    assert current_version(layout["tmp"] / "index") == served
    assert not (layout["tmp"] / "uploads").exists() or not any((layout["tmp"] / "uploads").iterdir())
