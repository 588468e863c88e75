"""The probe: a real server with users and an import root, a secret planted outside it, and every page
handler Gradio lists called over HTTP — as a stranger, a reader and an editor — with file payloads of
every shape naming the secret. The secret must never come back, never be indexed, never be copied.

New handlers are covered by themselves: the list comes from the server (`/gradio_api/info`)."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import SEEDS, Site, log_in_page, serve_app, write
from test_security import PASSWORDS, _qa

MARK = "hunter2-XYZ"
SECRET = f"Rahasia\nThe database password for the payroll server is {MARK}. Kata sandi server penggajian adalah {MARK}.\n"


class PageSession:
    """One browser's worth of HTTP: a login cookie (or none) and Gradio's call routes."""

    def __init__(self, url: str, user: str | None = None) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=60)
        if user is not None:
            done = self.http.post("login", data={"username": user, "password": PASSWORDS[user]})
            assert done.status_code == 200, done.text

    def upload(self, name: str, content: bytes) -> str:
        done = self.http.post("gradio_api/upload", files={"files": (name, content, "text/plain")})
        assert done.status_code == 200, done.text
        return done.json()[0]

    def call(self, api_name: str, data: list, session_hash: str | None = None) -> tuple[int, str]:
        """Status of the call and everything the server said back (the event stream included)."""
        body = {"data": data} if session_hash is None else {"data": data, "session_hash": session_hash}
        started = self.http.post(f"gradio_api/call/{api_name.lstrip('/')}", json=body)
        if started.status_code != 200:
            return started.status_code, started.text
        event = started.json()["event_id"]
        with self.http.stream("GET", f"gradio_api/call/{api_name.lstrip('/')}/{event}") as stream:
            return 200, "".join(stream.iter_text())

    def result(self, api_name: str, data: list) -> Any:
        status, text = self.call(api_name, data)
        assert status == 200, text
        complete = text.split("event: complete\ndata: ", 1)
        assert len(complete) == 2, text
        return json.loads(complete[1].split("\n", 1)[0])


def file_payloads(secret: Path) -> list[Any]:
    """A file naming the secret in every shape a Gradio payload can carry one."""
    path = str(secret)
    data = {"path": path, "orig_name": "vault.txt", "meta": {"_type": "gradio.FileData"}}
    message = {"role": "user", "content": [{"type": "file", "file": data}]}
    return [
        data,
        [data],
        {"path": path},
        {"url": f"file://{path}", "path": None},
        {"path": f"../../../..{path}", "meta": {"_type": "gradio.FileData"}},
        [message],
        [{"role": "user", "content": {"path": path, "meta": {"_type": "gradio.FileData"}}}],
        {
            "": {
                "chats": [{"id": "x", "title": "t", "shown": [message], "said": [], "markdown": [], "sources": ""}],
                "current": "x",
            }
        },
        {"__type__": "update", "value": data},
        {"index": [0, 0], "value": data, "row_value": [data], "col_value": [data], "selected": True},
        path,
    ]


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("probe")
    root = tmp / "import-root"
    write(root / "news" / "bus.txt", "Bus Listrik Bandung\nWali Kota Bandung Ridwan Kamil meresmikan sepuluh bus listrik baru.\n")
    secret = write(tmp / "private" / "vault.txt", SECRET)
    users = str(tmp / "users.json")
    _qa("user", "add", "alice", "--role", "editor", "--users-file", users, stdin=PASSWORDS["alice"] + "\n")
    _qa("user", "add", "bob", "--role", "reader", "--users-file", users, stdin=PASSWORDS["bob"] + "\n")
    key = _qa("user", "key", "alice", "--users-file", users)
    with serve_app(tmp, SEEDS, QA_IMPORT_ROOT=str(root), GRADIO_TEMP_DIR=str(tmp / "gradio")) as url:
        yield {"url": url, "tmp": tmp, "secret": secret, "key": key}


def _endpoints(url: str) -> dict[str, int]:
    """Every handler the page exposes (named by Gradio) and how many inputs it takes."""
    info = PageSession(url, "alice").http.get("gradio_api/info").json()
    endpoints = {}
    for group in ("named_endpoints", "unnamed_endpoints"):
        for name, spec in (info.get(group) or {}).items():
            endpoints[str(name)] = len(spec.get("parameters", []))
    assert {
        "/respond",
        "/add_files",
        "/add_folder",
        "/rebuild",
        "/remove_article",
        "/switch",
        "/open_page",
        "/like",
        "/explain",
        "/show",
    } <= set(endpoints)
    return endpoints


def _files_served(text: str) -> list[str]:
    return sorted(set(re.findall(r"gradio_api/file=[^\"'\\\s)]+", text)))


def test_no_handler_gives_out_copies_or_indexes_a_server_file(probed: dict) -> None:
    url, secret = probed["url"], probed["secret"]
    endpoints = _endpoints(url)
    sessions = {"stranger": PageSession(url), "reader": PageSession(url, "bob"), "editor": PageSession(url, "alice")}
    said: list[str] = []
    calls = 0
    for role, session in sessions.items():
        for name, arity in endpoints.items():
            for payload in file_payloads(secret):
                for data in ([payload] * max(arity, 1), [payload] + ["x"] * (arity - 1)):
                    status, text = session.call(name, data)
                    calls += 1
                    if role == "stranger":
                        assert status == 401, (name, status, text[:200])
                    said.append(text)
                    for link in _files_served(text):  # anything a handler handed out as a file, fetched
                        said.append(session.http.get(link).text)
    assert calls > 300
    leaked = [t[:300] for t in said if MARK in t]
    assert not leaked, leaked

    # never indexed: asked of the API, and no passage holds it
    asked = httpx.post(
        url + "v1/ask",
        json={"question": "What is the database password for the payroll server?"},
        headers={"Authorization": f"Bearer {probed['key']}"},
        timeout=60,
    )
    assert asked.status_code == 200 and MARK not in asked.text
    # never copied: not in Gradio's cache, the uploads, the index, or anywhere else under the server's folder
    copies = [
        p
        for p in probed["tmp"].rglob("*")
        if p.is_file() and p != secret and p.name != "app.log" and MARK.encode() in p.read_bytes()
    ]
    assert not copies, copies


def test_a_file_is_accepted_only_from_the_session_that_uploaded_it(probed: dict) -> None:
    url = probed["url"]
    alice, other_alice, bob = PageSession(url, "alice"), PageSession(url, "alice"), PageSession(url, "bob")
    article = b"Kereta Cepat\nKereta cepat Jakarta-Bandung diresmikan oleh Presiden pada Senin pagi.\n"
    mine = alice.upload("kereta.txt", article)
    theirs = bob.upload("kereta-bob.txt", article)
    data = {"path": theirs, "orig_name": "kereta-bob.txt", "meta": {"_type": "gradio.FileData"}}
    assert alice.call("/add_files", [[data]])[0] == 403  # a reader's upload, named by an editor
    assert other_alice.call("/add_files", [[{**data, "path": mine}]])[0] == 403  # same user, another session
    message = alice.result("/add_files", [[{**data, "path": mine, "orig_name": "kereta.txt"}], "default"])[0]
    assert "Index updated" in message and "kereta" in message
    assert (probed["tmp"] / "uploads" / "kereta.txt").read_bytes() == article


def test_strangers_see_the_login_form_and_nothing_else(probed: dict) -> None:
    url = probed["url"]
    page = httpx.get(url, timeout=30, headers={"Accept-Encoding": "br, gzip"}).text
    assert "auth_required" in page
    for leak in ("/respond", "add_folder", "import-root", str(probed["tmp"])):
        assert leak not in page, leak
    for path in ("config", "gradio_api/info", "gradio_api/upload", "gradio_api/file=/etc/passwd", "gradio_api/queue/join"):
        assert httpx.get(url + path, timeout=30).status_code in (401, 405), path
    for path in ("openapi.json", "gradio_api/openapi.json", "monitoring", "monitoring/summary", "gradio_api/runs", "docs"):
        for session in (PageSession(url), PageSession(url, "alice")):
            assert session.http.get(path).status_code == 404, path
    headers = httpx.get(url, timeout=30).headers
    assert (
        "default-src 'self'" in headers["content-security-policy"]
        and "img-src 'self' data: blob:" in headers["content-security-policy"]
    )


def test_a_reader_sees_no_server_paths(probed: dict) -> None:
    """The page's layout (sent to every reader) does not name the import root; citations name files
    relative to their collection folder."""
    bob = PageSession(probed["url"], "bob")
    config = bob.http.get("config").text
    assert str(probed["tmp"]) not in config and "import-root" not in config
    answer = httpx.post(
        probed["url"] + "v1/ask",
        json={"question": "Who offered Jack Ma the advisor role?"},
        headers={"Authorization": f"Bearer {probed['key']}"},
        timeout=60,
    ).json()
    assert answer["citations"]
    for c in answer["citations"]:
        assert not c["source"].startswith("/") and str(probed["tmp"]) not in c["source"]
    assert str(probed["tmp"]) not in json.dumps(answer)


def _team(tmp: Path) -> None:
    users = str(tmp / "users.json")
    for name, role in (("alice", "editor"), ("bob", "reader")):
        _qa("user", "add", name, "--role", role, "--users-file", users, stdin=PASSWORDS[name] + "\n")


@pytest.mark.slow  # a server of its own
def test_wrong_logins_are_throttled_per_user_then_per_address(tmp_path: Path) -> None:
    _team(tmp_path)
    with serve_app(tmp_path, SEEDS) as url:
        _throttled(url)


def _throttled(url: str) -> None:
    statuses = [
        httpx.post(url + "login", data={"username": "bob", "password": "not-it"}, timeout=30).status_code for _ in range(7)
    ]
    assert statuses[:5] == [400] * 5 and statuses[5:] == [429, 429]
    throttled = httpx.post(url + "login", data={"username": "bob", "password": PASSWORDS["bob"]}, timeout=30)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1  # even the right password waits
    # another user from the same address is not locked out by bob's five
    assert httpx.post(url + "login", data={"username": "alice", "password": PASSWORDS["alice"]}, timeout=30).status_code == 200
    for n in range(20):  # an address gets 20 wrong logins over any names, then waits too
        httpx.post(url + "login", data={"username": f"guess{n}", "password": "x"}, timeout=30)
    assert httpx.post(url + "login", data={"username": "alice", "password": PASSWORDS["alice"]}, timeout=30).status_code == 429


@pytest.mark.slow  # a server of its own
def test_a_removed_or_demoted_users_session_ends(tmp_path: Path) -> None:
    _team(tmp_path)
    users = str(tmp_path / "users.json")
    with serve_app(tmp_path, SEEDS) as url:
        alice, bob = PageSession(url, "alice"), PageSession(url, "bob")
        assert alice.http.get("config").status_code == 200 and bob.http.get("config").status_code == 200
        _qa("user", "add", "alice", "--role", "reader", "--users-file", users, stdin=PASSWORDS["alice"] + "\n")
        _qa("user", "remove", "bob", "--users-file", users)
        for session in (alice, bob):
            ended = session.http.get("config")
            assert ended.status_code == 401 and "session has ended" in ended.text
            assert session.http.get("config").status_code == 401  # and stays ended
            assert session.call("/respond", ["Siapa pendiri Alibaba?", False, {}])[0] == 401
        relogged = PageSession(url, "alice")  # as a reader now
        assert "Refused" in relogged.result("/rebuild", ["default"])[0]


def test_malformed_api_bodies_are_400s(probed: dict) -> None:
    headers = {"Authorization": f"Bearer {probed['key']}", "Content-Type": "application/json"}
    bodies = {
        "deep": b'{"question": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
        "lone surrogate": b'{"question": "\\ud800"}',
        "5,000 digits": b'{"question": ' + b"9" * 5000 + b"}",
        "not UTF-8": b'{"question": "\xff\xfe"}',
    }
    for route in ("v1/ask", "v1/chat/completions"):
        for what, body in bodies.items():
            done = httpx.post(probed["url"] + route, content=body, headers=headers, timeout=60)
            assert done.status_code == 400 and done.json()["error"]["code"] == "invalid_json", (route, what, done.text)


def test_one_malformed_request_writes_a_bounded_log(probed: dict) -> None:
    log = probed["tmp"] / "app.log"
    before = len(log.read_text().splitlines())
    bob = PageSession(probed["url"], "bob")
    history = [{"role": "user", "content": {"n": n}} for n in range(1_999)]
    for name in ("/add_files", "/switch"):
        bob.call(name, [history, history])
    assert bob.call("/switch", [[{"n": n} for n in range(10_000)], {}])[0] == 413  # longer than the page ever sends
    written = log.read_text().splitlines()[before:]
    assert len(written) <= 2 * 202 and all(len(line) <= 2_100 for line in written), len(written)


@pytest.mark.slow  # a server of its own
def test_an_upload_keeps_what_it_did_not_read(tmp_path: Path) -> None:
    """A server started from another folder than the one its index was built from (its seeds folder is
    not there) adds an upload to the collection and removes nothing."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with serve_app(tmp_path, SEEDS) as url:  # builds the index from the seeds, then stops
        assert PageSession(url).http.get("config").status_code == 200
    with serve_app(tmp_path, None, cwd=elsewhere) as url:  # the default seeds/ is not there
        page = PageSession(url)
        path = page.upload("bus.txt", b"Bus Listrik Bandung\nWali Kota Bandung Ridwan Kamil meresmikan bus listrik.\n")
        message = page.result(
            "/add_files", [[{"path": path, "orig_name": "bus.txt", "meta": {"_type": "gradio.FileData"}}], "default"]
        )[0]
        assert "Index updated" in message and "Removed" not in message, message
        asked = httpx.post(url + "v1/ask", json={"question": "Siapa yang menawari Jack Ma menjadi penasehat?"}, timeout=60).json()
        assert "Joko Widodo" in asked["answer"], asked
        assert [c["source"] for c in asked["citations"]][0].startswith("seeds/")


# -- second round: what an attacker tried next (issue: no page fetches the internet, no stranger locks the team out)

ASKED = "Siapa yang menawari Jack Ma menjadi penasehat?"


def test_no_file_route_fetches_a_url(probed: dict) -> None:
    """Gradio's file route proxies a URL for the visitor and serves it from Tanya's origin (a page's
    script would run as Tanya): every form of it is 404 before Gradio sees it, and nothing is fetched."""
    site = Site()
    target = site.put("/page.html", b"<html><script>fetch('/gradio_api/info')</script></html>")
    bob = PageSession(probed["url"], "bob")
    bare = target.removeprefix("http:")
    for path in (
        f"gradio_api/file={target}",
        f"gradio_api/file/{target}",
        f"gradio_api/file={target.replace('http://', 'HTTP://')}",
        f"gradio_api/file={target.replace('http://', 'https://')}",
        f"gradio_api/file={bare}",
        f"gradio_api/file=ftp:{bare}",
    ):
        for method in (bob.http.get, bob.http.head):
            assert method(path).status_code == 404, path
    assert site.hits == {}


def test_a_page_session_belongs_to_the_login_that_first_used_it(probed: dict) -> None:
    url = probed["url"]
    bob, alice = PageSession(url, "bob"), PageSession(url, "alice")
    mine = "tanya" + secrets.token_hex(6)
    status, said = bob.call("/respond", [ASKED, False, {}, ["default"], "", ""], session_hash=mine)
    assert status == 200 and "Joko Widodo" in said, said[-500:]
    # another login naming bob's page session reaches nothing of it
    assert alice.call("/open_page", ["", {}], session_hash=mine)[0] == 403
    assert alice.call("/respond", ["Di bidang apa?", False, {}, ["default"], "", ""], session_hash=mine)[0] == 403
    assert alice.http.get("gradio_api/queue/data", params={"session_hash": mine}).status_code == 403
    assert alice.http.get(f"gradio_api/heartbeat/{mine}").status_code == 403
    joined = {"data": ["x", False, {}, ["default"], "", ""], "fn_index": 0, "session_hash": mine}
    assert alice.http.post("gradio_api/queue/join", json=joined).status_code == 403
    # nor the results of an event bob's call started
    started = bob.http.post("gradio_api/call/respond", json={"data": [ASKED, False, {}, ["default"], "", ""]}).json()
    assert alice.http.get(f"gradio_api/call/respond/{started['event_id']}").status_code == 404
    with bob.http.stream("GET", f"gradio_api/call/respond/{started['event_id']}") as stream:
        assert stream.status_code == 200 and "Joko Widodo" in "".join(stream.iter_text())
    # bob goes on in it
    assert bob.call("/respond", ["Di bidang apa?", False, {}, ["default"], "", ""], session_hash=mine)[0] == 200


