"""A plain progress bar for management commands that run more than a few seconds."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, total: int, label: str = "", stream: TextIO | None = None, width: int = 30):
        self.total, self.label, self.width = max(total, 1), label, width
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = time.monotonic()

    def advance(self, note: str = "") -> None:
        self.done += 1
        filled = int(self.width * self.done / self.total)
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0
        bar = "█" * filled + "░" * (self.width - filled)
        self.stream.write(
            f"\r{self.label} [{bar}] {self.done}/{self.total} {elapsed:5.1f}s, ~{eta:4.0f}s left {note[:40]:<40}"
        )
        self.stream.flush()
        if self.done >= self.total:
            self.stream.write("\n")
