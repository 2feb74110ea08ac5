"""Spark's errors read for people: root causes from Py4J, JVM text and Spark Connect, and clipping.

Fast tests: no JVM. Py4J errors are stood in for by objects with the part of
the ``JavaObject`` API the module calls; texts are what Spark 3.5 prints.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

import kindling.spark_errors as spark_errors
from kindling.spark_errors import (
    MAX_ERROR_CHARS,
    clip,
    connect_root_cause,
    describe_error,
    is_connect_error,
    is_spark_error,
    root_cause,
    root_cause_in_text,
    root_cause_parts,
    summarize_error,
)

pytestmark = pytest.mark.kindling_signals_ignore  # no signals here: nothing for the report to count

# A Py4J error's text (classic session): a wrapper per layer, then the stack and its causes.
PY4J_JOB_FAILURE = (
    "An error occurred while calling o263.json.\n"
    ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 5.0 "
    "failed 1 times, most recent failure: Lost task 0.0 (TID 8) (host executor driver): "
    "org.apache.spark.SparkException: [MALFORMED_RECORD_IN_PARSING] Malformed records are "
    "detected in record parsing: [2,b,null].\n"
    "\tat org.apache.spark.sql.errors.QueryExecutionErrors$.malformed(QueryExecutionErrors.scala:1)\n"
    "Caused by: java.lang.NumberFormatException: For input string: \"x\"\n"
    "\tat java.base/java.lang.Integer.parseInt(Integer.java:1)\n")

PY4J_ANALYSIS_FAILURE = (
    "An error occurred while calling o57.save.\n"
    ": org.apache.spark.sql.AnalysisException: [DELTA_FAILED_TO_MERGE_FIELDS] Failed to merge fields "
    "'id' and 'id'\n"
    "\tat org.apache.spark.sql.delta.DeltaErrors$.failedMergeFields(DeltaErrors.scala:123)\n"
    "\tat java.base/java.lang.Thread.run(Thread.java:840)\n"
    "Caused by: org.apache.spark.sql.AnalysisException: [DELTA_MERGE_INCOMPATIBLE_DATATYPE] Failed "
    "to merge incompatible data types IntegerType and StringType\n"
    "\tat org.apache.spark.sql.delta.DeltaErrors$.mergeIncompatible(DeltaErrors.scala:456)\n"
    "\t... 42 more\n")

# A Spark Connect job failure: the server's error as text, the task's failure named inline.
CONNECT_JOB_FAILURE = (
    "(org.apache.spark.SparkException) Job aborted due to stage failure: Task 0 in stage 7.0 failed "
    "1 times, most recent failure: Lost task 0.0 in stage 7.0 (TID 9) (localhost executor driver): "
    "org.apache.spark.SparkNumberFormatException: [CAST_INVALID_INPUT] The value 'lots' of the type "
    "\"STRING\" cannot be cast to \"INT\" because it is malformed.\n\tat org.apache.spark.sql.errors...")
CONNECT_ROOT_CAUSE = ("SparkNumberFormatException: [CAST_INVALID_INPUT] The value 'lots' of the type "
                      "\"STRING\" cannot be cast to \"INT\" because it is malformed.")


class _JavaThrowable:
    """The part of a Py4J ``JavaObject`` for a Java exception that the module reads."""

    def __init__(self, cls: str, message: str | None, cause: _JavaThrowable | None = None) -> None:
        self.cls, self.message, self.cause = cls, message, cause

    def getCause(self) -> _JavaThrowable | None:  # noqa: N802 - the Java API's name
        return self.cause

    def getMessage(self) -> str | None:  # noqa: N802
        return self.message

    def getClass(self) -> Any:  # noqa: N802
        cls = self.cls
        return type("Class", (), {"getName": lambda _: cls, "getSimpleName": lambda _: cls.rsplit(".", 1)[-1]})()


class _GatewayGone:
    def getCause(self) -> None:  # noqa: N802
        raise ConnectionError("Answer from Java side is empty")


class Py4JJavaError(Exception):
    """Stands in for ``py4j.protocol.Py4JJavaError``: the text, plus the Java exception."""

    def __init__(self, text: str, java: Any) -> None:
        super().__init__(text)
        self.java_exception = java


Py4JJavaError.__module__ = "py4j.protocol"


def _job_failure(cause: _JavaThrowable) -> Py4JJavaError:
    return Py4JJavaError(PY4J_JOB_FAILURE, _JavaThrowable(
        "org.apache.spark.SparkException", "Job aborted due to stage failure: ...", cause))


def _connect_error(text: str) -> BaseException:
    connect = pytest.importorskip("pyspark.errors.exceptions.connect")
    error: BaseException = connect.SparkConnectGrpcException(text)
    return error


# -- the module stands alone --------------------------------------------------------------

def test_the_module_imports_nothing_of_kindling() -> None:
    tree = ast.parse(Path(spark_errors.__file__).read_text(encoding="utf-8"))
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert [name for name in imported if name.startswith("kindling")] == []


# -- clip ------------------------------------------------------------------------------------

def test_clip_keeps_text_that_fits_and_marks_what_it_cuts() -> None:
    assert clip("abcdefgh", 8) == "abcdefgh"
    assert clip("abcdefghi", 8) == "abcde..."
    assert len(clip("x" * 2000, MAX_ERROR_CHARS)) == MAX_ERROR_CHARS


# -- which errors are Spark's -------------------------------------------------------------------

def test_spark_errors_are_told_by_their_module() -> None:
    assert is_spark_error(Py4JJavaError("x", None))
    assert not is_spark_error(ValueError("x"))
    assert not is_connect_error(Py4JJavaError("x", None))


def test_a_spark_connect_error_is_a_spark_error() -> None:
    error = _connect_error("x")
    assert is_connect_error(error) and is_spark_error(error)


# -- root causes in text ---------------------------------------------------------------------------

def test_the_root_cause_in_a_jvm_stack_is_its_last_caused_by() -> None:
    assert root_cause_in_text(PY4J_JOB_FAILURE) == ("java.lang.NumberFormatException", 'For input string: "x"')
    assert root_cause_in_text(PY4J_ANALYSIS_FAILURE) == (
        "org.apache.spark.sql.AnalysisException",
        "[DELTA_MERGE_INCOMPATIBLE_DATATYPE] Failed to merge incompatible data types IntegerType and StringType")
    assert root_cause_in_text("x\nCaused by: java.io.IOException: outer\nCaused by: a.B$C: inner") == ("a.B$C", "inner")


def test_without_caused_by_the_root_cause_is_the_last_failure_named_inline() -> None:
    assert root_cause_in_text(CONNECT_JOB_FAILURE) == (
        "org.apache.spark.SparkNumberFormatException", CONNECT_ROOT_CAUSE.split(": ", 1)[1])


def test_text_that_names_no_jvm_failure_has_no_root_cause() -> None:
    assert root_cause_in_text("[TABLE_OR_VIEW_NOT_FOUND] The table `x` cannot be found.") is None
    assert root_cause_in_text("ValueError: not a JVM class") is None
    assert root_cause_in_text("") is None


def test_the_root_cause_of_a_spark_connect_error_is_read_from_its_text() -> None:
    error = _connect_error(CONNECT_JOB_FAILURE)
    assert connect_root_cause(error) == CONNECT_ROOT_CAUSE
    assert root_cause(error) == CONNECT_ROOT_CAUSE
    assert connect_root_cause(_connect_error("[TABLE_OR_VIEW_NOT_FOUND] The table `x` cannot be found.")) is None
    assert connect_root_cause(ValueError(CONNECT_JOB_FAILURE)) is None  # not a Connect error


# -- root causes from Py4J ------------------------------------------------------------------------

def test_a_py4j_errors_root_cause_is_the_end_of_its_java_cause_chain() -> None:
    missing = _JavaThrowable("org.apache.spark.SparkFileNotFoundException",
                             "File file:/t/part-0.parquet does not exist\n"
                             "It is possible the underlying files have been updated.")
    error = _job_failure(missing)
    assert root_cause(error) == "SparkFileNotFoundException: File file:/t/part-0.parquet does not exist"
    assert root_cause_parts(error) == ("org.apache.spark.SparkFileNotFoundException",
                                       "File file:/t/part-0.parquet does not exist")


def test_a_python_workers_failure_is_its_tracebacks_last_line() -> None:
    worker = _JavaThrowable("org.apache.spark.api.python.PythonException",
                            "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: poisoned row\n")
    assert root_cause(_job_failure(worker)) == "ValueError: poisoned row"


def test_a_java_exception_without_a_message_is_named_by_its_class() -> None:
    assert root_cause(_job_failure(_JavaThrowable("java.lang.NullPointerException", None))) == (
        "NullPointerException")
    assert root_cause_parts(_job_failure(_JavaThrowable("java.lang.NullPointerException", None))) == (
        "java.lang.NullPointerException", "")


def test_when_the_jvm_is_gone_the_root_cause_is_read_from_the_text() -> None:
    error = Py4JJavaError(PY4J_JOB_FAILURE, _GatewayGone())
    assert root_cause(error) is None  # describe_error then reads the text
    assert root_cause_parts(error) == ("java.lang.NumberFormatException", 'For input string: "x"')


def test_an_error_that_is_not_spark_s_has_no_root_cause() -> None:
    assert root_cause(ValueError("plain message")) is None
    assert root_cause_parts(ValueError("plain message\nsecond line")) == ("ValueError", "plain message")


def test_root_cause_parts_of_a_spark_connect_error() -> None:
    assert root_cause_parts(_connect_error(CONNECT_JOB_FAILURE)) == (
        "org.apache.spark.SparkNumberFormatException", CONNECT_ROOT_CAUSE.split(": ", 1)[1])


# -- describe_error ----------------------------------------------------------------------------------

def test_describe_error_gives_the_root_cause_else_the_first_message_without_the_stack() -> None:
    assert describe_error(_job_failure(_JavaThrowable("java.io.IOException", "disk full"))) == (
        "IOException: disk full")
    assert describe_error(Py4JJavaError(PY4J_ANALYSIS_FAILURE, _GatewayGone())) == (
        "An error occurred while calling o57.save.\n"
        ": org.apache.spark.sql.AnalysisException: [DELTA_FAILED_TO_MERGE_FIELDS] Failed to merge fields "
        "'id' and 'id'")
    assert describe_error(ValueError("[TABLE_OR_VIEW_NOT_FOUND] The table `x` cannot be found.\n\n"
                                     "JVM stacktrace:\norg.apache.spark.sql.AnalysisException")) == (
        "[TABLE_OR_VIEW_NOT_FOUND] The table `x` cannot be found.")


def test_describe_error_names_empty_errors_and_clips_long_ones() -> None:
    assert describe_error(KeyError()) == "KeyError"
    assert describe_error(_job_failure(_JavaThrowable("x.Y", "z" * 2000))) == "Y: " + "z" * 494 + "..."

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("broken __str__")

    assert describe_error(Unprintable()) == "Unprintable"


# -- summarize_error -----------------------------------------------------------------------------------

def test_a_py4j_error_is_summarised_to_its_message_and_root_cause() -> None:
    assert summarize_error(RuntimeError(PY4J_JOB_FAILURE)) == (
        "[MALFORMED_RECORD_IN_PARSING] Malformed records are detected in record parsing: [2,b,null]. "
        "(cause: For input string: \"x\")")
    assert summarize_error(ValueError("plain message")) == "plain message"


def test_a_summary_with_one_message_keeps_twice_the_room() -> None:
    long = "org.apache.spark.SparkException: " + "m" * 400
    assert summarize_error(RuntimeError(long)) == "m" * 317 + "..."
    both = f"a.BException: {'f' * 200}\nCaused by: c.DException: {'d' * 200}"
    assert summarize_error(RuntimeError(both)) == f"{'f' * 157}... (cause: {'d' * 157}...)"


def test_a_spark_connect_error_is_summarised_like_a_py4j_one() -> None:
    assert summarize_error(_connect_error(CONNECT_JOB_FAILURE)) == CONNECT_ROOT_CAUSE.split(": ", 1)[1]
    # A failure it names by class in parentheses only: the error's own first line.
    error = _connect_error("(org.apache.spark.SparkException) Job aborted due to stage failure")
    assert summarize_error(error) == "(org.apache.spark.SparkException) Job aborted due to stage failure"
