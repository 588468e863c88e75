"""The collection behind a Tanya: which folders make it up, building and updating its index,
uploads, folder imports, removals, and what it holds. `Tanya` (qa/pipeline.py) holds one as
`tanya.articles` and serves it: it supplies the settings, the embedder, the backend and the served
snapshot (the `Served` protocol below)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import NothingToIndex
from ..files import write_atomic
from ..ingest.documents import inside
from ..ingest.sources import Sources, Watcher
from ..ingest.uploads import check_request, import_folder_files, placed_uploads
from ..ingest.web import WebSources, is_url
from ..records import FileRecord, Skipped
from .build import BuildReport, Progress, build_index, remove_documents

if TYPE_CHECKING:
    from ..settings import Settings
    from .base import IndexBackend, Snapshot
    from .embedding import Embedder


class Served(Protocol):
    """What a collection needs from the Tanya that serves it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def embedder(self) -> Embedder: ...

    @property
    def backend(self) -> IndexBackend: ...

    def snapshot(self) -> Snapshot: ...


class Collection:
    """One collection's articles: where they come from, adding and removing them, and what is indexed."""

    def __init__(self, served: Served) -> None:
        self._served = served

    @property
    def settings(self) -> Settings:
        return self._served.settings

    @property
    def backend(self) -> IndexBackend:
        return self._served.backend

    def _snapshot(self) -> Snapshot:
        return self._served.snapshot()

    def folders(self) -> list[Path]:
        """The folders that make up the collection: those it was indexed from with `remember` (else the
        seed articles), and the uploaded ones."""
        folders = self.remembered() or [Path(self.settings.store.seeds_dir)]
        for extra in (Path(self.settings.store.upload_dir), self.web().folder):
            if extra.is_dir() and extra.resolve() not in {f.resolve() for f in folders}:
                folders.append(extra)
        return folders

    def sources(self) -> Sources:
        """The feeds, URLs and folders remembered for this collection (qa/ingest/sources.py)."""
        return Sources(Path(self.settings.store.index_dir))

    def refresh(self, sources: list[str] | None = None, progress: Progress | None = None) -> BuildReport:
        """Fetch and index the remembered sources (or those given): new and changed articles come in,
        articles whose file was deleted from a folder source go, nothing else is dropped."""
        chosen = [s["source"] for s in self.sources().all()] if sources is None else sources
        if not chosen:
            raise NothingToIndex("no sources: add one with `python -m qa source add URL|FOLDER`")
        paths = [s if is_url(s) else Path(s) for s in chosen]
        return self.index(paths, progress=progress, keep_missing=True, watched=[p for p in paths if isinstance(p, Path)])

    def watcher(self, every: float, log: Callable[[str], None] = print) -> Watcher:
        """What keeps the sources current (`Watcher.run()`, or `.start()` for a thread)."""
        return Watcher(self.sources(), self.refresh, every, log=log)

    def web(self) -> WebSources:
        """The collection's articles from the web (qa/ingest/web.py)."""
        s = self.settings
        limit = int(s.ingest.max_file_mb * 1024 * 1024)
        return WebSources(Path(s.store.index_dir), s.ingest.fetch_timeout, limit, s.ingest.allow_private_urls)

    def remembered(self) -> list[Path]:
        """The folders and files remembered by `index(paths, remember=True)`."""
        try:
            return [Path(p) for p in json.loads(self._folders_file().read_text(encoding="utf-8"))]
        except (FileNotFoundError, ValueError, TypeError):
            return []

    def _folders_file(self) -> Path:
        return Path(self.settings.store.index_dir) / "folders.json"

    def index(
        self,
        paths: Iterable[Path | str] | None = None,
        rebuild: bool = False,
        progress: Progress | None = None,
        keep_missing: bool = False,
        remember: bool = False,
        watched: Iterable[Path] = (),
    ) -> BuildReport:
        """Build or update the index from article files (default: the collection folders, without the
        articles removed from the collection with `remove(..., forget=True)`). With `remember`, the
        paths given become part of the collection: later updates read them again. A path may be an
        http(s) URL of an article, an RSS/Atom feed or a sitemap: its articles are fetched into the
        collection's web folder and added (URLs alone add; nothing indexed before is dropped). Articles
        whose files were deleted from the `watched` folders are dropped even with `keep_missing` (not on a
        shared store, where another server's folder may have the same name)."""
        excluded = self.removed() if paths is None else ()
        given = list(paths) if paths is not None else None
        urls = [str(p) for p in given or [] if is_url(p)]
        fetched: list[Skipped] = []
        if urls:  # fetched into the web folder, read from there like files; what was indexed stays
            kept, changed, fetched = self.web().fetch(urls)
            if not kept:
                raise NothingToIndex("; ".join(f"{s.path}: {s.reason}" for s in fetched[:5]) + "; the current index is unchanged")
            given = [p for p in given or [] if not is_url(p)] + [self.web().folder]
            if len(given) == 1 and not changed and not rebuild and self.backend.served() is not None:
                # nothing new on the web: no build (a watcher polls feeds; most polls find nothing)
                manifest = self._snapshot().manifest
                return BuildReport(
                    Path(self.settings.store.index_dir), manifest["documents"], manifest["chunks"], skipped=fetched
                )
            keep_missing = keep_missing or len(given) == 1
        folders = [Path(p) for p in (given or self.folders())]
        # a shared store holds what other servers added from their own folders, and a folder that is not
        # here (a server started elsewhere than the seeds) was not read: an update keeps what it did not read
        keep_missing = keep_missing or self.backend.shared or not all(p.exists() for p in folders)
        report = build_index(
            folders,
            self.settings,
            self.backend,
            rebuild=rebuild,
            progress=progress,
            embedder=self._served.embedder,
            keep_missing=keep_missing,
            excluded=excluded,
            watched=() if self.backend.shared else list(watched),
        )
        if remember and given is not None:
            known = [str(p) for p in self.remembered()]
            known += [str(p.resolve()) for p in folders if str(p.resolve()) not in known]
            write_atomic(self._folders_file(), json.dumps(known, indent=1, ensure_ascii=False))
        report.skipped = fetched + report.skipped
        return report

    def remove(self, doc_ids: Iterable[str], forget: bool = False) -> BuildReport:
        """Take articles out of the index (nothing is re-embedded). Their files, if still in a collection
        folder, come back on `index` — unless `forget`: then an uploaded file is deleted and any other
        (a seed article) is remembered as removed, so that later updates of the collection skip it."""
        doc_ids = list(doc_ids)
        sources = {f["doc_id"]: f["source"] for f in self.files()} if forget else {}
        report = remove_documents(doc_ids, self.settings, self.backend, embedder=self._served.embedder)
        if forget:
            remembered = set(self.removed())
            for doc_id in doc_ids:
                upload = self._uploaded_file(sources.get(doc_id, ""))
                if upload is not None:
                    upload.unlink(missing_ok=True)
                else:
                    remembered.add(doc_id)
            self._removed_file().write_text(json.dumps(sorted(remembered), indent=1), encoding="utf-8")
        return report

    def _uploaded_file(self, source: str) -> Path | None:
        """The file in the upload folder an article came from ("uploads/x.txt", or an older index's full
        path), or None when it did not come from there."""
        uploads = Path(self.settings.store.upload_dir).resolve()
        if not source:
            return None
        parts = Path(source).parts
        if Path(source).is_absolute():
            path = Path(source).resolve()
        elif parts and parts[0] == uploads.name:
            path = uploads.joinpath(*parts[1:]).resolve()
        else:
            return None
        return path if inside(path, uploads) and path != uploads else None

    def removed(self) -> list[str]:
        """The doc_ids removed from the collection with `remove(..., forget=True)`."""
        try:
            return list(json.loads(self._removed_file().read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError):
            return []

    def _removed_file(self) -> Path:
        return Path(self.settings.store.index_dir) / "removed.json"

    def add_files(self, files: Iterable[tuple[Path, str]], progress: Progress | None = None) -> BuildReport:
        """Copy uploaded files (path, original name) into the upload folder and update the index.

        Files of a type we do not read, or over the size limit, are skipped with the reason; a request
        of too many files or megabytes is refused whole (ImportRefused). If the update fails, the copied
        files are taken back out and the served index is unchanged."""
        s = self.settings
        files = list(files)
        check_request(files, s.ingest.max_upload_files, s.ingest.max_upload_mb)
        with placed_uploads(files, Path(s.store.upload_dir), s.ingest.max_file_mb) as (placed, refused):
            if not placed:
                raise NothingToIndex("; ".join(f"{r.path}: {r.reason}" for r in refused) or "no files given")
            # only the files placed are read: the rest of the collection stays as it is served
            report = self.index(placed, progress=progress, keep_missing=True)
        report.skipped = refused + report.skipped
        return report

    def import_folder(self, folder: str, progress: Progress | None = None) -> BuildReport:
        """Add the articles of a folder on the server, which must lie under `settings.ingest.import_root`
        (QA_IMPORT_ROOT; unset = refused). They are copied into the upload folder like uploads."""
        files, outside = import_folder_files(folder, self.settings.ingest.import_root)
        if not files:
            raise NothingToIndex("; ".join(f"{r.path}: {r.reason}" for r in outside) or f"no files in '{folder}'")
        report = self.add_files(files, progress=progress)
        report.skipped = outside + report.skipped
        return report

    def files(self, query: str = "", newest_first: bool = False, limit: int | None = None) -> list[FileRecord]:
        """The indexed articles (doc_id, source, title, sha256, chunks, added_at, date, url), those whose
        title or file contains `query`, in indexing order or newest first, at most `limit`."""
        return self._snapshot().table.files(query, newest_first, limit)

    def document_text(self, doc_id: str) -> str | None:
        """The whole normalised text of an indexed article (citation offsets point into it)."""
        return self._snapshot().table.document_text(doc_id)

    def size_bytes(self) -> int:
        """Size on disk of the served index version (0 when it lives in a shared store)."""
        return self.backend.size_bytes()
