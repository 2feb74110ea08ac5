"""The ``kindling-signals`` command line (also ``python -m pytest_kindling_signals``).

Commands are grouped: ``kindling-signals catalog scan TARGET`` drafts a
catalog from a framework's source::

    $ kindling-signals catalog scan .../site-packages/kindling -o spark_kindling.yaml \\
          --tiers-from quick_reference.yaml --aliases spark_kindling_aliases.yaml

Exit codes: 0 done, 1 the command failed (the message is on stderr), 2 usage
error. A new command is a function ``add(subparsers)`` that adds its parser
with ``set_defaults(run=...)``, where ``run(args) -> int`` (see
:func:`_add_catalog_scan`); the ``catalog`` group's commands are listed in
``CATALOG_COMMANDS``, the top-level ones in ``COMMANDS``.

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

__all__ = ["CATALOG_COMMANDS", "COMMANDS", "CommandError", "build_parser", "main"]

PROG = "kindling-signals"


class CommandError(Exception):
    """A command that cannot do its job; ``main`` prints the message and returns 1."""


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


def _run_catalog_scan(args: argparse.Namespace) -> int:
    from pytest_kindling_signals.catalog import CatalogError, load_catalog
    from pytest_kindling_signals.conformance import load_aliases
    from pytest_kindling_signals.scan import ScanError, draft_catalog, render_yaml, scan

    if args.aliases and not args.tiers_from:
        args.parser.error("--aliases needs --tiers-from QUICK_REF_CATALOG (the catalog the "
                          "aliases' names come from)")
    try:
        result = scan(args.target)
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
    for warning in result.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    summary = (f"{len(result.signals)} signals in {len(draft['providers'])} namespaces, "
               f"{result.files} files scanned ({draft['framework']})")
    if args.output:
        out = Path(args.output)
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{out}: cannot write the catalog ({exc.strerror or exc}); "
                               "check that its folder exists and is writable") from None
        print(f"wrote {out}: {summary}")
    else:
        sys.stdout.write(text)
        print(f"{PROG}: {summary}", file=sys.stderr)
    return 0


#: ``catalog`` subcommands: each adds its parser to the group's subparsers.
CATALOG_COMMANDS: list[Callable[[Any], None]] = [_add_catalog_scan]


def _add_catalog_group(sub: Any) -> None:
    p = sub.add_parser("catalog", help="signal catalogs: scan a framework's source",
                       description="Work with signal catalogs.")
    group = p.add_subparsers(dest="catalog_command", metavar="COMMAND", required=True)
    for add in CATALOG_COMMANDS:
        add(group)


#: Top-level commands (``report``, ``combine``, ``compare`` go here).
COMMANDS: list[Callable[[Any], None]] = [_add_catalog_group]


def build_parser() -> argparse.ArgumentParser:
    """The ``kindling-signals`` parser with every registered command."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Kindling signal catalogs and reports.")
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
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
