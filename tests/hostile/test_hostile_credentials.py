"""Hostile credentials: whatever a URL's secret holds, it never survives redaction.

Hypothesis builds credential shapes (``user:secret@`` and bare ``token@``, in
http, https, file-less and VCS URLs, with and without a port, a path, a
revision) around secrets made of any non-space characters, heavy on the ones
that end a URL's parts (``@ / : % # ? &``), and puts them where pip's
commands, messages and output put URLs (an ``--index-url=`` option, a quoted
repr, a JSON list, a log line). Each run has a fixed seed, so the figures in
``docs/reliability.md`` repeat. No JVM, no subprocess: the real-pip cases are
in ``tests/contract/test_pip_manager.py``.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import quote

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kindling.pip_manager import PipError, redact

EXAMPLES = 2000  # per test; the figures in docs/reliability.md

URL_BREAKERS = "@/:%#?&=+!$'()*,;[]~\\\"<>{}|^`"
SECRET_CHARS = st.one_of(
    st.sampled_from(URL_BREAKERS),
    st.characters(min_codepoint=33, max_codepoint=126),
    st.characters(blacklist_categories=("Z", "C")),  # any non-space character, e.g. 'é', '€'
)
SECRETS = st.one_of(st.text(SECRET_CHARS, min_size=4, max_size=24),
                    st.text(SECRET_CHARS, min_size=4, max_size=24).map(quote))  # %-escaped forms too
USERS = st.from_regex(r"[a-z][a-z0-9._-]{0,10}", fullmatch=True)
HOSTS = st.sampled_from(["pkgs.example.com", "127.0.0.1", "nexus", "[::1]", "dev.pi-server.internal"])
SCHEMES = st.sampled_from(["https://", "http://", "git+https://", "git+ssh://", "hg+http://"])
PATHS = st.sampled_from(["", "/", "/simple", "/simple/", "/org/repo.git@v1.0", "/r.git@main#egg=x",
                         "/simple?x=1", ":8443/simple", ":3141/root/pypi/+simple/"])
PLACES = st.sampled_from([
    "{url}",
    "--index-url={url}",
    "pip install --extra-index-url {url} kdemo",
    "'{url}'",
    "['{url}', 'https://index.example/simple']",
    '["https://index.example/simple","{url}"]',
    "Looking in indexes: {url}, https://other.example/simple",
    "kdemo @ {url}",
])
PLACEHOLDER = "\x00SECRET\x00"


@st.composite
def credential_shapes(draw: st.DrawFn) -> tuple[str, str, str]:
    """(a shape's name, the text holding the URL, the secret in it)."""
    secret = draw(SECRETS)
    scheme, host, path = draw(SCHEMES), draw(HOSTS), draw(PATHS)
    bare = draw(st.booleans())
    userinfo = PLACEHOLDER if bare else f"{draw(USERS)}:{PLACEHOLDER}"
    template = draw(PLACES).format(url=f"{scheme}{userinfo}@{host}{path}")
    # A secret that is also a piece of the rest of the text can't be checked for.
    assume(secret not in template.replace(PLACEHOLDER, "\x00"))
    shape = f"{'bare token' if bare else 'user:secret'} / {scheme}"
    return shape, template.replace(PLACEHOLDER, secret), secret


def _documented_exception(text: str, secret: str) -> bool:
    """A bare token in a VCS URL that reads as a plain host name and a path (``a.bc/x``).

    docs/reliability.md: ``git+https://host.example/x@rev`` is a VCS revision, not a token.
    """
    head = secret.split("/")[0].split("?")[0].split("#")[0]
    return (f"+https://{secret}@" in text or f"+ssh://{secret}@" in text or f"+http://{secret}@" in text) \
        and head != secret and "." in head and "@" not in head


def test_no_credential_shape_leaks_its_secret() -> None:
    outcomes: Counter[str] = Counter()
    shapes: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(credential_shapes())
    def run(case: tuple[str, str, str]) -> None:
        shape, text, secret = case
        if _documented_exception(text, secret):
            outcomes["documented exception"] += 1
            return
        shapes[shape] += 1
        try:
            shown = redact(text)
        except Exception as exc:  # noqa: BLE001 - the point: anything else is a crash
            outcomes["crash"] += 1
            raise AssertionError(f"{type(exc).__name__}: {exc}\n{text!r}") from exc
        if secret in shown:
            outcomes["leak"] += 1
            raise AssertionError(f"the secret {secret!r} survived:\n{text!r}\n-> {shown!r}")
        assert "***@" in shown, shown
        outcomes["hidden"] += 1

    run()
    print(f"credential shapes: {dict(outcomes)}")  # the figures in docs/reliability.md
    assert outcomes["crash"] == outcomes["leak"] == 0
    assert outcomes["hidden"] + outcomes["documented exception"] == EXAMPLES
    assert outcomes["hidden"] >= EXAMPLES * 0.95
    assert len(shapes) == 10  # both forms in all five schemes


def test_pip_errors_hold_no_secret_in_any_field() -> None:
    outcomes: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES // 4, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(credential_shapes())
    def run(case: tuple[str, str, str]) -> None:
        _shape, text, secret = case
        assume(not _documented_exception(text, secret))
        assume(not any(secret in fixed for fixed in ('pip could not install ', 'ERROR: ', 'PipError("")')))
        err = PipError(f"pip could not install {text!r}", command=["pip", "install", text],
                       output=f"ERROR: {text}\n", package=text)
        fields = [str(err), repr(err), *err.command, err.output, err.package or ""]
        assert not [f for f in fields if secret in f], fields
        outcomes["hidden"] += 1

    run()
    assert outcomes["hidden"] >= EXAMPLES // 4 * 0.95


def test_a_vcs_revision_is_not_taken_for_a_credential() -> None:
    for url in ["git+https://github.com/org/repo.git@v1.0", "git+https://github.com/org/repo@main#egg=repo",
                "git+ssh://git.example.com/r.git@release/2.0"]:
        assert redact(url) == url
