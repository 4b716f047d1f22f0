"""An output directory one run owns: atomic files, a lock, and a manifest written last.

Every file is written under a temporary name in its own directory and renamed into
place when complete, so no reader ever sees half a file. The run holds a lock on the
directory, so a second run into it refuses instead of interleaving lines. When the run
completes, ``run.json`` is written last, listing every file the run wrote with its
size: a directory whose ``run.json`` is missing or does not match its files is
recognisably incomplete. Files an earlier run of the same command listed in its
manifest and this run did not rewrite are removed, so a directory never mixes runs;
a directory holding another command's run is refused. Nothing is written through a
symbolic link inside the directory, and no file name comes from unchecked text.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import IO, Any

MANIFEST = "run.json"
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
_PARTIAL = re.compile(r"\..+\.[0-9a-f]{16}\.partial")
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW


class OutputError(Exception):
    """The directory cannot be used; str() is one line naming it."""


def _problem(err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "is a symbolic link; refusing to write through it"
    return str(err.strerror or err).replace("\n", " ")


class OutputDir:
    """``with OutputDir(path, "simulate") as out: out.write_bytes("summary.json", data)``.

    On a clean exit the stale files of the previous run are removed and the manifest is
    written; on an error or an interrupt the partial files are removed and no manifest is
    written. ``info`` (a dict) is merged into the manifest.
    """

    def __init__(self, path: str | Path, command: str) -> None:
        if not str(path).strip():
            raise OutputError("the output directory is an empty name; give a directory, e.g. --out out/run")
        self.path = Path(path)
        self.command = command
        self.info: dict[str, Any] = {}
        self._root = -1
        self._dirs: dict[str, int] = {}
        self._written: dict[str, int] = {}
        self._pending: dict[str, str] = {}  # name -> temporary name, while a streamed file is open
        self._previous: list[str] = []
        self._taken: set[str] = set()

    # ------------------------------------------------------------ the run

    def __enter__(self) -> OutputDir:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            # the directory named on the command line may be reached through links; nothing inside it is
            self._root = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as err:
            raise OutputError(f"{self.path}: {_problem(err)}") from None
        try:
            fcntl.flock(self._root, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._root)
            raise OutputError(
                f"{self.path}: another pathway run is writing into this directory; wait for it or choose another"
            ) from None
        self._dirs[""] = self._root
        try:
            self._previous = self._read_previous()
            self._unlink("", MANIFEST)  # from here until the end the directory is visibly incomplete
            self._remove_partials("")
        except OSError as err:
            self._close()
            raise OutputError(f"{self.path}: {_problem(err)}") from None
        except OutputError:
            self._close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        try:
            for name in list(self._pending):
                self._discard(name)
            self._remove_stale()
            if kind is None:
                self._write_manifest()
        finally:
            self._close()

    def _close(self) -> None:
        for fd in self._dirs.values():
            os.close(fd)  # closing the root's descriptor releases the lock
        self._dirs.clear()

    # ------------------------------------------------------------ writing

    def write_bytes(self, name: str, data: bytes) -> Path:
        with self.open(name) as handle:
            handle.write(data)
        return self.path / name

    def write_text(self, name: str, text: str) -> Path:
        return self.write_bytes(name, text.encode("utf-8"))

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        """A binary file written under a temporary name and renamed to ``name`` when the block ends."""
        handle = self.start(name)
        try:
            yield handle
        except BaseException:
            handle.close()
            self._discard(name)
            raise
        handle.close()
        self.finish(name)

    def start(self, name: str) -> IO[bytes]:
        """Open ``name`` for a file written over a long time (e.g. chunk by chunk); ``finish`` renames it."""
        folder, base = self._split(name)
        # "A.svg" and "a.svg" are one file on some file systems: a run never writes both
        if name.casefold() in self._taken:
            raise OutputError(f"{self.path / name}: written twice in one run")
        self._taken.add(name.casefold())
        directory = self._dir(folder)
        temporary = f".{base}.{secrets.token_hex(8)}.partial"
        try:
            fd = os.open(temporary, _NEW_FILE, 0o644, dir_fd=directory)
        except OSError as err:
            raise OutputError(f"{self.path / name}: {_problem(err)}") from None
        self._pending[name] = temporary
        return os.fdopen(fd, "wb")

    def finish(self, name: str) -> Path:
        folder, base = self._split(name)
        temporary = self._pending.pop(name)
        directory = self._dirs[folder]
        try:
            # rename replaces a link of that name itself, never the file it points to
            os.replace(temporary, base, src_dir_fd=directory, dst_dir_fd=directory)
            self._written[name] = os.stat(base, dir_fd=directory, follow_symlinks=False).st_size
        except OSError as err:
            self._unlink(folder, temporary)
            raise OutputError(f"{self.path / name}: {_problem(err)}") from None
        return self.path / name

    def adopt(self, name: str) -> None:
        """List a file another owner wrote inside this directory (a nested run's) in this manifest."""
        folder, base = self._split(name)
        info = os.stat(base, dir_fd=self._dir(folder), follow_symlinks=False)
        self._written[name] = info.st_size
        self._taken.add(name.casefold())

    def subdir(self, name: str) -> Path:
        """A real subdirectory (created if needed, never a link) for a nested run to own."""
        self._dir(self._split(name + "/x")[0])
        return self.path / name

    @property
    def written(self) -> list[Path]:
        return [self.path / name for name in self._written]

    # ------------------------------------------------------------ pieces

    def _split(self, name: str) -> tuple[str, str]:
        parts = name.split("/")
        if not all(_PART.fullmatch(part) and ".." not in part for part in parts):
            raise OutputError(f"{self.path}: {name!r} is not a file name this tool writes")
        return "/".join(parts[:-1]), parts[-1]

    def _dir(self, folder: str) -> int:
        """The descriptor of ``folder`` inside the root, made if missing, opened without following links."""
        if folder in self._dirs:
            return self._dirs[folder]
        parent, _, base = folder.rpartition("/")
        above = self._dir(parent)
        try:
            with suppress(FileExistsError):
                os.mkdir(base, 0o755, dir_fd=above)
            fd = os.open(base, _OPEN_DIR, dir_fd=above)
        except OSError:
            with suppress(OSError):  # O_NOFOLLOW on a link to a directory says only "not a directory"
                if stat.S_ISLNK(os.stat(base, dir_fd=above, follow_symlinks=False).st_mode):
                    err = OSError(errno.ELOOP, "")
            raise OutputError(f"{self.path / folder}: {_problem(err)}") from None
        self._dirs[folder] = fd
        self._remove_partials(folder)
        return fd

    def _unlink(self, folder: str, base: str) -> None:
        with suppress(FileNotFoundError):
            os.unlink(base, dir_fd=self._dirs[folder])

    def _discard(self, name: str) -> None:
        folder, _ = self._split(name)
        self._unlink(folder, self._pending.pop(name))

    def _remove_partials(self, folder: str) -> None:
        """Temporary files a killed run left: recognisable by their name, never listed anywhere."""
        fd = self._dirs[folder]
        for entry in os.listdir(fd):
            if _PARTIAL.fullmatch(entry):
                self._unlink(folder, entry)

    def _read_previous(self) -> list[str]:
        """The files the previous run listed, when it was a run of this command; refuses another's."""
        try:
            fd = os.open(MANIFEST, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=self._root)
        except FileNotFoundError:
            return []
        with os.fdopen(fd, "rb") as handle:
            raw = handle.read(1 << 22)
        try:
            manifest = json.loads(raw)
            command = manifest["command"]
            names = [item["name"] for item in manifest["files"]]
        except (ValueError, KeyError, TypeError):
            raise OutputError(
                f"{self.path}: {MANIFEST} is not a manifest of this tool; choose another directory or remove it"
            ) from None
        if command != self.command:
            raise OutputError(
                f"{self.path}: holds the files of a `pathway {command}` run ({MANIFEST}); "
                "choose another directory or remove them"
            )
        return [name for name in names if isinstance(name, str)]

    def _remove_stale(self) -> None:
        for name in self._previous:
            if name in self._written or name == MANIFEST:
                continue
            try:
                folder, base = self._split(name)
                self._unlink(folder, base)
            except (OutputError, OSError):
                continue  # a name this tool would not write, or a folder gone: nothing of ours to remove
        self._previous = []

    def _write_manifest(self) -> None:
        manifest = {
            "command": self.command,
            **self.info,
            "files": [{"name": name, "bytes": size} for name, size in self._written.items()],
        }
        data = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        self._taken.discard(MANIFEST)
        with self.open(MANIFEST) as handle:
            handle.write(data)
        del self._written[MANIFEST]


def write_atomically(path: str | Path, data: str | bytes) -> Path:
    """One file outside any run directory (README.md, a --junit report): a temporary name beside it,
    created afresh (never through a link), then a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}.partial")
    fd = os.open(temporary, _NEW_FILE, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target
