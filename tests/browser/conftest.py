"""Playwright on Debian's Chromium (never a downloaded browser), against the session's mesh."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import OPERATOR

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[2] / ".cache" / "axe-core" / "package" / "axe.min.js"
CREDENTIALS = {"username": OPERATOR[0], "password": OPERATOR[1]}
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed; `make browser` installs it")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=60_000)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def ui(mesh) -> str:
    """The frontend the browser drives: the operator one, signed in by each context, so that the
    Enrol and Re-queue forms are there (the session's own frontend is read-only)."""
    return mesh.operator_frontend()


@pytest.fixture
def page(chromium, ui):
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, http_credentials=CREDENTIALS)
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots(artifacts_dir: Path) -> Path:
    path = artifacts_dir / "screenshots"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        pytest.skip("axe-core is not unpacked in .cache/axe-core; `make browser` fetches it")
    return AXE.read_text()
