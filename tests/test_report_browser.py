"""The demo audit's HTML report in a real browser: headless Chromium (Debian's ``chromium``,
which ``.ci/run`` installs when missing), driven by Playwright.

It checks what a reader sees: the summary matrix, a chart drawn with a size, the hostile demo
post (``<script>``, ``<img onerror>``) shown as text, no script run, and nothing fetched from
anywhere (the report is one self-contained file). The screenshot is kept with the test's
temporary files. Without Chromium the test skips locally and fails under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import run_auditor
from tests_support import unavailable

REPO = Path(__file__).resolve().parents[1]
HOSTILE = '<script>alert("pwned")</script>'
# As the tool library's probe starts it: root needs --no-sandbox, and the background services
# would knock on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    found = os.environ.get("AUDITOR_CHROMIUM") or shutil.which("chromium")
    if found is None:
        unavailable("Chromium", "no 'chromium' on PATH (Debian: apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def demo_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    shutil.copytree(REPO / "config", folder / "config")
    process = run_auditor("run", "config/demo.yaml", "--quiet", "--format", "html", cwd=folder)
    assert process.returncode == 1, process.stderr
    reports = sorted((folder / "out" / "demo").glob("Driftly-Outdoor-*/*/report.html"))
    assert len(reports) == 1, reports
    return reports[0]


def test_the_demo_report_shows_its_summary_a_chart_and_the_hostile_post_as_text(
    demo_html: Path, tmp_path: Path
) -> None:
    executable = _chromium()
    try:
        from playwright.sync_api import Dialog, Error, sync_playwright
    except ImportError as error:
        unavailable("Playwright", str(error))
    requests: list[str] = []
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.on("dialog", dismiss)
            page.goto(demo_html.as_uri(), wait_until="load")

            # The summary matrix: a table naming the accounts and the checks, on screen.
            matrix = page.locator("table", has_text="DriftlyHelp").filter(has_text="RSP001")
            assert matrix.count() >= 1
            assert matrix.first.is_visible()

            # A chart: an inline SVG the browser laid out with a real size.
            charts = page.locator("svg")
            assert charts.count() >= 1
            box = charts.first.bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 50, box

            # The hostile post reads as text, and nothing it carried ran.
            shown = page.get_by_text(HOSTILE, exact=False)
            assert shown.count() >= 1
            assert shown.first.is_visible()
            assert page.evaluate("document.querySelectorAll('script').length") == 0
            assert page.evaluate("document.querySelectorAll('img[onerror]').length") == 0
            assert page.title() != "pwned"
            assert dialogs == []

            screenshot = tmp_path / "report.png"
            page.screenshot(path=str(screenshot), full_page=True)
            browser.close()
    except Error as error:
        unavailable("Chromium", f"could not be driven: {str(error).splitlines()[0]}")
    # One file, self-contained: the browser asked for nothing but the report itself.
    assert requests == [demo_html.as_uri()], requests
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000
