"""The package serves on its own: a wheel built from the checkout, installed outside it, serves the page
and `/v1/ask` from another folder (`tanya serve` needs nothing beside the package)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, SEEDS, free_port

pytestmark = pytest.mark.slow


def test_an_installed_wheel_serves_the_page_and_the_api(tmp_path: Path) -> None:
    wheels, target, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    [wheel] = wheels.glob("tanya-*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(PYTHONPATH=str(target), QA_SEEDS_DIR=str(SEEDS), QA_USERS_FILE=str(tmp_path / "users.json"))
    where = subprocess.run(
        [sys.executable, "-c", "import qa, qa.server.app; print(qa.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(target), where  # the installed package, not the checkout
    assert (target / "qa" / "data" / "reader" / "weights.safetensors").is_file()
    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "qa", "serve", "--port", str(port), "--index-dir", str(tmp_path / "index")],
        cwd=elsewhere,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        url = f"http://127.0.0.1:{port}/"
        assert "<html" in httpx.get(url, timeout=30).text.lower()
        answer = httpx.post(url + "v1/ask", json={"question": "Who offered Jack Ma the advisor role?"}, timeout=60).json()
        assert "Joko Widodo" in answer["answer"] and answer["citations"][0]["source"].startswith("seeds/")
    finally:
        server.terminate()
        server.wait(timeout=30)
