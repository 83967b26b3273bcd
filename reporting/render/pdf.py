"""HTML -> PDF through headless Chromium (Debian's ``chromium``), one browser for many pages.

The browser is found on ``$REPORTING_CHROMIUM``, then ``chromium``/``chromium-browser``/
``google-chrome`` on PATH. playwright drives it (never ``playwright install``: it downloads a
browser, which is neither needed nor possible offline).
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from pathlib import Path

from reporting.core.errors import ReportingError
from reporting.core.settings import settings

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#57606a;">'
    '<span class="title"></span> &middot; page <span class="pageNumber"></span> of '
    '<span class="totalPages"></span></div>'
)


class BrowserNotFound(ReportingError):
    """No Chromium to print PDFs with."""


def find_chromium() -> str:
    """Path of a Chromium executable, or raise :class:`BrowserNotFound` saying how to get one."""
    configured = settings().chromium
    if configured:
        if Path(configured).is_file():
            return configured
        raise BrowserNotFound(f"REPORTING_CHROMIUM={configured} does not exist")
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise BrowserNotFound(
        "PDF needs Chromium: install Debian's package (sudo apt-get install -y chromium), "
        "or set REPORTING_CHROMIUM to a Chrome/Chromium executable; or drop pdf from --format"
    )


class PdfPrinter:
    """One headless browser printing HTML files to PDF; use as a context manager.

    Thread-safe: playwright's sync API is bound to the thread that started it, so every print is
    done by one owner thread and callers wait for their turn.
    """

    def __init__(self, paper: str = "A4") -> None:
        self.paper = paper
        self._lock = threading.Lock()
        self._pw = None
        self._browser = None
        self._page = None
        self._owner: int | None = None

    def __enter__(self) -> PdfPrinter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(
            executable_path=find_chromium(), args=CHROMIUM_ARGS, headless=True)
        self._owner = threading.get_ident()

    def print_pdf(self, html_path: Path, pdf_path: Path) -> None:
        """Print ``html_path`` to ``pdf_path`` (A4 or Letter, page numbers in the footer)."""
        with self._lock:
            if self._browser is None:
                self._start()
            if threading.get_ident() != self._owner:
                raise RuntimeError("PdfPrinter must be used from the thread that created it")
            # One tab for every print: a new tab per report cost 0.3 s more (a renderer each).
            if self._page is None:
                self._page = self._browser.new_page()
                self._page.emulate_media(media="print")
            page = self._page
            try:
                page.goto(Path(html_path).resolve().as_uri(), wait_until="load")
                page.pdf(path=str(pdf_path), format=self.paper, print_background=True,
                         display_header_footer=True, header_template="<div></div>",
                         footer_template=FOOTER, prefer_css_page_size=True,
                         margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"})
            except BaseException:
                self._page = None  # never reuse a tab that failed
                with contextlib.suppress(Exception):
                    page.close()
                raise

    def close(self) -> None:
        if self._browser is not None:
            try:
                self._browser.close()
            finally:
                self._pw.stop()
                self._browser = self._pw = self._page = None
