"""Import TensorFlow without its start-up notice about oneDNN, and nothing else hidden.

On a CPU with AVX-512 VNNI or BF16 (or on any x86 CPU with ``TF_ENABLE_ONEDNN_OPTS=1``),
TensorFlow turns on its oneDNN custom operations and says so at import::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1795437906.595544    3968 port.cc:153] oneDNN custom operations are on. ...

It writes this to the process's file descriptor 2 before its logging is set up, so
``TF_CPP_MIN_LOG_LEVEL`` cannot silence it. In a notebook kernel it becomes a stderr output of
the cell, and the book's strict build (``-W``) treats every stderr output as an error.

:func:`import_tensorflow` imports TensorFlow with descriptor 2 redirected to a temporary file,
then writes back to ``sys.stderr`` every line except that notice (and the absl line that
introduces it). oneDNN stays on; any other message, a real warning included, still reaches the
reader and still fails the strict build. :func:`mobilecnn.book.setup` calls it, so every
chapter's first TensorFlow import goes through it; the library's Keras and TF Lite code calls it
too.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

# The informational notice, in TensorFlow's current absl format ("I0000 00:00:... port.cc:153]")
# and its older one ("2024-01-01 12:00:00.000000: I tensorflow/core/util/port.cc:113]").
ONEDNN_NOTICE = re.compile(
    r"^(?:I\d{4} [\d:.]+\s+\d+ |\d{4}-\d\d-\d\d [\d:.]+: I )\S*port\.cc:\d+\] "
    r"oneDNN custom operations are on\.")
# absl writes this once before the first message it logs ahead of its initialisation.
ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def informational(lines: list[str]) -> list[bool]:
    """For each line, whether it is the oneDNN notice or the absl line directly before one."""
    notice = [bool(ONEDNN_NOTICE.match(line)) for line in lines]
    return [notice[i] or (line.rstrip("\r\n") == ABSL_PREAMBLE
                          and i + 1 < len(lines) and notice[i + 1])
            for i, line in enumerate(lines)]


def without_notices(text: str) -> str:
    """``text`` with the oneDNN notices (and their absl preambles) taken out, the rest verbatim."""
    lines = text.splitlines(keepends=True)
    return "".join(line for line, drop in zip(lines, informational(lines)) if not drop)


class Captured:
    """What :func:`captured` caught: ``text``, filled in when its block ends."""

    text = ""


@contextlib.contextmanager
def captured(fds=(1, 2)):
    """Capture what is written to the file descriptors ``fds`` inside the block.

    C and C++ code (TensorFlow's start-up notice, TF Lite for Microcontrollers' allocation
    report) writes to the descriptors directly, bypassing ``sys.stdout`` and ``sys.stderr``, and
    a notebook kernel forwards those bytes to the page. Inside the block they go to a temporary
    file instead; afterwards the yielded :class:`Captured` holds them as ``text``, also when the
    block raises. Python's own streams are flushed first and left alone.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.flush()
    saved = [os.dup(fd) for fd in fds]
    result = Captured()
    with tempfile.TemporaryFile() as capture:
        for fd in fds:
            os.dup2(capture.fileno(), fd)
        try:
            yield result
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(AttributeError, ValueError):
                    stream.flush()
            for fd, copy in zip(fds, saved):
                os.dup2(copy, fd)
                os.close(copy)
            capture.seek(0)
            result.text = capture.read().decode("utf-8", errors="replace")


@contextlib.contextmanager
def filtered_stderr():
    """Capture file descriptor 2 inside the block; afterwards re-emit it without the notices.

    What is kept goes to ``sys.stderr`` (in a Jupyter kernel, the cell's stderr output), also
    when the block raises.
    """
    output = Captured()
    try:
        with captured((2,)) as output:
            yield
    finally:
        kept = without_notices(output.text)
        if kept:
            sys.stderr.write(kept)
            sys.stderr.flush()


def import_tensorflow():
    """``import tensorflow`` without the oneDNN notice; returns the module.

    Once TensorFlow is imported this only returns it. Call it before anything that imports
    TensorFlow or Keras: the notice is printed once, by the first import.
    """
    if "tensorflow" not in sys.modules:
        with filtered_stderr():
            import tensorflow  # noqa: F401
    return sys.modules["tensorflow"]
