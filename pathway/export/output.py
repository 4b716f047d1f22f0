"""Writing export files: whole files atomically, inside the output directory only."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary(path: Path) -> tuple[int, str]:
    """A temporary file beside ``path`` with the permissions a plain open() would give it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.chmod(temp, 0o666 & ~_umask())
    return handle, temp


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    handle, temp = _temporary(path)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def json_bytes(value: Any) -> bytes:
    """Pretty, stable JSON (keys in the order written) with a final newline."""
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def ndjson_line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


class AtomicStream:
    """A text file written line by line under a temporary name and renamed into place on close."""

    def __init__(self, path: Path) -> None:
        self.path = path
        handle, self.temp = _temporary(path)
        self.stream: IO[str] = os.fdopen(handle, "w", encoding="utf-8", newline="\n")
        self.count = 0

    def write(self, line: str) -> None:
        self.stream.write(line)
        self.count += 1

    def close(self, keep: bool = True) -> None:
        self.stream.close()
        if keep:
            os.replace(self.temp, self.path)
        else:
            Path(self.temp).unlink(missing_ok=True)
