"""Articles that arrive from outside: uploaded files and folders imported from the server's disk.

Both are checked here, on the server side, whatever the page shows:
- an upload's name is cleaned (no folders, no leading dots), its type and size checked, and a
  request carries at most `max_upload_files` files and `max_upload_mb` in all;
- a folder is imported only from under `import_root` (`QA_IMPORT_ROOT`). The name given is resolved
  (`..` and symlinks followed) and must stay inside the root; files reached through a symlink that
  leads out of it are skipped. With no root configured, folder import is refused.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ImportRefused
from ..records import Skipped
from .documents import SUPPORTED_SUFFIXES, inside


def safe_name(name: str) -> str:
    """A file name safe to create in the upload folder: no folders, no leading dots, plain characters."""
    base = Path(str(name).replace("\\", "/")).name
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    return base[:120] or "upload.txt"


def upload_problem(path: Path, name: str, max_file_mb: float) -> str | None:
    """Why one file cannot be taken (type, size, unreadable), or None."""
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        return f"unsupported file type '{Path(name).suffix or '(none)'}' (allowed: {', '.join(SUPPORTED_SUFFIXES)})"
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"cannot read the upload: {exc.strerror or exc}"
    if size > max_file_mb * 1024 * 1024:
        return f"too large ({size / 1048576:.1f} MB; limit {max_file_mb:g} MB)"
    return None


def check_request(files: list[tuple[Path, str]], max_files: int, max_mb: float) -> None:
    """Refuse a whole request of more than `max_files` files or `max_mb` megabytes."""
    if len(files) > max_files:
        raise ImportRefused(f"too many files in one request ({len(files)}; the limit is {max_files}, QA_MAX_UPLOAD_FILES)")
    total = 0
    for path, _ in files:
        try:
            total += Path(path).stat().st_size
        except OSError:
            continue  # reported per file by upload_problem
    if total > max_mb * 1024 * 1024:
        raise ImportRefused(
            f"the files add up to {total / 1048576:.1f} MB; the limit per request is {max_mb:g} MB (QA_MAX_UPLOAD_MB)"
        )


@contextmanager
def placed_uploads(
    files: Iterable[tuple[Path, str]], upload_dir: Path, max_file_mb: float
) -> Iterator[tuple[list[Path], list[Skipped]]]:
    """Copy files (path, original name) into `upload_dir` under clean names; yields (placed, refused).

    If the body of the `with` fails, the copies are taken back out and any file they replaced is put
    back, so the upload folder is as it was."""
    upload_dir.mkdir(parents=True, exist_ok=True)
    placed: list[tuple[Path, Path | None]] = []  # (file in the upload folder, backup of what it replaced)
    refused: list[Skipped] = []
    try:
        for path, name in files:
            clean = safe_name(name)
            reason = upload_problem(Path(path), clean, max_file_mb)
            if reason:
                refused.append(Skipped(name, reason))
                continue
            target = upload_dir / clean
            backup = None
            if target.exists():
                backup = target.with_name(f".{clean}.bak")
                os.replace(target, backup)
            shutil.copyfile(path, target)
            placed.append((target, backup))
        yield [t for t, _ in placed], refused
    except BaseException:
        for target, backup in placed:
            target.unlink(missing_ok=True)
            if backup is not None:
                os.replace(backup, target)
        raise
    for _, backup in placed:
        if backup is not None:
            backup.unlink(missing_ok=True)


def import_folder_files(folder: str, import_root: str) -> tuple[list[tuple[Path, str]], list[Skipped]]:
    """The files of `folder` (relative to the import root, or absolute inside it) as (path, name) pairs,
    and the files skipped because a symlink leads out of the root. ImportRefused otherwise."""
    if not import_root:
        raise ImportRefused("importing a folder from the server is switched off (set QA_IMPORT_ROOT to allow a folder)")
    root = Path(import_root).resolve()
    if not root.is_dir():
        raise ImportRefused("the import root (QA_IMPORT_ROOT) is not a folder")
    given = (folder or "").strip()
    if not given or "\x00" in given:
        raise ImportRefused("no folder given")
    target = (root / given).resolve()
    if not inside(target, root):
        raise ImportRefused(f"'{given}' is outside the import root; only folders under it can be imported")
    if not target.is_dir():
        raise ImportRefused(f"'{given}' is not a folder under the import root")
    files: list[tuple[Path, str]] = []
    skipped: list[Skipped] = []
    for base, dirs, names in os.walk(target, followlinks=False):
        for d in [d for d in dirs if os.path.islink(os.path.join(base, d))]:
            if not inside(Path(base, d).resolve(), root):
                skipped.append(Skipped(str(Path(base, d).relative_to(root)), "a link to a folder outside the import root"))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # links to folders are not walked into
        for name in sorted(names):
            path = Path(base) / name
            if name.startswith("."):
                continue
            real = path.resolve()
            if not inside(real, root):
                skipped.append(Skipped(str(path.relative_to(root)), "a link to a file outside the import root"))
            elif real.is_file():
                files.append((real, name))
    return files, skipped
