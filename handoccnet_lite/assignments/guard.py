"""Run-time check that a student's function computes its answer instead of calling the package.

The course rule: a function that calls ``handoccnet_lite`` scores 0 for its task. Looking for
the text "handoccnet_lite" in the function's source misses every alias made elsewhere in the
notebook (``from handoccnet_lite import metrics as _m``, ``importlib.import_module(...)``,
``__import__``, ``getattr(handoccnet_lite, "metrics")`` ...). :class:`ReferenceGuard` looks at
what runs instead: installed as the Python profiler in the notebook's setup cell, it notes,
for every call that enters code of the package (any function under ``handoccnet_lite/``), the
functions on the caller's stack. A test cell then asks :meth:`ReferenceGuard.check` whether the
student's function was on the stack of any such call while the tests ran, whatever name or
route led there.

Limits (deliberate cheating rather than an alias): code run in another thread or process, a
student who removes the profiler and puts it back, or a copy of the reference's source.
:meth:`~ReferenceGuard.check` fails when the profiler was removed or replaced.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
from collections import defaultdict
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # handoccnet_lite/
PACKAGE_NAME = PACKAGE_DIR.name


class ReferenceGuard:
    """Record which functions were on the stack when package code was entered.

    Usage in a notebook's setup cell::

        guard = ReferenceGuard().install()
        ...
        guard.check(student_function)  # AssertionError if it reached handoccnet_lite
    """

    def __init__(self, package_dir: Path = PACKAGE_DIR) -> None:
        self.package_dir = str(Path(package_dir).resolve()) + os.sep
        self._own_file = str(Path(__file__).resolve())
        self._is_package: dict[CodeType, bool] = {}
        # code object of a frame on the stack -> package functions entered below it
        self.reached: defaultdict[CodeType, set[str]] = defaultdict(set)
        self._hook = self._profile  # one bound method: sys.getprofile() compares equal to it

    def in_package(self, code: CodeType) -> bool:
        """Whether `code` belongs to the package (this module excepted); cached per code."""
        hit = self._is_package.get(code)
        if hit is None:
            path = code.co_filename
            hit = path.startswith(self.package_dir) and path != self._own_file
            if not hit and not path.startswith("<"):
                hit = (
                    _resolved(path).startswith(self.package_dir)
                    and _resolved(path) != self._own_file
                )
            self._is_package[code] = hit
        return hit

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        code = frame.f_code
        if not self.in_package(code):
            return
        caller = frame.f_back
        if caller is not None and self.in_package(caller.f_code):
            return  # the package calling itself: its entry point was recorded already
        name = f"{frame.f_globals.get('__name__', PACKAGE_NAME)}.{code.co_qualname}"
        while caller is not None:
            self.reached[caller.f_code].add(name)
            caller = caller.f_back

    def install(self) -> ReferenceGuard:
        """Become the profiler of this thread and of threads started from now on."""
        sys.setprofile(self._hook)
        threading.setprofile(self._hook)
        return self

    def uninstall(self) -> None:
        """Stop recording (only if this guard is still the profiler)."""
        if sys.getprofile() == self._hook:
            sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]

    def installed(self) -> bool:
        """Whether this guard is still this thread's profiler."""
        return sys.getprofile() == self._hook

    def reference_calls(self, fn: Any) -> list[str]:
        """Package functions entered while `fn` was running (sorted; empty: none)."""
        code = getattr(fn, "__code__", None)
        return sorted(self.reached.get(code, ())) if code is not None else []

    def problems(self, fn: Any) -> list[str]:
        """Why `fn` breaks the rule (empty: it computed everything itself, as far as seen)."""
        name = getattr(fn, "__name__", repr(fn))
        if not inspect.isfunction(fn):
            return [
                f"{name} must be a function written in your notebook (`def {name}(...)`), "
                f"not a {type(fn).__name__}"
            ]
        if self.in_package(fn.__code__):
            return [f"{name} is {PACKAGE_NAME}'s own function; write it yourself with torch"]
        problems = []
        if not self.installed():
            problems.append(
                "the grading check was switched off (sys.setprofile was called): do not change "
                "the profiler in your notebook"
            )
        called = self.reference_calls(fn)
        if called:
            problems.append(
                f"{name} calls {PACKAGE_NAME} ({', '.join(called)}); write the computation "
                "yourself with torch"
            )
        if PACKAGE_NAME in _source(fn):
            problems.append(f"{name} mentions {PACKAGE_NAME}; write the computation yourself")
        return problems

    def check(self, fn: Any) -> None:
        """Raise AssertionError (the test fails, the task scores 0) if `fn` broke the rule."""
        problems = self.problems(fn)
        assert not problems, "; ".join(problems)


def _resolved(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except OSError:
        return path


def _source(fn: Any) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return ""
