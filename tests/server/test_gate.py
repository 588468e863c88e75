"""The gate's rules on their own (qa/server/gate.py, calls.py, logins.py): which file routes name a URL,
which requests come from another site, how a login form is read. Through a real server: test_probe.py."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from qa.server.calls import Refusal, SessionHashes, inspect_payload
from qa.server.gate import _cross_site, _lax_cookie, _names_a_url
from qa.server.logins import BadLoginForm, read_login_form


@pytest.mark.parametrize(
    "path",
    [
        "/gradio_api/file=http://93.184.215.14/page.html",
        "/gradio_api/file=https://example.com/x.html",
        "/gradio_api/file=HTTPS://Example.com/x",
        "/gradio_api/file/http://example.com/x",
        "/gradio_api/file=//example.com/x",
        "/gradio_api/file=\\\\example.com\\x",
        "/gradio_api/file= http://example.com/",
        "/gradio_api/file=ftp://example.com/x",
        "/gradio_api/file=file:///etc/passwd",
        "/gradio_api/file=data:text/html,<script>alert(1)</script>",
    ],
)
def test_a_file_route_naming_a_url_is_recognised(path: str) -> None:
    assert _names_a_url(path)


@pytest.mark.parametrize(
    "path", ["/gradio_api/file=/tmp/gradio/abc/article.txt", "/gradio_api/file/tmp/gradio/x.txt", "/gradio_api/info", "/"]
)
def test_a_file_route_naming_a_file_is_not_a_url(path: str) -> None:
    assert not _names_a_url(path)


def _scope(method: str = "POST", path: str = "/gradio_api/queue/join", **headers: str) -> dict:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }


def test_a_request_that_changes_something_from_another_site_is_cross_site() -> None:
    here = {"host": "127.0.0.1:7860"}
    assert _cross_site(_scope(origin="https://evil.example", **here), "POST", "/login")
    assert _cross_site(_scope(origin="http://127.0.0.1:7861", **here), "POST", "/login")  # another port
    assert _cross_site(_scope(origin="null", **here), "POST", "/gradio_api/upload")
    assert _cross_site(_scope(sec_fetch_site="cross-site", **here), "POST", "/gradio_api/upload")
    assert _cross_site(_scope("GET", "/logout", sec_fetch_site="cross-site", **here), "GET", "/logout")
    # the page's own requests, and clients that are not browsers
    assert not _cross_site(_scope(origin="http://127.0.0.1:7860", **here), "POST", "/login")
    assert not _cross_site(_scope(origin="http://localhost:7860", host="localhost:7860"), "POST", "/login")
    assert not _cross_site(_scope(origin="https://tanya.example", host="tanya.example"), "POST", "/login")
    assert not _cross_site(_scope(**here), "POST", "/v1/ask")
    # reading is not changing: a link from another site still opens the page
    assert not _cross_site(_scope("GET", "/", sec_fetch_site="cross-site", **here), "GET", "/")


def test_cookies_are_same_site_lax_and_secure_only_over_https() -> None:
    gradio = b"access-token-x=abc; HttpOnly; Path=/; SameSite=none; Secure"
    assert _lax_cookie(gradio, secure=False) == b"access-token-x=abc; HttpOnly; Path=/; SameSite=Lax"
    assert _lax_cookie(gradio, secure=True) == b"access-token-x=abc; HttpOnly; Path=/; SameSite=Lax; Secure"


def _form(body: bytes, kind: str) -> str:
    """The name read from a login body (in a thread of its own: a browser test may hold this one's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read_login_form([(b"content-type", kind.encode())], body)).result().username


def test_a_login_form_is_read_as_gradio_reads_it() -> None:
    urlencoded = "application/x-www-form-urlencoded"
    assert _form(b"username=+tim+&password=x", urlencoded) == "tim"  # stripped, as Gradio strips it
    multipart = (
        b'--b\r\nContent-Disposition: form-data; name="username"\r\n\r\nTim\r\n'
        b'--b\r\nContent-Disposition: form-data; name="password"\r\n\r\nx\r\n--b--\r\n'
    )
    assert _form(multipart, "multipart/form-data; boundary=b") == "Tim"  # the name as typed: case kept
    with pytest.raises(BadLoginForm, match="more than once"):
        _form(b"username=decoy&username=tim&password=x", urlencoded)
    with pytest.raises(BadLoginForm, match="more than once"):
        _form(b"username=tim&password=x&password=y", urlencoded)
    file_name = b'--b\r\nContent-Disposition: form-data; name="username"; filename="a.txt"\r\n\r\ntim\r\n--b--\r\n'
    with pytest.raises(BadLoginForm):
        _form(file_name, "multipart/form-data; boundary=b")


def test_a_session_hash_belongs_to_the_session_that_used_it_first() -> None:
    hashes = SessionHashes()
    assert hashes.claim("h1", "token-bob") and hashes.claim("h1", "token-bob")
    assert not hashes.claim("h1", "token-alice")
    assert hashes.claim("h2", "token-alice")


def test_a_payload_names_its_files_and_its_bad_text() -> None:
    seen = inspect_payload({"data": [{"path": "/etc/passwd"}, [{"url": "http://x"}], "fine"]})
    assert sorted(seen.files) == ["/etc/passwd", "http://x"] and seen.unicode
    assert not inspect_payload({"data": ["\ud800"]}).unicode
    assert not inspect_payload({"\udfff": 1}).unicode
    with pytest.raises(Refusal) as refused:
        inspect_payload({"data": list(range(2_001))})
    assert refused.value.status == 413
