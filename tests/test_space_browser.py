"""The Space in a real browser (chromium + playwright): pick an example, run it, see the table and the chat.

The logic and callback tests are in ``test_space.py``; this file reuses its helpers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from test_space import INFORMATIVE, QUESTION, fake_generate, free_port

from hub_tools import demo as core

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def served(app):
    """The app served from this process (so tests can replace its adapters while it runs)."""
    port = free_port()
    app.demo.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **app.launch_kwargs()
    )
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.demo.close()


def _chromium_or_skip():
    ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
    if not CHROMIUM.exists():
        if ci:
            pytest.fail("CI is set but /usr/bin/chromium is missing (make test installs the Debian package)")
        pytest.skip("/usr/bin/chromium is missing (apt-get install chromium); CI would install it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if ci:
            pytest.fail("playwright is not installed (it is in the dev extras)")
        pytest.skip("playwright is not installed")
    return sync_playwright


def test_browser_check_fails_under_ci_and_skips_otherwise(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        _chromium_or_skip()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        _chromium_or_skip()


@pytest.mark.slow
def test_browser_example_to_table_and_chat(app, served, monkeypatch, tmp_path):
    sync_playwright = _chromium_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(served)
            page.wait_for_selector("#run", timeout=30_000)
            assert "meaningless" in page.locator("#model-banner").inner_text()
            # pick the bundled food example: image and caption fill in
            page.locator('#examples [data-testid="dataset-cell-1-0"]').click()
            caption = app.EXAMPLES[1][1]
            page.wait_for_function(
                "c => document.querySelector('#caption textarea').value === c", arg=caption, timeout=15_000
            )
            page.locator("#image img").first.wait_for(timeout=15_000)
            # real tiny models
            page.locator("#run").click()
            page.locator("#status").get_by_text(core.NO_TRIPLET_MESSAGE).wait_for(timeout=60_000)
            table = page.locator("#triplets")
            for header in ("instruction", "informative", "precise", "verdict", "P(Yes)", "P(No)", "P(Open)"):
                assert table.get_by_text(header, exact=True).filter(visible=True).count() >= 1
            chat = page.locator("#example-chat")
            chat.get_by_text(caption).filter(visible=True).first.wait_for(timeout=15_000)
            assert chat.locator("img").count() >= 1
            page.locator("#download").wait_for(state="visible")
            # a well-formed generation: the triplet rows and the composed task appear
            monkeypatch.setattr(app, "generate", fake_generate)
            n_tasks = page.locator("#n-tasks input[type='number']")
            n_tasks.fill("2")
            n_tasks.press("Tab")
            page.locator("#run").click()
            table.get_by_text(QUESTION).filter(visible=True).first.wait_for(timeout=60_000)
            assert table.get_by_text(INFORMATIVE).filter(visible=True).count() >= 1
            assert table.get_by_text("MRI", exact=True).filter(visible=True).count() >= 1
            # both judged by the (tiny) LLM checker; the chat shows the composed example
            page.locator("#status").get_by_text("complete task triplets").wait_for(timeout=15_000)
            chat.get_by_text(caption).filter(visible=True).first.wait_for(timeout=15_000)
            shot = tmp_path / "space.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