def test_malformed_page_calls_get_4xx_and_the_server_answers_on(probed: dict) -> None:
    url = probed["url"]
    bob = PageSession(url, "bob")
    statuses: dict[str, int] = {}
    for name, arity in _endpoints(url).items():
        shapes: dict[str, list[Any]] = {
            "too many": ["x"] * (arity + 1),
            "numbers": [12345] * arity,
            "objects": [{"x": [1, None]}] * arity,
            "nulls": [None] * arity,
            "lists": [[["a", 1]]] * arity,
        }
        if arity:
            shapes["too few"] = ["x"] * (arity - 1)
        for shape, data in shapes.items():
            statuses[f"{name} {shape}"] = bob.call(name, data)[0]
    for name in ("nope", "respond/../info"):
        statuses[f"call {name}"] = bob.http.post(f"gradio_api/call/{name}", json={"data": []}).status_code
    for fn_index in (9999, -1, 10**30, "x", True, None, 1.5):
        body: dict[str, Any] = {"data": [], "fn_index": fn_index, "session_hash": "h" + secrets.token_hex(4)}
        statuses[f"join {fn_index}"] = bob.http.post("gradio_api/queue/join", json=body).status_code
    for route in ("run/nope", "run/respond", "api/respond", "call/v2/respond"):
        statuses[route] = bob.http.post(f"gradio_api/{route}", json={"data": []}).status_code
    for component in (99999, -1, "x", 0):
        body = {"component_id": component, "fn_name": "nope", "data": None, "session_hash": "h" + secrets.token_hex(4)}
        statuses[f"component {component}"] = bob.http.post("gradio_api/component_server", json=body).status_code
    for query in ("", "?session_hash=", "?session_hash=never-used"):  # Gradio would break off a stream
        statuses[f"queue/data{query}"] = bob.http.get(f"gradio_api/queue/data{query}").status_code
    statuses["unknown event"] = bob.http.get("gradio_api/call/respond/no-such-event").status_code
    surrogate = b'{"data": ["\\ud800 siapa?", false, {}, ["default"], "", ""]}'
    statuses["lone surrogate"] = bob.http.post(
        "gradio_api/call/respond", content=surrogate, headers={"Content-Type": "application/json"}
    ).status_code
    failed = {what: status for what, status in statuses.items() if status >= 500}
    assert not failed, failed
    refused = {what for what, status in statuses.items() if 400 <= status < 500}
    assert {
        "call nope",
        "join 9999",
        "join -1",
        f"join {10**30}",
        "run/nope",
        "component 99999",
        "lone surrogate",
        "/respond too few",
        "/respond too many",
        "queue/data?session_hash=",
        "queue/data?session_hash=never-used",
        "unknown event",
    } <= refused, statuses
    answered = bob.result("/respond", [ASKED, False, {}, ["default"], "", ""])
    assert "Joko Widodo" in json.dumps(answered)


