"""How a failure reaches the person who ran a command: one line saying what is wrong and how
to fix it for every failure the user can act on (the CLI prints it and exits with status 2),
the traceback only on request (--debug), and a quiet exit when the reader of stdout goes away
(`handoccnet-lite tables --list | head -1`), as Unix tools do. No torch, no cv2 imported here."""

from __future__ import annotations

import errno
import os
import pickle
import sys

#: Exit status of a process whose stdout pipe was closed (128 + SIGPIPE), as `yes | head` gives.
EXIT_BROKEN_PIPE = 141

#: Errors whose message already names what is wrong and the fix (the CLI adds its UserError).
PLAIN_ERRORS: tuple[type[BaseException], ...] = (
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    ValueError,
)


def user_error_message(
    err: BaseException, plain: tuple[type[BaseException], ...] = PLAIN_ERRORS
) -> str | None:
    """The one line to print for a failure the user can act on; None for a bug (traceback).
    `plain`: the types whose message is printed as it is."""
    if isinstance(err, plain):
        return one_line(str(err))
    if isinstance(err, OSError):  # disk full, read-only, forbidden
        return _os_error_message(err)
    if isinstance(err, pickle.UnpicklingError):  # e.g. a refused MANO pickle (UnsafePickleError)
        return one_line(f"{err} Replace the file with a fresh copy from its source.")
    if type(err).__module__.startswith("cv2"):  # cv2.error: an image OpenCV cannot decode
        return f"OpenCV could not read the image ({_first_line(err)}); pass a normal PNG or JPEG."
    return None


def _os_error_message(err: OSError) -> str | None:
    """Disk full, read-only or forbidden folder -> what happened to which file, and the fix."""
    where = err.filename or "the output folder"
    if err.errno == errno.ENOSPC:
        return (
            f"no space left on the device while writing {where}; free some space or write to "
            "another disk (--out)."
        )
    if err.errno == errno.EROFS:
        return f"cannot write {where}: the file system is read-only; choose another --out."
    if err.errno in (errno.EACCES, errno.EPERM):
        return (
            f"permission denied for {where}; choose a folder you can write to (--out) or ask "
            "its owner for write access."
        )
    if err.errno == errno.EDQUOT:
        return f"disk quota exceeded while writing {where}; free some space or use another --out."
    return None


def _first_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text[:160]


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed: the message prints as one line."""
    return " ".join(text.split())


def quiet_broken_pipe() -> int:
    """stdout's reader has gone: point stdout at /dev/null (so the interpreter's final flush
    does not fail again) and exit as a Unix tool killed by SIGPIPE would."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE
