"""The ``kindling-signals`` command line (also ``python -m pytest_kindling_signals``).

Reports from saved data (``pytest --kindling-signals`` saves ``.kindling-signals``)
and signal catalogs, with no pytest and no test run::

    $ kindling-signals combine fast.data spark.data -o all.data
    $ kindling-signals report all.data --format term-missing --format markdown:coverage.md
    $ kindling-signals compare main.data all.data --format markdown:compare.md --fail-on-regression
    $ kindling-signals catalog validate catalogs/shop.yaml
    $ kindling-signals catalog export --format asyncapi -o signals.asyncapi.yaml
    $ kindling-signals catalog scan .../site-packages/kindling -o spark_kindling.yaml

Exit codes: 0 done; 1 the command failed or what it checked did not pass (a
gate, a regression, an invalid catalog), the message says which; 2 a usage
error. A new command is a function ``add(subparsers)`` that adds its parser
with ``set_defaults(run=...)``, where ``run(args) -> int`` (see
:func:`_add_catalog_scan`); the ``catalog`` group's commands are listed in
``CATALOG_COMMANDS``, the top-level ones in ``COMMANDS``. docs/cli.md has them all.

>>> main(["catalog", "scan", "/no/such/dir"])   # doctest: +SKIP
kindling-signals: error: /no/such/dir: no such file or directory; ...
1
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_kindling_signals.escape import printable
from pytest_kindling_signals.files import clashes, resolved, same_file, write_atomic

__all__ = ["CATALOG_COMMANDS", "COMMANDS", "CommandError", "build_parser", "main"]

PROG = "kindling-signals"


class CommandError(Exception):
    """A command that cannot do its job; ``main`` prints the message and returns 1."""


def _say(text: str, *, err: bool = False) -> None:
    """One line out, control characters and undecodable names shown as escapes (never a crash)."""
    print(printable(text), file=sys.stderr if err else sys.stdout)


def _refuse_clashes(parser: argparse.ArgumentParser, inputs: Sequence[tuple[str, Any]],
                    outputs: Sequence[tuple[str, Any]]) -> None:
    """A usage error when an output is one of the inputs, or two outputs are one file."""
    problem = clashes(inputs, outputs)
    if problem is not None:
        parser.error(printable(problem))


def _add_catalog_scan(sub: Any) -> None:
    p = sub.add_parser(
        "scan", help="draft a signal catalog from a framework's source (nothing is imported)",
        description="Read a package's source with ast (nothing is imported) and write a draft "
                    "signal catalog: every EMITS list, emit()/emit_chained() call and .send() "
                    "on a named signal, with the keyword names each call passes.")
    p.add_argument("target", metavar="TARGET",
                   help="a package name (found on this Python's path, not imported) or a folder/.py file")
    p.add_argument("-o", "--output", metavar="FILE", help="write the YAML here (default: stdout)")
    p.add_argument("--framework", metavar="TEXT",
                   help="the catalog's 'framework:' text (default: '<distribution> <version>' "
                        "of the installed package, else its name)")
    p.add_argument("--tiers-from", metavar="QUICK_REF_CATALOG",
                   help="a reference catalog (e.g. the quick reference's): its signals' tiers "
                        "rate the same events here; the others are marked extension: true")
    p.add_argument("--aliases", metavar="ALIAS_FILE",
                   help="an alias map (kindling-signal-aliases/1): reference name -> this "
                        "framework's name; needs --tiers-from")
    p.set_defaults(run=_run_catalog_scan, parser=p)


def _scan_inputs(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """What ``catalog scan`` reads, for the clash check: the reference files, and the target (a
    file, or the ``.py`` files of a folder, which ``-o`` must not name)."""
    inputs: list[tuple[str, Any]] = [(f"--{k.replace('_', '-')}", v) for k, v in
                                     (("tiers_from", args.tiers_from), ("aliases", args.aliases)) if v]
    target = Path(args.target)
    if target.is_file():
        inputs.append(("TARGET", target))
    elif args.output and target.is_dir():
        out = resolved(args.output)
        if out.suffix == ".py" and resolved(target) in out.parents:
            inputs.append(("a module of TARGET", out))
    return inputs


def _run_catalog_scan(args: argparse.Namespace) -> int:
    from pytest_kindling_signals.catalog import CatalogError, load_catalog
    from pytest_kindling_signals.catalog import load_aliases
    from pytest_kindling_signals.catalog import ScanError, draft_catalog, render_yaml, scan

    if args.aliases and not args.tiers_from:
        args.parser.error("--aliases needs --tiers-from QUICK_REF_CATALOG (the catalog the "
                          "aliases' names come from)")
    if args.output:
        _refuse_clashes(args.parser, _scan_inputs(args), [("-o", args.output)])
    try:
        result = scan(args.target)
    except ScanError as exc:
        raise CommandError(str(exc)) from None
    try:
        tiers: dict[str, str] | None = None
        if args.tiers_from:
            reference = load_catalog(args.tiers_from)
            aliases = load_aliases(args.aliases, quick_ref=reference) if args.aliases else None
            tiers = {}
            for name in reference:
                target = aliases.target(name) if aliases is not None else None
                target = target or name
                if target in result.signals:
                    tiers.setdefault(target, reference[name].tier)
                elif aliases is not None and name in aliases.aliases:
                    result.warnings.append(
                        f"{args.aliases}: aliases.{name}: {target} is not in the scanned source")
        draft = draft_catalog(result, framework=args.framework or result.framework, tiers=tiers)
        text = render_yaml(draft)
    except (ScanError, CatalogError) as exc:
        raise CommandError(str(exc)) from None
    finally:  # what was skipped and why, whether or not a catalog could be drafted
        for warning in result.warnings:
            _say(f"{PROG}: warning: {warning}", err=True)
    summary = (f"{len(result.signals)} signals in {len(draft['providers'])} namespaces, "
               f"{result.files} files scanned ({draft['framework']})")
    if args.output:
        out = Path(args.output)
        try:
            write_atomic(out, text)
        except OSError as exc:
            raise CommandError(f"{out}: cannot write the catalog ({exc.strerror or exc}); "
                               "check that its folder is writable") from None
        _say(f"wrote {out}: {summary}")
    else:
        _write_stdout(text)
        _say(f"{PROG}: {summary}", err=True)
    return 0


def _write_stdout(text: str) -> None:
    sys.stdout.write(text.encode(sys.stdout.encoding or "utf-8", "backslashreplace")
                     .decode(sys.stdout.encoding or "utf-8"))


# -- catalog validate / export -------------------------------------------------------

def _add_catalog_validate(sub: Any) -> None:
    p = sub.add_parser(
        "validate", help="check catalog files (for pre-commit): exit 1 on the first problem of each",
        description="Load each catalog file as the plugin does and say what is wrong with it: the "
                    "file, the key path and the fix. With --base, each file is also merged after that "
                    "catalog, as pytest merges the kindling_signals_catalogs files after the "
                    "framework's (a namespace or signal defined twice is an error).")
    p.add_argument("files", nargs="+", metavar="FILE", help="catalog files (YAML or JSON)")
    p.add_argument("--base", default="none", metavar="auto|none|FILE",
                   help="merge each file after this catalog: 'auto' is the installed framework's, "
                        "'none' (default) checks each file alone")
    p.set_defaults(run=_run_catalog_validate)


def _base_paths(choice: str, *, missing_ok: bool = False) -> list[Path]:
    from pytest_kindling_signals.frameworks import FrameworkError, find_framework

    if choice == "none":
        return []
    if choice == "auto":
        try:
            framework = find_framework("auto")
        except FrameworkError as exc:
            raise CommandError(str(exc)) from None
        if framework is None and missing_ok:  # as pytest: the user's files alone
            return []
        if framework is None:
            raise CommandError("--base auto: no Kindling framework is installed here; give "
                               "--base FILE or --base none")
        return list(framework.catalog_paths())
    return [Path(choice)]


def _run_catalog_validate(args: argparse.Namespace) -> int:
    from pytest_kindling_signals.catalog import CatalogError, load_catalog
    from pytest_kindling_signals.report import catalog_ref

    base = _base_paths(args.base)
    failed = 0
    for file in args.files:
        try:
            catalog = load_catalog(*base, file)
        except CatalogError as exc:
            failed += 1
            _say(f"{PROG}: error: {exc}", err=True)
            continue
        own = [s for s in catalog.values() if Path(s.source) == resolved(file)]
        providers = len({s.namespace for s in own})
        _say(f"{file}: ok, {len(own)} signals in {providers} provider{'s' if providers != 1 else ''}"
             + (f" (merged after {', '.join(catalog_ref(b, Path.cwd()) for b in base)})" if base else ""))
    if failed:
        _say(f"{PROG}: {failed} of {len(args.files)} catalog files are not valid", err=True)
    return 1 if failed else 0


def _add_catalog_export(sub: Any) -> None:
    from pytest_kindling_signals.catalog import EXPORT_FORMATS

    p = sub.add_parser(
        "export", help="write a catalog as Markdown, JSON Schema or AsyncAPI 3.0",
        description="Export a signal catalog: 'markdown' (a reference, one table per provider), "
                    "'jsonschema' (every payload's schema under $defs; the document validates "
                    "{signal, payload} records) or 'asyncapi' (AsyncAPI 3.0 YAML: a channel per "
                    "signal). Without FILE, the installed framework's catalog (the quick "
                    "reference's when none is installed).")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="catalog files, merged in order after the installed framework's catalog, as "
                        "pytest merges the kindling_signals_catalogs files (see --alone)")
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS, dest="fmt")
    p.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    p.add_argument("--title", default=None, help="the document's title (default: the framework's name)")
    p.add_argument("--alone", action="store_true",
                   help="export the FILEs alone, without the framework's catalog (its common payload "
                        "fields included), which is not what pytest enforces")
    p.set_defaults(run=_run_catalog_export, parser=p)


def _run_catalog_export(args: argparse.Namespace) -> int:
    from importlib.metadata import PackageNotFoundError, version

    from pytest_kindling_signals.catalog import CatalogError, load_catalog
    from pytest_kindling_signals.catalog import export
    from pytest_kindling_signals.frameworks import FrameworkError, default_catalog, find_framework
    from pytest_kindling_signals.report import catalog_ref

    if args.alone and not args.files:
        args.parser.error("--alone exports the catalog FILEs given alone; give at least one FILE")
    try:
        base = [] if args.alone or not args.files else _base_paths("auto", missing_ok=True)
        base = [b for b in base if not any(same_file(b, f) for f in args.files)]  # the framework's own file
        if args.output:
            _refuse_clashes(args.parser, [("FILE", f) for f in [*base, *args.files]], [("-o", args.output)])
        if args.files:
            catalog = load_catalog(*base, *args.files)
            title, ver = args.title or "Signal catalog", "1.0.0"
            if base:
                _say(f"{PROG}: merged after {', '.join(catalog_ref(b, Path.cwd()) for b in base)}, as pytest "
                     "merges it (--alone: the files alone)", err=True)
        else:
            framework = find_framework("auto")
            catalog = default_catalog()
            name = f"{framework.name} signals" if framework is not None else "Kindling signals (quick reference)"
            title = args.title or name
            ver = framework.version() if framework is not None else "1.0.0"
    except (CatalogError, FrameworkError) as exc:
        raise CommandError(str(exc)) from None
    if not args.files:
        try:
            ver = ver if ver != "not installed" else version("pytest-kindling-signals")
        except PackageNotFoundError:
            ver = "1.0.0"
    try:
        text = export(catalog, args.fmt, title=title, version=ver)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    _emit(text, args.output, f"{args.fmt} export")
    return 0


def _emit(text: str, output: str | None, what: str) -> None:
    if not output:
        _write_stdout(text)
        return
    path = Path(output)
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise CommandError(f"{path}: cannot write the {what} ({exc.strerror or exc}); check that its "
                           "folder is writable") from None
    _say(f"{what} written to {path}")


#: ``catalog`` subcommands: each adds its parser to the group's subparsers.
CATALOG_COMMANDS: list[Callable[[Any], None]] = [_add_catalog_validate, _add_catalog_export, _add_catalog_scan]


def _add_catalog_group(sub: Any) -> None:
    p = sub.add_parser("catalog", help="signal catalogs: validate, export, scan a framework's source",
                       description="Work with signal catalogs.")
    group = p.add_subparsers(dest="catalog_command", metavar="COMMAND", required=True)
    for add in CATALOG_COMMANDS:
        add(group)


# -- combine / report / compare ---------------------------------------------------------

def _load(paths: Sequence[str], *, folders: bool = False) -> list[Any]:
    """The data files (with ``folders``, a folder stands for the data files in it)."""
    from pytest_kindling_signals.report import DataError, RunData, load_many

    try:
        return load_many(paths) if folders else [RunData.load(p) for p in paths]
    except DataError as exc:
        raise CommandError(str(exc)) from None


def _add_combine(sub: Any) -> None:
    p = sub.add_parser(
        "combine", help="merge the data of several runs into one data file",
        description="Merge saved data (counts, tests, findings, deselections) into one data file, "
                    "the same in any order. Runs that split one suite (-m 'not spark' and -m spark, "
                    "or a CI matrix) combine into what one full run gives: a test one run "
                    "deselected and another ran is no longer missing. A folder stands for every "
                    ".kindling-signals* file under it.")
    p.add_argument("data", nargs="+", metavar="DATA", help="data files (or folders holding them)")
    p.add_argument("-o", "--output", default=".kindling-signals", metavar="OUT",
                   help="the combined data file (default: .kindling-signals); never one of the inputs")
    p.set_defaults(run=_run_combine, parser=p)


def _run_combine(args: argparse.Namespace) -> int:
    from pytest_kindling_signals.report import DataError, DataLock, combine

    runs = _load(args.data, folders=True)
    _refuse_clashes(args.parser, [("DATA", r.source) for r in runs], [("-o", args.output)])
    warnings: list[str] = []
    try:
        combined = combine(runs, warnings=warnings)
        report = combined.report()
    except DataError as exc:
        raise CommandError(str(exc)) from None
    for w in warnings:
        _say(f"{PROG}: warning: {w}", err=True)
    out = Path(args.output)
    try:
        with DataLock(out):
            combined.save(out)
    except DataError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"{out}: cannot write the combined data ({exc.strerror or exc}); check "
                           "that its folder is writable") from None
    t = report.totals
    state = ("partial: " + "; ".join(report.partial_reasons)) if report.partial else "whole suite"
    counted = len({r.runs for r in runs})  # a file given twice (or a copy) counts once
    _say(f"combined {counted} data file{'s' if counted != 1 else ''} into {out}: {t.emitted} of {t.signals} "
         f"catalog signals emitted by {len(report.data.tests)} tests ({state})")
    return 0


def _add_gate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fail-under", metavar="PCT", default=None,
                   help="as --kindling-signals-fail-under (default: the gates the run was made with); "
                        "a gate given here applies to partial data too, unless --no-gate-partial")
    p.add_argument("--no-fail-under", dest="fail_under", action="store_const", const="",
                   help="no coverage gate, whatever the run had")
    p.add_argument("--strict", action=argparse.BooleanOptionalAction, default=None,
                   help="as --kindling-signals-strict (default: as the run had it)")
    p.add_argument("--gate-partial", action=argparse.BooleanOptionalAction, default=None,
                   help="as --kindling-signals-gate-partial (default: as the run had it)")


def _add_report(sub: Any) -> None:
    p = sub.add_parser(
        "report", help="print or write the coverage report of saved data, with its gates",
        description="The report pytest --kindling-signals prints and writes, from saved data: the "
                    "same outputs and the same gates (by default the gates the run was made with). "
                    "Exit 1 when a gate fails. With --base, the reports also compare with a base "
                    "run's data (e.g. the main branch's).")
    p.add_argument("data", metavar="DATA", help="a data file (.kindling-signals)")
    p.add_argument("--format", action="append", dest="formats", metavar="TYPE",
                   help="term, term-missing, json:PATH, markdown:PATH or html:PATH; repeatable "
                        "(default: term)")
    _add_gate_options(p)
    p.add_argument("--base", metavar="BASE_DATA", help="compare with this run's data in every output")
    p.add_argument("--conformance", action="store_true",
                   help="add the quick-reference conformance view (a framework that names signals its own "
                        "way, spark-kindling) to every output")
    p.set_defaults(run=_run_report, parser=p)


def _targets(parser: argparse.ArgumentParser, formats: list[str] | None, default: str) -> list[Any]:
    from pytest_kindling_signals.report import parse_report_targets

    try:
        return parse_report_targets(formats or [default], option="--format")
    except ValueError as exc:
        parser.error(str(exc))
    raise AssertionError("unreachable")  # pragma: no cover


def _write_all(targets: Sequence[Any], render_one: Callable[[Any], str]) -> list[str]:
    """Write every file target (one failing doesn't stop the others); the errors, one line each."""
    errors = []
    for target in targets:
        if target.path is None:
            continue
        try:
            write_atomic(target.path, render_one(target))
        except (OSError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            errors.append(f"{PROG}: ERROR cannot write the {target.kind} report to {target.path}: {why}; "
                          "check that its folder is writable")
            continue
        _say(f"{target.kind} report written to {target.path}")
    return errors


def _outputs(targets: Sequence[Any]) -> list[tuple[str, str]]:
    return [(f"--format={t.kind}:{t.path}", t.path) for t in targets if t.path is not None]


def _run_report(args: argparse.Namespace) -> int:
    from pytest_kindling_signals.report import Comparison
    from pytest_kindling_signals.report import evaluate_gates, gate_failure_line, parse_fail_under
    from pytest_kindling_signals.report import DataError, describe_gates
    from pytest_kindling_signals.report import render, render_term

    targets = _targets(args.parser, args.formats, "term")
    _refuse_clashes(args.parser, [("DATA", args.data)] + ([("--base", args.base)] if args.base else []),
                    _outputs(targets))
    (run,) = _load([args.data])
    try:
        report = run.report(conformance=args.conformance)
        base = None
        if args.base:
            (base_run,) = _load([args.base])
            base = Comparison(base_run.report(), report, base_label=args.base, head_label=args.data)
    except DataError as exc:
        raise CommandError(str(exc)) from None
    gates = run.gates
    typed = args.fail_under is not None
    fail_under_text = args.fail_under if typed else (gates.fail_under if gates else "")
    try:
        fail_under = parse_fail_under(fail_under_text, report.catalog.tiers, "--fail-under") \
            if fail_under_text.strip() else ()
    except ValueError as exc:
        if typed:
            args.parser.error(str(exc))
        raise CommandError(f"{args.data}: the gates saved with the run are not valid for its catalog "
                           f"({exc}); give --fail-under PCT or --no-fail-under to override them") from None
    strict = args.strict if args.strict is not None else bool(gates and gates.strict)
    # a gate typed here applies to this data, partial or not (unless --no-gate-partial)
    default_partial = bool(fail_under) if typed else bool(gates and gates.gate_partial)
    gate_partial = args.gate_partial if args.gate_partial is not None else default_partial
    verdicts = evaluate_gates(report, fail_under, strict=strict, gate_partial=gate_partial)
    for target in targets:
        if target.path is None:
            for line in render_term(report, verdicts, missing=target.kind == "term-missing", compare=base):
                _say(line)
    errors = _write_all(targets, lambda t: render(t.kind, report, verdicts, base))
    if args.fail_under is None and args.strict is None and gates is not None and verdicts:
        _say(f"gates from {args.data}: {describe_gates(gates)}")
    for g in verdicts:
        if g.skipped:
            _say(f"{PROG}: warning: gate {g.gate} (from {args.data}) was not applied: partial run "
                 f"({'; '.join(report.partial_reasons)}); give --gate-partial to apply it", err=True)
    for error in errors:
        _say(error, err=True)
    failure = gate_failure_line(verdicts)
    if failure:
        _say(failure)  # the verdict, last
        return 1
    return 1 if errors else 0


def _add_compare(sub: Any) -> None:
    p = sub.add_parser(
        "compare", help="what changed between a base run and a head run",
        description="Signals newly covered and no longer covered, signals added to or removed from "
                    "the catalog, findings new and fixed, and coverage per tier before and after: "
                    "for a pull-request comment (markdown:PATH), a terminal or JSON. A signal no "
                    "longer covered or a new finding is a regression: --fail-on-regression exits "
                    "1 then.")
    p.add_argument("base", metavar="BASE", help="the base run's data file (e.g. the main branch's)")
    p.add_argument("head", metavar="HEAD", help="the run to judge")
    p.add_argument("--format", action="append", dest="formats", metavar="TYPE",
                   help="term, json:PATH or markdown:PATH; repeatable (default: term)")
    p.add_argument("--fail-on-regression", action="store_true",
                   help="exit 1 when a signal is no longer covered or a finding is new")
    p.set_defaults(run=_run_compare, parser=p)


def _run_compare(args: argparse.Namespace) -> int:
    from pytest_kindling_signals.report import (
        Comparison,
        render_compare_json,
        render_compare_markdown,
        render_compare_term,
    )
    from pytest_kindling_signals.report import DataError

    targets = _targets(args.parser, args.formats, "term")
    for t in targets:
        if t.kind in ("term-missing", "html"):
            args.parser.error(f"--format={t.kind}{':' + t.path if t.path else ''}: compare writes term, "
                              "json:PATH or markdown:PATH")
    _refuse_clashes(args.parser, [("BASE", args.base), ("HEAD", args.head)], _outputs(targets))
    base_run, head_run = _load([args.base, args.head])
    try:
        cmp = Comparison(base_run.report(), head_run.report(), base_label=args.base, head_label=args.head)
    except DataError as exc:
        raise CommandError(str(exc)) from None
    for target in targets:
        if target.path is None:
            for line in render_compare_term(cmp):
                _say(line)
    errors = _write_all(targets, lambda t: render_compare_json(cmp) if t.kind == "json"
                        else render_compare_markdown(cmp) + "\n")
    for error in errors:
        _say(error, err=True)
    if args.fail_on_regression and cmp.regressions:
        _say(f"{PROG}: FAILED regression: " + "; ".join(cmp.regressions))  # the verdict, last
        return 1
    return 1 if errors else 0


#: Top-level commands.
COMMANDS: list[Callable[[Any], None]] = [_add_combine, _add_report, _add_compare, _add_catalog_group]


def build_parser() -> argparse.ArgumentParser:
    """The ``kindling-signals`` parser with every registered command."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Kindling signal reports from saved data, and signal catalogs. "
                               "Exit codes: 0 done, 1 failed (a gate, a regression, an invalid "
                               "catalog, an unreadable file: the message says which), 2 usage error.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 failed, 2 usage error).

    >>> main(["--help"])   # doctest: +SKIP
    """
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
        run: Callable[[argparse.Namespace], int] = args.run
        return run(args)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except CommandError as exc:
        _say(f"{PROG}: error: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
