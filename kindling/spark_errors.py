"""Spark's errors, read for people: the root cause of a failure and a message short enough to send.

A failure from Spark arrives in one of three shapes, and each hides what went
wrong under layers of wrappers:

* a Py4J error (classic session) carries the Java exception
  (``java_exception``), whose cause chain ends at the real failure;
* a Spark Connect error (``pyspark.errors.exceptions.connect``) has only the
  server's text, which names the failure inline or in ``Caused by:`` lines;
* either one's ``str()`` holds the whole JVM stack.

::

    >>> root_cause_in_text("Job aborted\\nCaused by: java.io.IOException: disk full\\n\\tat x.y(Z.java:1)")
    ('java.io.IOException', 'disk full')
    >>> clip("x" * 10, 8)
    'xxxxx...'

This module imports nothing of Kindling, so every provider (and the signalling
core) can use it.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "MAX_ERROR_CHARS",
    "clip",
    "connect_root_cause",
    "describe_error",
    "is_connect_error",
    "is_spark_error",
    "root_cause",
    "root_cause_in_text",
    "root_cause_parts",
    "summarize_error",
]

#: The longest ``error`` field :func:`describe_error` gives (the catalog's limit).
MAX_ERROR_CHARS = 500
_SUMMARY_PART_CHARS = 160
_MAX_CAUSE_CHAIN = 50  # a cause chain is short; a cycle must not hang error reporting
_CONNECT_MODULE = "pyspark.errors.exceptions.connect"

_CAUSED_BY = re.compile(r"Caused by: ([\w.$]+): ([^\n]*)")
_NAMED_FAILURE = re.compile(r"(?:^|[\s(:])((?:[a-z]\w*\.)+[A-Z][\w$]*(?:Exception|Error)):? ([^\n]*)")
# "Caused by: x.y.ZException: msg" or ": x.y.ZException: Job aborted ...): x.YException: msg"
_MESSAGE_AFTER_CLASS = re.compile(r"(?:^|[:)]\s)([\w$]+(?:\.[\w$]+)*(?:Exception|Error)):\s+")
_NESTED_FAILURE = re.compile(r"\):\s[\w$.]+(?:Exception|Error):\s+")
_NOT_A_MESSAGE = ("at ", "An error occurred while calling", "...")
_WRAPPER_MESSAGES = ("Job aborted", "Exception thrown in awaitResult")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in ``...`` when it was cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_connect_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a Spark Connect client's error (the server's failure, as text only)."""
    return type(exc).__module__.startswith(_CONNECT_MODULE)


