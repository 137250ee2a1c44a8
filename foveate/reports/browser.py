"""A real browser's verdict on a page: Chromium, headless, kept off the network.

``check_page`` loads a page written by ``foveate.reports.report_page`` from ``file://`` and
reads back what its inline self-check wrote into ``<body data-check>`` (every picture loaded, no
script error), and every line the page sent to the browser's console (the pages log nothing, so
any line is a problem). It also refuses, before any browser runs, a page that names an address
outside itself (``http:``, ``https:``, ``//host``). ``screenshot`` writes a PNG of a page.

The browser is started so that it asks nothing of the network: no proxy, no background
networking, updates, sync or default apps, every host name resolved to nothing, and a fresh
profile in a temporary folder that is deleted afterwards.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
QUIET_FLAGS = (
    "--headless",
    "--no-sandbox",  # as root, in a container: Chromium's sandbox needs user namespaces
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # any host name a page might name resolves to none
    "--hide-scrollbars",
)
# src="..." and href="..." attributes (and CSS url(...)) that leave the page's folder.
OUTSIDE = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*["']?|url\(\s*["']?)\s*((?:[a-z][a-z0-9+.-]*:|//)[^"'\s)>]*)""",
    re.IGNORECASE,
)
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]\s*(.*)")


class BrowserError(OSError):
    """The browser could not be run, or gave no page back (an OSError: the command line says it
    in one line)."""


@dataclass(frozen=True)
class PageCheck:
    """A page's verdict. check: what its self-check wrote ('ok', or the problems; 'pending' if
    its load never finished). images: how many pictures it counted. console: the lines it sent to
    the console. outside: the addresses outside itself that it names."""

    check: str
    images: int
    console: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.check == "ok" and not self.console and not self.outside

    def problems(self) -> str:
        """What is wrong, in one line ('' where nothing is)."""
        said = [] if self.check == "ok" else [f"self-check: {self.check}"]
        said += [f"console: {line}" for line in self.console]
        said += [f"names an outside address: {address}" for address in self.outside]
        return "; ".join(said)


def find_browser() -> str | None:
    """The path of a Chromium on this machine ($FOVEATE_BROWSER first), or None."""
    named = os.environ.get("FOVEATE_BROWSER")
    for name in ((named,) if named else ()) + BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def outside_addresses(text: str) -> list[str]:
    """The addresses in HTML ``text`` that point outside the page's own files (a scheme or a
    host: 'https://...', '//cdn...', 'data:' is allowed, it holds its picture itself)."""
    found = [m.group(1) for m in OUTSIDE.finditer(text)]
    return [a for a in found if not a.lower().startswith(("data:", "#"))]


def run_browser(page: Path, *flags: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the browser on ``page`` (as a file:// URL) with the quiet flags, a fresh profile and
    ``flags``; raises BrowserError where there is none or it fails."""
    browser = find_browser()
    if browser is None:
        raise BrowserError(
            f"no Chromium found (tried {', '.join(BROWSERS)}): apt-get install chromium"
        )
    with tempfile.TemporaryDirectory(prefix="foveate-browser-") as profile:
        command = [
            browser,
            *QUIET_FLAGS,
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *flags,
            Path(page).resolve().as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BrowserError(f"{browser} took more than {timeout:g}s on {page}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BrowserError(f"{browser} failed on {page} (exit {done.returncode}): {last}")
    return done


def check_page(page: str | os.PathLike, *, timeout: float = 60) -> PageCheck:
    """Load ``page`` in headless Chromium and return its verdict (see ``PageCheck``); the
    browser's virtual clock gives the page 5 s to load, however long the machine takes."""
    page = Path(page)
    outside = outside_addresses(page.read_text())
    done = run_browser(page, "--dump-dom", "--virtual-time-budget=5000", timeout=timeout)
    body = re.search(r"<body\b[^>]*>", done.stdout)
    if body is None:
        raise BrowserError(f"the browser gave back no page body for {page}")
    attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(0)))
    console = [m.group(1).strip() for m in map(CONSOLE.search, done.stderr.splitlines()) if m]
    return PageCheck(
        check=html.unescape(attributes.get("data-check", "no self-check on the page")),
        images=int(attributes.get("data-images", "0")),
        console=console,
        outside=outside,
    )


def screenshot(
    page: str | os.PathLike,
    png: str | os.PathLike,
    *,
    size: tuple[int, int] = (1200, 1600),
    timeout: float = 60,
) -> Path:
    """A PNG of ``page`` as a window of ``size`` (width, height) pixels shows it."""
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    run_browser(
        Path(page),
        f"--screenshot={png}",
        f"--window-size={size[0]},{size[1]}",
        "--run-all-compositor-stages-before-draw",  # no half-painted tiles in the picture
        "--virtual-time-budget=5000",
        timeout=timeout,
    )
    if not png.is_file():
        raise BrowserError(f"the browser wrote no screenshot of {page}")
    return png
