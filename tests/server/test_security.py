"""Security: nothing outside the import root becomes answerable, uploads are bounded, editing needs
the editor role, the API needs a key. Through the library first, then through HTTP against a real
server process (the page's Gradio endpoints and the /v1 API)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, SEEDS, free_port, log_in_page, serve_app, settings_for, write

from qa import Tanya
from qa.errors import ImportRefused
from qa.index.versions import current_version

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
    tanya.articles.index()
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
            tanya.articles.import_folder(folder)
    assert current_version(layout["tmp"] / "index") == served
    _nothing_secret(tanya, layout)


def test_folder_import_stays_inside_the_import_root(layout: dict[str, Path]) -> None:
    tanya = _tanya(layout, import_root=str(layout["root"]))
    served = current_version(layout["tmp"] / "index")
    for outside in (str(layout["secret"]), "../private", "news/../../private", "/etc", "news/private", ""):
        with pytest.raises(ImportRefused):
            tanya.articles.import_folder(outside)
    assert current_version(layout["tmp"] / "index") == served

    report = tanya.articles.import_folder("news")  # relative to the root; the links out of it are skipped and said so
    assert report.added == ["bus"]
    skipped = {Path(s.path).name: s.reason for s in report.skipped}
    assert "outside the import root" in skipped["creds.txt"] and "outside the import root" in skipped["private"]
    assert "Ridwan Kamil" in tanya.ask("Siapa Wali Kota Bandung?").text
    _nothing_secret(tanya, layout)
    assert tanya.articles.import_folder(str(layout["root"])).unchanged  # an absolute path inside the root is fine


def test_an_upload_request_is_bounded_in_files_and_bytes(layout: dict[str, Path]) -> None:
    tanya = _tanya(layout, max_upload_files=3, max_upload_mb=0.0004)
    served = current_version(layout["tmp"] / "index")
    small = [(write(layout["tmp"] / "in" / f"a{i}.txt", GOOD), f"a{i}.txt") for i in range(4)]
    with pytest.raises(ImportRefused, match="too many files"):
        tanya.articles.add_files(small)
    with pytest.raises(ImportRefused, match="limit per request"):
        tanya.articles.add_files(small[:3])  # 3 × ~190 bytes > 419 bytes
    assert current_version(layout["tmp"] / "index") == served
    assert not (layout["tmp"] / "uploads").exists() or not any((layout["tmp"] / "uploads").iterdir())


# --- through HTTP: a real server with users --------------------------------------------------------

PASSWORDS = {"alice": "alice-editor-pw", "bob": "bob-reader-pw"}


def _qa(*args: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "-m", "qa", *args], cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """app.py with an editor (alice) and a reader (bob), an import root, and a secret beside it."""
    tmp = tmp_path_factory.mktemp("team")
    layout_dir = tmp / "shared-articles"
    write(tmp / "private" / "creds.txt", SECRET)
    write(layout_dir / "news" / "bus.txt", GOOD)
    os.symlink(tmp / "private" / "creds.txt", layout_dir / "news" / "creds.txt")
    users = str(tmp / "users.json")
    _qa("user", "add", "alice", "--role", "editor", "--users-file", users, stdin=PASSWORDS["alice"] + "\n")
    _qa("user", "add", "bob", "--role", "reader", "--users-file", users, stdin=PASSWORDS["bob"] + "\n")
    keys = {name: _qa("user", "key", name, "--users-file", users) for name in PASSWORDS}
    with serve_app(tmp, SEEDS, QA_IMPORT_ROOT=str(layout_dir)) as url:
        yield {"url": url, "tmp": tmp, "keys": keys}


def _served(tmp: Path) -> str:
    return (tmp / "index" / "CURRENT").read_text()


def _api_ask(team: dict, question: str, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return httpx.post(team["url"] + "v1/ask", json={"question": question}, headers=headers, timeout=60)


def test_the_api_wants_a_valid_key(team: dict) -> None:
    for key in (None, "tanya-wrong", team["keys"]["bob"] + "x", PASSWORDS["alice"]):
        response = _api_ask(team, "Apa nama sebelumnya dari Tmall?", key)
        assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(team["url"] + "v1/models", timeout=30).status_code == 401
    for name in ("alice", "bob"):
        assert _api_ask(team, "Apa nama sebelumnya dari Tmall?", team["keys"][name]).json()["answer"] == "Taobao Mall"


def test_the_page_wants_a_login(team: dict) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AuthenticationError

    with pytest.raises(AuthenticationError):  # the gate answers 401 to a caller with no login
        Client(team["url"], verbose=False)
    with pytest.raises(ValueError, match="Could not login"):  # Gradio's 400 to a wrong password
        Client(team["url"], auth=("bob", "not-his-password"), verbose=False)
    # the Gradio API behind the page refuses a caller without the login cookie
    assert httpx.post(team["url"] + "gradio_api/call/rebuild", json={"data": []}, timeout=30).status_code in (401, 403)


def test_a_reader_cannot_change_the_index(team: dict) -> None:
    from gradio_client import Client, handle_file

    served = _served(team["tmp"])
    bob = Client(team["url"], auth=("bob", PASSWORDS["bob"]), verbose=False)
    article = write(team["tmp"] / "in" / "bus-upload.txt", GOOD)
    for call in (
        lambda: bob.predict("default", api_name="/rebuild"),
        lambda: bob.predict("news", "default", api_name="/add_folder"),
        lambda: bob.predict([handle_file(str(article))], "default", api_name="/add_files"),
        lambda: bob.predict("", "default", api_name="/remove_article"),
    ):
        message = call()[0]
        assert "Refused" in message and "may not change" in message
    assert _served(team["tmp"]) == served
    assert not (team["tmp"] / "uploads").exists()


def test_an_editor_imports_only_from_the_import_root(team: dict) -> None:
    from gradio_client import Client

    alice = Client(team["url"], auth=("alice", PASSWORDS["alice"]), verbose=False)
    served = _served(team["tmp"])
    for outside in (str(team["tmp"] / "private"), "../private", "/etc", "news/../../private"):
        message = alice.predict(outside, "default", api_name="/add_folder")[0]
        assert "Nothing changed" in message and "import root" in message, message
    assert _served(team["tmp"]) == served
    message = alice.predict("news", "default", api_name="/add_folder")[0]
    assert "Index updated" in message and "bus" in message and "outside the import root" in message
    answer = _api_ask(team, SECRET_Q, team["keys"]["alice"]).json()
    assert "hunter2" not in json.dumps(answer)
    uploads = team["tmp"] / "uploads"
    assert sorted(p.name for p in uploads.iterdir()) == ["bus.txt"]
    assert "Ridwan Kamil" in _api_ask(team, "Siapa Wali Kota Bandung?", team["keys"]["bob"]).json()["answer"]


def test_no_open_server_on_a_network_address(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(QA_USERS_FILE=str(tmp_path / "users.json"), QA_SEEDS_DIR=str(SEEDS))
    done = subprocess.run(
        [sys.executable, "app.py", "--host", "0.0.0.0", "--port", str(free_port()), "--index-dir", str(tmp_path / "index")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "refusing to serve on 0.0.0.0 with no users" in done.stderr


@pytest.mark.slow  # a server of its own
def test_anonymous_visitors_on_a_network_only_read(tmp_path: Path) -> None:
    from gradio_client import Client

    with serve_app(tmp_path, SEEDS, "--host", "0.0.0.0", "--allow-anonymous") as url:
        served = _served(tmp_path)
        visitor = Client(url, verbose=False)
        assert "Refused" in visitor.predict("default", api_name="/rebuild")[0]
        assert _served(tmp_path) == served
        response = httpx.post(url + "v1/ask", json={"question": "Apa nama sebelumnya dari Tmall?"}, timeout=60)
        assert response.json()["answer"] == "Taobao Mall"


@pytest.mark.slow  # a server of its own
def test_an_open_local_server_answers_only_to_its_own_names(tmp_path: Path) -> None:
    """DNS rebinding: a web page whose name now resolves to 127.0.0.1 would be same-origin with an open
    local server (read its articles, change its index). Such a name gets 400 before anything else."""
    with serve_app(tmp_path, SEEDS, QA_ALLOWED_HOSTS="tanya.example.org") as url:
        port = url.rstrip("/").rsplit(":", 1)[1]
        served = _served(tmp_path)
        for host in (f"evil.example.com:{port}", "evil.example.com", f"127.0.0.1.nip.io:{port}"):
            headers = {"Host": host}
            page = httpx.get(url, headers=headers, timeout=30)
            assert page.status_code == 400 and "QA_ALLOWED_HOSTS" in page.text and "Tanya" not in page.text
            asked = httpx.post(url + "v1/ask", json={"question": "Apa nama sebelumnya dari Tmall?"}, headers=headers, timeout=60)
            assert asked.status_code == 400 and "Taobao" not in asked.text
            upload = httpx.post(
                url + "gradio_api/upload", headers=headers, timeout=30, files={"files": ("bus.txt", GOOD.encode(), "text/plain")}
            )
            assert upload.status_code == 400
        assert _served(tmp_path) == served
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "tanya.example.org", f"TANYA.example.org:{port}"):
            asked = httpx.post(
                url + "v1/ask", json={"question": "Apa nama sebelumnya dari Tmall?"}, headers={"Host": host}, timeout=60
            )
            assert asked.status_code == 200 and asked.json()["answer"] == "Taobao Mall", host


@pytest.mark.browser
def test_the_page_shows_editing_to_editors_only(team: dict, browser) -> None:
    for name, sees in (("bob", False), ("alice", True)):
        page = log_in_page(browser, team["url"], name, PASSWORDS[name])
        page.get_by_role("tab", name="Collection").wait_for(timeout=10_000)
        page.wait_for_timeout(500)  # the role-dependent tab is set when the page has loaded
        assert page.get_by_role("tab", name="Add articles").count() == (1 if sees else 0), name
        if sees:  # the import root is configured: its folder field is offered
            page.get_by_role("tab", name="Add articles").click()
            assert "under" in page.locator("#folder").inner_text()
        page.close()


def test_uploads_through_http_lose_their_folders(team: dict) -> None:
    from gradio_client import Client

    cookies = httpx.post(team["url"] + "login", data={"username": "alice", "password": PASSWORDS["alice"]}, timeout=30).cookies
    uploaded = httpx.post(
        team["url"] + "gradio_api/upload",
        cookies=cookies,
        timeout=30,
        files={"files": ("../../escape.txt", GOOD.replace("Bandung", "Bogor").encode(), "text/plain")},
    )
    assert uploaded.status_code == 200, uploaded.text
    [server_path] = uploaded.json()
    alice = Client(team["url"], auth=("alice", PASSWORDS["alice"]), verbose=False)
    crafted = {"path": server_path, "orig_name": "../../../../tmp/escape.txt", "meta": {"_type": "gradio.FileData"}}
    message = alice.predict([crafted], "default", api_name="/add_files")[0]
    assert "Index updated" in message and "escape" in message
    assert (team["tmp"] / "uploads" / "escape.txt").is_file()
    assert not (team["tmp"] / "escape.txt").exists() and not Path("/tmp/escape.txt").exists()
