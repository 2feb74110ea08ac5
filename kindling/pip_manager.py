"""Install packages and build wheels with the real ``pip``, one signal per step.

:class:`PipManager` runs ``python -m pip`` in a subprocess (the interpreter
running Kindling), into a target folder (``--target``) or the current
environment::

    >>> pm = PipManager()
    >>> result = pm.install_packages(["tinylib"], target="/tmp/libs",
    ...                              no_index=True, find_links="/tmp/wheels")  # doctest: +SKIP
    >>> result.success_count, result.cached_packages                           # doctest: +SKIP
    (1, ['tinylib'])
    >>> pm.build_wheel("src/tinylib", "/tmp/wheels")                           # doctest: +SKIP
    '/tmp/wheels/tinylib-0.1.0-py3-none-any.whl'

Credentials in URLs (``https://user:token@host/simple``) never leave this
module: every command logged, payload sent, and error raised goes through
:func:`redact` first (``https://user:***@host/simple``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import unquote

from kindling.signaling import SignalEmitter, SignalProvider

__all__ = ["InstallResult", "PackageResult", "PipError", "PipManager", "redact"]

logger = logging.getLogger("kindling.pip")

PathLike = str | os.PathLike[str]

# A URL: a scheme (the start of a word of scheme characters, so the scan stays
# linear) and everything up to the next whitespace. Secrets hold any other
# character ('@', '/', ':', '#', '?', '%'), so the URL's own structure can't
# say where they end: see redact().
_SCHEME = re.compile(r"(?<![A-Za-z0-9+.\-])[A-Za-z0-9+.\-]*://")
_AUTHORITY_END = re.compile(r"[/?#\s]")
_WORD_END = re.compile(r"\s")
# A host name with a dot, localhost or an IP address (no port, no credentials).
_PLAIN_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*\.?"
                         r"|localhost|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]")
_VCS_SCHEMES = ("git+", "hg+", "svn+", "bzr+")
# A user name shown before ':***@'; anything else (a '/', an '@'...) may be part of the secret.
_PLAIN_USER = re.compile(r"[A-Za-z0-9._~+\-]+")
_OUTPUT_TAIL = 2000
_DEFAULT_TIMEOUT = 900.0


def redact(text: str) -> str:
    """``text`` with the secret part of every URL's credentials replaced by ``***``.

    The credentials are everything between ``://`` and the URL's **last**
    ``@`` (a URL ends at whitespace), so a secret is hidden whole whatever
    it holds; a plain user name before the first ``:`` stays visible. The
    one URL left alone is a VCS requirement whose host is plain and whose
    ``@`` comes after it, a revision: ``git+https://github.com/org/repo.git@v1.0``.

    >>> redact("pip install --index-url https://alice:s3cret@pkgs.example/simple x")
    'pip install --index-url https://alice:***@pkgs.example/simple x'
    >>> redact("https://ghp_token@github.example/org/repo")
    'https://***@github.example/org/repo'
    >>> redact("https://bob:p@ss/w:rd#1@pkgs.example/simple")
    'https://bob:***@pkgs.example/simple'
    """
    if "://" not in text:
        return text
    out, pos = [], 0
    for scheme, rest, start, end in _urls(text):
        out.append(text[pos:start])
        creds = _credentials(scheme, rest)
        out.append(f"{creds[0]}***@{creds[2]}" if creds else text[start:end])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _urls(text: str) -> Iterator[tuple[str, str, int, int]]:
    """(scheme, the rest of the URL, start, end) of every URL in ``text``.

    A URL runs to the end of its word, except a VCS URL whose plain host has
    no '@' before it: its '@' is a revision, and another URL may follow in the
    same word (it ends at its host, which is all redact() needs).
    """
    pos = 0
    while (m := _SCHEME.search(text, pos)) is not None:
        scheme, after = m.group(), m.end()
        pos = _end(_AUTHORITY_END, text, after)
        if not (scheme.startswith(_VCS_SCHEMES) and _PLAIN_HOST.fullmatch(text, after, pos)):
            pos = _end(_WORD_END, text, pos)
        yield scheme, text[after:pos], m.start(), pos


def _end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    found = pattern.search(text, pos)
    return found.start() if found is not None else len(text)


def _credentials(scheme: str, rest: str) -> tuple[str, str, str] | None:
    """(what stays before the secret, the secret, what follows its '@') of one URL, if it has any."""
    at = rest.rfind("@")
    if at < 0:
        return None
    user, sep, secret = rest[:at].partition(":")
    if sep and _PLAIN_USER.fullmatch(user):
        return f"{scheme}{user}:", secret, rest[at + 1:]
    return scheme, rest[:at], rest[at + 1:]  # a bare token: the user name IS the secret


def _secrets(texts: Iterable[str]) -> list[str]:
    """The secrets :func:`redact` hides in ``texts`` (longest first), to hide them anywhere else."""
    found: set[str] = set()
    for text in texts:
        for scheme, rest, _start, _end in _urls(text):
            creds = _credentials(scheme, rest)
            if creds is not None:
                found.update({creds[1], unquote(creds[1])})
    # A very short "secret" (a 1-3 character password) would turn every such
    # string in pip's output into ***; redact() still hides it in every URL.
    return sorted((f for f in found if len(f) >= 4), key=len, reverse=True)


def _scrub(text: str, secrets: Sequence[str]) -> str:
    """:func:`redact`, then every secret (as given or %-decoded) that is still there, replaced."""
    text = redact(text)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class PipError(RuntimeError):
    """pip failed: the message names the package or source and pip's own error lines.

    ``command`` and ``output`` are redacted; ``returncode`` is pip's exit status.
    """

    def __init__(self, message: str, *, command: Sequence[str] = (), returncode: int | None = None,
                 output: str = "", package: str | None = None) -> None:
        super().__init__(redact(message))
        self.command = [redact(c) for c in command]
        self.returncode = returncode
        self.output = redact(output)[-_OUTPUT_TAIL:]
        self.package = redact(package) if package is not None else None


@dataclass(frozen=True)
class PackageResult:
    """One requested package as pip installed it."""

    package: str
    """The requirement as requested (redacted), e.g. ``tinylib>=0.1``."""
    name: str | None
    version: str | None
    cached: bool
    """True when it came from a local file (a ``--find-links`` folder, a wheel path) or was already installed."""
    dependencies_installed: list[str] = field(default_factory=list)
    """Other distributions pip installed with it, as ``name==version``."""


@dataclass(frozen=True)
class InstallResult:
    """What :meth:`PipManager.install_packages` did."""

    packages: list[PackageResult]
    target: str | None
    duration_seconds: float

    @property
    def success_count(self) -> int:
        return len(self.packages)

    @property
    def cached_packages(self) -> list[str]:
        return [p.package for p in self.packages if p.cached]

    @property
    def downloaded_packages(self) -> list[str]:
        return [p.package for p in self.packages if not p.cached]


class PipManager(SignalEmitter):
    """Runs the real pip: installs requirements, builds wheels, and says so in signals.

    Each requirement gets its own ``pip install`` run, so each has its own
    ``package_installing`` / ``package_installed`` / ``package_failed`` with
    the dependencies pip pulled in (read from pip's ``--report`` JSON). With a
    ``target`` folder the install is all-or-nothing: every package is
    installed into a staging folder next to the target and moved in only
    when all succeeded, so a failure leaves the target as it was. Without a
    target, packages go into the current environment one after another, as
    ``pip install a b`` would; a failure stops the run (the ones before it
    stay installed).

    >>> pm = PipManager()
    >>> pm.install_packages(["requests==2.32.3"], target="/tmp/libs")  # doctest: +SKIP

    Signals Emitted:
        - ``pip.pre_install``: ``packages``, ``package_count`` (+ ``target``, ``index_url`` redacted)
        - ``pip.package_installing``: ``package``
        - ``pip.package_installed``: ``package``, ``cached``, ``dependencies_installed``, ``duration_seconds``
        - ``pip.package_failed``: ``package``, ``error``, ``error_type``, ``duration_seconds``
        - ``pip.post_install``: ``success_count``, ``cached_packages``, ``downloaded_packages``, ``duration_seconds``
        - ``pip.install_failed``: ``failed_package``, ``error``, ``error_type``, ``duration_seconds``
        - ``pip.pre_wheel``: ``operation`` (``"build_wheel"``), ``source_dir``
        - ``pip.post_wheel``: ``wheel_file``, ``wheel_size_bytes``, ``duration_seconds``
        - ``pip.wheel_failed``: ``error``, ``error_type``, ``duration_seconds``
    """

    EMITS: ClassVar[tuple[str, ...]] = (
        "pip.pre_install", "pip.post_install", "pip.install_failed",
        "pip.package_installing", "pip.package_installed", "pip.package_failed",
        "pip.pre_wheel", "pip.post_wheel", "pip.wheel_failed")

    def __init__(self, signal_provider: SignalProvider | None = None, *,
                 python: str | None = None, timeout: float = _DEFAULT_TIMEOUT) -> None:
        super().__init__(signal_provider)
        self.python = python or sys.executable
        if timeout <= 0:
            raise ValueError(f"timeout={timeout!r} must be a positive number of seconds")
        self.timeout = timeout

    # -- install
    def install_packages(self, packages: Iterable[str], *, target: PathLike | None = None,
                         index_url: str | None = None, find_links: PathLike | Sequence[PathLike] | None = None,
                         no_index: bool = False, extra_args: Sequence[str] = ()) -> InstallResult:
        """Install each requirement with pip; returns what was installed.

        ``target`` installs into that folder (``pip install --target``);
        ``index_url``, ``find_links`` (a folder or URL, or several) and
        ``no_index`` are pip's options of the same names; ``extra_args`` go
        to pip as given (e.g. ``("--retries", "0")``).

        >>> PipManager().install_packages(["tinylib"], target="libs", no_index=True,
        ...                               find_links="wheels").success_count  # doctest: +SKIP
        1

        Raises :class:`PipError` naming the requirement that failed.
        """
        reqs = _requirements(packages)
        shown = [redact(r) for r in reqs]
        target_dir = os.path.abspath(os.fspath(target)) if target is not None else None
        options = _pip_options(index_url, find_links, no_index, extra_args)
        if target_dir is not None and os.path.exists(target_dir) and not os.path.isdir(target_dir):
            raise NotADirectoryError(f"target={target_dir!r} is a file; pip installs into a folder, "
                                     f"pass a folder path (it is created if missing)")
        with self.operation("pip.install", packages=shown, package_count=len(shown),
                            target=target_dir, index_url=redact(index_url) if index_url else None) as op:
            staging = None
            if target_dir is not None:
                parent = os.path.dirname(target_dir)
                os.makedirs(parent, exist_ok=True)
                # Next to the target, so moving staged files in is a rename.
                staging = tempfile.mkdtemp(prefix=f".{os.path.basename(target_dir)}.pip-staging-", dir=parent)
            try:
                results = []
                for i, req in enumerate(reqs):
                    into = os.path.join(staging, str(i)) if staging is not None else None
                    try:
                        results.append(self._install_one(req, shown[i], into, options))
                    except BaseException:
                        op.set(failed_package=shown[i])
                        raise
                if staging is not None and target_dir is not None:
                    try:
                        for i in range(len(reqs)):
                            _merge_into(os.path.join(staging, str(i)), target_dir)
                    except BaseException:
                        op.set(failed_package=None)  # every package installed; moving them in failed
                        raise
            finally:
                if staging is not None:
                    shutil.rmtree(staging, ignore_errors=True)
            result = InstallResult(results, target_dir, op.elapsed())
            op.set(success_count=result.success_count, cached_packages=result.cached_packages,
                   downloaded_packages=result.downloaded_packages)
        return result

    def _install_one(self, req: str, shown: str, into: str | None, options: list[str]) -> PackageResult:
        with self.operation("pip.package", package=shown) as op:
            with tempfile.TemporaryDirectory(prefix="kindling-pip-report-") as tmp:
                report_file = os.path.join(tmp, "report.json")
                cmd = [self.python, "-m", "pip", "install", *_COMMON_FLAGS, "--report", report_file]
                if into is not None:
                    cmd += ["--target", into]
                cmd += [*options, req]
                self._run(cmd, f"pip could not install {shown!r}", package=shown)
                report = _read_report(report_file)
            result = _package_result(shown, report)
            op.set(cached=result.cached, dependencies_installed=result.dependencies_installed)
        return result

    # -- wheels
    def build_wheel(self, source_dir: PathLike, out_dir: PathLike) -> str:
        """Build the project in ``source_dir`` into a wheel in ``out_dir``; returns the wheel's path.

        Runs ``pip wheel --no-deps --no-build-isolation``: the build backend
        (e.g. setuptools) must be installed already, and nothing is
        downloaded. The wheel appears in ``out_dir`` only once complete; a
        failed build leaves ``out_dir`` as it was.

        >>> PipManager().build_wheel("src/tinylib", "dist")  # doctest: +SKIP
        '/abs/dist/tinylib-0.1.0-py3-none-any.whl'
        """
        src = os.path.abspath(os.fspath(source_dir))
        out = os.path.abspath(os.fspath(out_dir))
        with self.operation("pip.wheel", operation="build_wheel", source_dir=src) as op:
            if not os.path.isdir(src):
                raise FileNotFoundError(f"source_dir={src!r} is not a folder; pass the folder that "
                                        f"holds the project's pyproject.toml or setup.py")
            if not any(os.path.isfile(os.path.join(src, f)) for f in ("pyproject.toml", "setup.py")):
                raise PipError(f"source_dir={src!r} has no pyproject.toml or setup.py; "
                               f"add one to make it a buildable project")
            created_out = not os.path.exists(out)
            os.makedirs(out, exist_ok=True)
            tmp = tempfile.mkdtemp(prefix=".kindling-wheel-", dir=out)
            try:
                cmd = [self.python, "-m", "pip", "wheel", *_COMMON_FLAGS, "--no-deps",
                       "--no-build-isolation", "--wheel-dir", tmp, src]
                self._run(cmd, f"pip could not build a wheel from {src!r}")
                built = [f for f in os.listdir(tmp) if f.endswith(".whl")]
                if len(built) != 1:
                    raise PipError(f"pip wheel built {len(built)} wheels from {src!r}, expected 1: {built}")
                wheel = os.path.join(out, built[0])
                os.replace(os.path.join(tmp, built[0]), wheel)
            except BaseException:
                if created_out:
                    shutil.rmtree(out, ignore_errors=True)
                raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            op.set(wheel_file=wheel, wheel_size_bytes=os.path.getsize(wheel))
        return wheel

    # -- running pip
    def _run(self, cmd: list[str], what: str, *, package: str | None = None) -> str:
        # pip may echo a secret in a form redact() can't see (decoded, or in a
        # URL it parsed differently): the ones in the command are hidden everywhere.
        secrets = _secrets(cmd)
        shown_cmd = [_scrub(c, secrets) for c in cmd]
        logger.info("running %s", " ".join(shown_cmd))
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONIOENCODING": "utf-8"}
        timed_out = None
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout,
                                  env=env, check=False)
        except subprocess.TimeoutExpired as exc:
            out = _scrub(_text(exc.stdout) + _text(exc.stderr), secrets)
            timed_out = subprocess.TimeoutExpired(shown_cmd, exc.timeout, out)
        if timed_out is not None:
            # Raised outside the except block, from a redacted copy: the original
            # TimeoutExpired holds the real command and must not ride along as __context__.
            raise PipError(f"{what}: pip did not finish within {self.timeout:g} s; raise "
                           f"PipManager(timeout=...) or check the index is reachable",
                           command=shown_cmd, output=out, package=package) from timed_out
        output = _scrub(proc.stdout + proc.stderr, secrets)
        if proc.returncode != 0:
            reason = _scrub(_pip_errors(proc.stderr or proc.stdout), secrets)
            logger.warning("%s (exit %d): %s", redact(what), proc.returncode, reason)
            raise PipError(f"{what} (pip exit {proc.returncode}): {reason}", command=shown_cmd,
                           returncode=proc.returncode, output=output, package=package)
        logger.debug("pip output:\n%s", output[-_OUTPUT_TAIL:])
        return output


_COMMON_FLAGS = ("--disable-pip-version-check", "--no-input", "--no-color", "--progress-bar", "off")


def _requirements(packages: Iterable[str]) -> list[str]:
    if isinstance(packages, str):
        raise TypeError(f"packages={redact(packages)!r} is a single string; pass a list such as "
                        f"[{redact(packages)!r}]")
    reqs = list(packages)
    bad = [p for p in reqs if not isinstance(p, str) or not p.strip()]
    if bad:
        raise ValueError(f"packages holds {redact(repr(bad))}; every package is a non-empty requirement "
                         f"string like 'requests>=2' or a path to a wheel")
    return [p.strip() for p in reqs]


def _pip_options(index_url: str | None, find_links: PathLike | Sequence[PathLike] | None,
                 no_index: bool, extra_args: Sequence[str]) -> list[str]:
    opts: list[str] = []
    if index_url:
        opts += ["--index-url", index_url]
    if find_links is not None:
        links = [find_links] if isinstance(find_links, (str, os.PathLike)) else list(find_links)
        for link in links:
            s = os.fspath(link)
            opts += ["--find-links", s if "://" in s else os.path.abspath(s)]
    if no_index:
        opts.append("--no-index")
    if isinstance(extra_args, str):
        raise TypeError(f"extra_args={redact(extra_args)!r} is a string; pass a sequence like "
                        f"('--retries', '0')")
    opts += [str(a) for a in extra_args]
    return opts


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def _pip_errors(output: str) -> str:
    """pip's ``ERROR:`` lines, or else the last non-empty lines of its output."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    picked = errors or lines[-3:]
    return redact(" | ".join(picked)) or "no output"


def _read_report(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}  # an older pip without --report still installs; we just know less
    return data if isinstance(data, dict) else {}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _package_result(shown: str, report: dict[str, Any]) -> PackageResult:
    items = [i for i in report.get("install", []) if isinstance(i, dict)]
    requested = [i for i in items if i.get("requested")]
    main = requested[0] if requested else None
    deps = []
    for item in items:
        if item is main:
            continue
        meta = item.get("metadata", {})
        deps.append(f"{meta.get('name')}=={meta.get('version')}")
    if main is None:
        # Nothing to install: the requirement was already satisfied in the environment.
        return PackageResult(shown, None, None, cached=True, dependencies_installed=deps)
    meta = main.get("metadata", {})
    url = str(main.get("download_info", {}).get("url", ""))
    return PackageResult(shown, meta.get("name"), meta.get("version"),
                         cached=url.startswith("file:"), dependencies_installed=sorted(deps))


def _merge_into(staged: str, target: str) -> None:
    """Move everything pip put in ``staged`` into ``target``, replacing what it replaces."""
    if not os.path.isdir(staged):
        return
    os.makedirs(target, exist_ok=True)
    names = os.listdir(staged)
    # A new version's .dist-info replaces the old version's, as pip --upgrade would.
    new_dists = {_canonical(n.split("-", 1)[0]) for n in names if n.endswith(".dist-info")}
    for existing in os.listdir(target):
        if existing.endswith(".dist-info") and existing not in names \
                and _canonical(existing.split("-", 1)[0]) in new_dists:
            shutil.rmtree(os.path.join(target, existing))
    for name in names:
        src, dst = os.path.join(staged, name), os.path.join(target, name)
        if os.path.isdir(src) and os.path.isdir(dst) and name == "bin":
            _merge_into(src, dst)  # scripts of several packages share bin/
            continue
        if os.path.isdir(dst) and not os.path.islink(dst):
            shutil.rmtree(dst)
        elif os.path.lexists(dst):
            os.unlink(dst)
        os.replace(src, dst)
