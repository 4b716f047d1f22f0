"""The process around the command line: every way it can end is one line, never a traceback.

Standard output may be closed early (``pathway run ... | head``), full (``> /dev/full``)
or unable to carry a character; the user may press Ctrl-C or a scheduler may send
SIGTERM. Each ends the process with a clear status: the interrupted run has already
removed its partial files on the way out (OutputDir), because the signal arrives as an
exception that unwinds through it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType
from typing import Any

import click

PR_SET_PDEATHSIG = 1
EXIT_OUTPUT = 2
EXIT_SIGPIPE = 128 + signal.SIGPIPE


class Stopped(BaseException):
    """SIGINT or SIGTERM, raised where the process is, so every ``with`` block on the way out
    cleans up. Not a KeyboardInterrupt: click would turn that into "Aborted!" and exit 1."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signum)


def _silence_stdout() -> None:
    # the stream is gone or full: anything still buffered must not fail again at interpreter exit
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _say(message: str) -> None:
    with contextlib.suppress(OSError):
        click.echo(f"pathway: {message}", err=True)


def _exit_code(command: click.Command, args: list[str] | None) -> int:
    try:
        result: Any = command.main(args=args, prog_name="pathway", standalone_mode=False)
    except SystemExit as done:
        if type(sys.stdout).__name__.endswith("PacifyFlushWrapper"):  # click's answer to a closed pipe: exit(1)
            return EXIT_SIGPIPE
        if isinstance(done.__context__, BrokenPipeError):
            # rich's answer to a closed pipe: stdout moved to /dev/null and exit(1), which this CLI
            # uses for "a safety property failed". Told apart here rather than by patching rich's
            # Console, so that a command that prints no table never imports rich.console (start-up)
            return EXIT_SIGPIPE
        code = done.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.Abort:
        _say("aborted")
        return 1
    except Stopped as stop:
        _say("interrupted" if stop.signum == signal.SIGINT else "terminated")
        return 128 + stop.signum
    except BrokenPipeError:
        _silence_stdout()  # the reader has gone (| head): nothing left to say to anyone
        return EXIT_SIGPIPE
    except OSError as err:
        _silence_stdout()
        _say(f"error: cannot write the output: {err.strerror or err}")
        return EXIT_OUTPUT
    return result if isinstance(result, int) else 0


_skip_teardown = False


def skip_teardown() -> None:
    """Called by a command that leaves nothing for the interpreter's teardown to do.

    Freeing every module and class at exit costs a short `pathway run` about 10 ms, a large part of
    its start-up budget (issue 10). A command may call this when its only output is stdout and
    stderr (flushed here before leaving) and it registers no atexit work; the process then ends
    with ``os._exit``. Only the current ``run`` below honours it: each run starts without it.
    """
    global _skip_teardown
    _skip_teardown = True


def run(command: click.Command, args: list[str] | None = None) -> None:
    """Run the click ``command`` as a program and exit with its status."""
    global _skip_teardown
    _skip_teardown = False
    for stream in (sys.stdout, sys.stderr):
        # a character the terminal's encoding lacks is shown escaped, never a UnicodeEncodeError
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop)
    code = _exit_code(command, args)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        code = EXIT_SIGPIPE
    except OSError as err:
        _silence_stdout()
        _say(f"error: cannot write the output: {err.strerror or err}")
        code = EXIT_OUTPUT
    if _skip_teardown:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def reset_in_worker() -> None:
    """In a worker process: signals are the parent's to handle; the parent then ends the pool.

    A worker killed by a signal sent to the whole process group (Ctrl-C, ``kill -- -PGID``)
    may die holding the pool's queue lock, and the parent then waits on it forever; so
    workers leave the group and ignore Ctrl-C. SIGTERM (how the parent ends the pool)
    ends a worker at once, without a traceback, and a worker never outlives its parent.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.setpgid(0, 0)
    _die_with_parent()


def _die_with_parent() -> None:
    # Linux only (prctl PR_SET_PDEATHSIG); elsewhere an orphaned worker ends at its next read
    import ctypes  # workers only: not worth its import time in every command

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
