"""What a non-editable install carries: every file the package ships under qa/data and its page texts."""

from __future__ import annotations

import fnmatch
import tomllib

from conftest import ROOT


def test_every_shipped_data_file_is_package_data() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["qa"]
    package = ROOT / "qa"
    shipped = [p.relative_to(package).as_posix() for folder in ("data", "server/locales") for p in (package / folder).rglob("*")]
    shipped = [p for p in shipped if (package / p).is_file() and "__pycache__" not in p and not p.endswith(".py")]
    left_out = [p for p in shipped if not any(fnmatch.fnmatchcase(p, pattern) for pattern in patterns)]
    assert shipped and left_out == [], f"not in [tool.setuptools.package-data] of pyproject.toml: {left_out}"