def is_spark_error(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by Spark: Py4J's errors and pyspark's (classic or Connect)."""
    module = type(exc).__module__ or ""
    return module.startswith(("py4j", "pyspark"))


def root_cause_in_text(text: str) -> tuple[str, str] | None:
    """(class, first message line) of the innermost JVM failure an error's text names, or ``None``.

    Reads the ``Caused by:`` lines of a JVM stack trace, else the last
    ``pkg.SomeException: message`` in the text (a Spark Connect job failure
    names its task's error inline: ``... most recent failure: ...:
    org.apache.spark.SparkNumberFormatException: [CAST_INVALID_INPUT] ...``).
    """
    found = _CAUSED_BY.findall(text)
    if not found:
        found = [(cls, msg) for cls, msg in _NAMED_FAILURE.findall(text) if msg.strip()]
    if not found:
        return None
    cls, message = found[-1]
    return cls, message.strip()


def connect_root_cause(exc: BaseException) -> str | None:
    """``"<SimpleName>: <first line>"`` of the JVM cause of a Spark Connect error, or ``None``.

    The Spark Connect counterpart of reading a Py4J error's ``java_exception``
    chain: the client gets the server's error as text only.
    """
    if not is_connect_error(exc):
        return None
    found = root_cause_in_text(str(exc))
    if found is None:
        return None
    cls, message = found
    return f"{cls.rsplit('.', 1)[-1]}: {message}"


def _innermost(java: Any) -> Any:
    """The last Java exception of ``java``'s ``getCause()`` chain (Py4J calls: may raise)."""
    for _ in range(_MAX_CAUSE_CHAIN):
        inner = java.getCause()
        if inner is None:
            break
        java = inner
    return java


def root_cause(exc: BaseException) -> str | None:
    """``"<SimpleName>: <first line>"`` of the innermost JVM failure behind ``exc``, or ``None``.

    A Py4J error is read through its Java cause chain (a Python worker's
    failure is its traceback's last line); a Spark Connect error through its
    text. ``None`` for any other error, and when the JVM can't be asked.
    """
    java = getattr(exc, "java_exception", None)
    if java is None:
        return connect_root_cause(exc)
    try:
        java = _innermost(java)
        name = str(java.getClass().getSimpleName())
        lines = [ln.strip() for ln in str(java.getMessage() or "").splitlines() if ln.strip()]
    except Exception:  # the JVM is gone: the caller reads the exception's text instead
        return None
    if lines and lines[0].startswith("Traceback"):  # a Python worker's error: its last line says it
        return lines[-1]
    return f"{name}: {lines[0]}" if lines else name


def root_cause_parts(exc: BaseException) -> tuple[str, str]:
    """(fully qualified class, first message line) of the innermost JVM failure behind ``exc``.

    From the Py4J cause chain; without one (Spark Connect, or the JVM is gone)
    from the text, and for an error that names no JVM failure, its own class
    name and first line.
    """
    try:
        cause = _innermost(exc.java_exception)  # type: ignore[attr-defined]
        return str(cause.getClass().getName()), str(cause.getMessage() or "").split("\n", 1)[0]
    except Exception:  # no gateway (Spark Connect, or it is gone): read the text instead
        text = str(exc)
        return root_cause_in_text(text) or (type(exc).__name__, text.split("\n", 1)[0])


def describe_error(exc: BaseException) -> str:
    """A concise, one-paragraph message for an ``error`` field, at most :data:`MAX_ERROR_CHARS` long.

    A JVM error raised through Py4J is described by its root cause, the
    innermost Java exception (Spark wraps it in job and stage failures)::

        SparkFileNotFoundException: File file:/lake/tables/t/part-0.parquet does not exist
    """
    root = root_cause(exc)
    if root is not None:
        return clip(root, MAX_ERROR_CHARS)
    try:
        text = str(exc).strip()
    except Exception:  # a broken __str__ must not replace the exception being reported
        return type(exc).__name__
    if not text:
        return type(exc).__name__
    first = text.split("\n\n", 1)[0].strip()
    # JVM exceptions carry their whole stack in the message.
    first = first.split("\n\tat ", 1)[0].split("\nJVM stacktrace:", 1)[0].strip()
    return clip(first, MAX_ERROR_CHARS)


def summarize_error(exc: BaseException) -> str:
    """The useful part of a (Py4J-wrapped) Spark error: its first real message and its root cause.

    A Py4J error's text starts with "An error occurred while calling o263.json"
    and holds the whole JVM stack; a reader wants the line that says what was
    wrong (with a file, a row...) and the innermost cause, both short enough
    to fit, together, in an ``error`` field::

        [MALFORMED_RECORD_IN_PARSING] Malformed records are detected ... (cause: For input string: "x")
    """
    found: list[str] = []
    for line in str(exc).splitlines():
        line = line.strip()
        if not line or line.startswith(_NOT_A_MESSAGE):
            continue
        for m in _MESSAGE_AFTER_CLASS.finditer(line):
            rest = line[m.end():]
            if _NESTED_FAILURE.search(rest):
                continue  # an outer wrapper; the nested match carries the message
            msg = rest.strip()
            if msg and not msg.startswith(_WRAPPER_MESSAGES):
                found.append(msg)
    if not found:
        return connect_root_cause(exc) or describe_error(exc)
    first, last = found[0], found[-1]
    if last == first or last in first:
        return clip(first, 2 * _SUMMARY_PART_CHARS)
    # Both halves must survive the catalog's 500-character error field, path included.
    return f"{clip(first, _SUMMARY_PART_CHARS)} (cause: {clip(last, _SUMMARY_PART_CHARS)})"