def test_another_sites_page_cannot_act_for_a_visitor(probed: dict) -> None:
    url = probed["url"]
    evil = {"Origin": "https://evil.example"}
    login = {"username": "bob", "password": PASSWORDS["bob"]}
    refused = httpx.post(url + "login", data=login, headers=evil, timeout=30)
    assert refused.status_code == 403 and "set-cookie" not in refused.headers
    sneaky = httpx.post(url + "login", data=login, headers={"Sec-Fetch-Site": "cross-site"}, timeout=30)
    assert sneaky.status_code == 403
    bob = PageSession(url, "bob")
    upload = bob.http.post("gradio_api/upload", files={"files": ("a.txt", b"x", "text/plain")}, headers=evil)
    assert upload.status_code == 403
    called = bob.http.post("gradio_api/call/respond", json={"data": [ASKED, False, {}, ["default"], "", ""]}, headers=evil)
    assert called.status_code == 403
    asked = httpx.post(
        url + "v1/ask", json={"question": ASKED}, headers={**evil, "Authorization": f"Bearer {probed['key']}"}, timeout=60
    )
    assert asked.status_code == 403
    assert bob.http.get("logout", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    # the page's own requests go through, and its login cookie is not sent along by other sites' requests
    own = httpx.post(url + "login", data=login, headers={"Origin": url.rstrip("/")}, timeout=30)
    assert own.status_code == 200
    cookies = own.headers.get_list("set-cookie")
    assert cookies and all("SameSite=Lax" in c and "SameSite=none" not in c and "Secure" not in c for c in cookies), cookies
    assert PageSession(url, "bob").http.get("gradio_api/info").status_code == 200


def _multipart_login(url: str, name: str, password: str, **headers: str) -> int:
    form = {"username": (None, name), "password": (None, password)}
    return httpx.post(url + "login", files=form, headers=headers, timeout=30).status_code


@pytest.mark.browser
def test_strangers_cannot_delay_a_users_login(tmp_path: Path, browser) -> None:
    """Gradio's login form sends multipart: wrong logins are counted under the name the login checks,
    so six for made-up names leave a real user's browser login alone, and six for that user do not."""
    _team(tmp_path)
    with serve_app(tmp_path, SEEDS) as url:
        assert [_multipart_login(url, f"nobody{n}", "wrong") for n in range(6)] == [400] * 6
        log_in_page(browser, url, "alice", PASSWORDS["alice"]).close()  # through the form, in Chromium
        # the form is filled before the wrong tries, so that it is sent within the wait they earn (2 s)
        # however busy the machine is
        page = browser.new_page()
        page.goto(url)
        page.locator("input[type=password]").wait_for(timeout=30_000)
        page.locator("input:not([type=password])").first.fill("alice")
        page.locator("input[type=password]").fill(PASSWORDS["alice"])
        tries = [_multipart_login(url, "alice", "wrong") for _ in range(6)]
        assert tries[:5] == [400] * 5 and tries[5] == 429, tries
        with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as sent:
            page.locator("input[type=password]").press("Enter")
        assert sent.value.status == 429
        page.close()
        # a name given twice is refused, whichever of the two the login would have checked
        twice = httpx.post(
            url + "login",
            content=f"username=decoy&username=bob&password={PASSWORDS['bob']}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=30,
        )
        assert twice.status_code == 400 and "more than once" in twice.text
        assert _multipart_login(url, "bob", PASSWORDS["bob"]) == 200


@pytest.mark.slow  # two servers of their own
def test_forwarded_addresses_are_believed_only_from_named_proxies(tmp_path: Path) -> None:
    _team(tmp_path)

    def guesses(url: str) -> list[int]:
        return [_multipart_login(url, f"guess{n}", "wrong", **{"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(21)]

    with serve_app(tmp_path, SEEDS) as url:  # nobody named: forged addresses are the same connection
        assert guesses(url)[-1] == 429
    with serve_app(tmp_path, SEEDS, QA_TRUSTED_PROXIES="127.0.0.1") as url:  # a proxy on 127.0.0.1 named
        assert guesses(url) == [400] * 21  # each forwarded address counted on its own
        over_https = httpx.post(
            url + "login",
            data={"username": "bob", "password": PASSWORDS["bob"]},
            headers={"X-Forwarded-Proto": "https"},
            timeout=30,
        )
        assert over_https.status_code == 200
        assert all("Secure" in c and "SameSite=Lax" in c for c in over_https.headers.get_list("set-cookie"))
