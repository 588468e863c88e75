"""A request's log is bounded: the server's standard error keeps at most MAX_LINES lines of one report
(a traceback and what follows it, e.g. a validation error listing 10,000 bad messages; or any burst of
lines written without a pause), each line cut at MAX_CHARS characters, so that one malformed request
cannot fill the disk or bury the other reports."""

from __future__ import annotations

import io
import threading
import time
from typing import TextIO


class BoundedLog(io.TextIOBase):
    MAX_LINES = 200
    MAX_CHARS = 2_000
    PAUSE = 1.0  # seconds without output that end a report

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self.lines = 0  # lines of the current report so far
        self.last = 0.0
        self.partial = ""  # the current line, not yet ended
        self.lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self.lock:
            self.partial += text
            *lines, self.partial = self.partial.split("\n")
            if len(self.partial) > self.MAX_CHARS:  # a line that never ends is cut as well
                lines.append(self.partial)
                self.partial = ""
            for line in lines:
                self._line(line)
        return len(text)

    def _line(self, line: str) -> None:
        now = time.monotonic()
        if line.startswith("Traceback (most recent call last)") or now - self.last > self.PAUSE:
            self.lines = 0
        self.last = now
        self.lines += 1
        if self.lines == self.MAX_LINES + 1:
            self.target.write(f"[… the rest of this report is cut: more than {self.MAX_LINES} lines]\n")
        if self.lines > self.MAX_LINES:
            return
        if len(line) > self.MAX_CHARS:
            line = line[: self.MAX_CHARS] + f" [… {len(line) - self.MAX_CHARS:,} characters cut]"
        self.target.write(line + "\n")

    def flush(self) -> None:
        self.target.flush()
