"""The real server in a real browser: `latentsearch app`, driven by headless Chromium.

Needs Debian's chromium (``.ci/run`` installs it) and the ``playwright`` package (the
``test`` extra); skipped, saying which is missing, without them. Playwright never
downloads a browser here: it drives the system one, which only ever talks to localhost.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from latentsearch.webapp.views import WORD_JOINER

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
VIEWPORT = {"width": 1400, "height": 2600}  # tall: the page scrolls inside its own container
# Streamlit marks the app element with its script state; "notRunning" once a run has finished.
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
ALL_IMAGES_LOADED = "() => [...document.images].every(img => img.complete && img.naturalWidth > 0)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, server: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"no healthy server at {url} after {timeout} s")


@contextlib.contextmanager
def running_app(index_dir: Path, log_path: Path):
    """``latentsearch app --index index_dir`` on a free port; yields its URL, then stops it."""
    port = free_port()
    command = [sys.executable, "-m", "latentsearch.indexer.cli.parser", "app",
               "--index", str(index_dir), "--port", str(port)]  # fmt: skip
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    # its own process group: `app` starts streamlit as a child, and both must stop
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://localhost:{port}"
    try:
        wait_until_healthy(url, server)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def server_url(denoising_index_dir, tmp_path_factory):
    # one page server for the module: each test opens its own browser session on it, and
    # starting `latentsearch app` costs about 14 s. Its model is a denoising one, so that
    # the page's "cleaned" panel is also seen in the browser; the rest of the page is the
    # same for every variant.
    log_path = tmp_path_factory.mktemp("app") / "server.log"
    with running_app(denoising_index_dir, log_path) as url:
        yield url


@pytest.fixture
def browser_page(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM} (.ci/run installs Debian's package)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install '.[test]')"
    )
    with sync_api.sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport=VIEWPORT,
        )
        context.route("**/*", _localhost_only)
        try:
            yield context.new_page()
        finally:
            context.close()


def _localhost_only(route) -> None:
    host = urlparse(route.request.url).hostname
    if host in ("localhost", "127.0.0.1", "::1"):
        route.continue_()
    else:
        route.abort()


def search_with_upload(page, url: str, image: Path) -> None:
    """Open the page, upload ``image`` and wait until its search has finished drawing."""
    page.goto(url)
    page.locator(IDLE).wait_for(timeout=90_000)
    page.locator("input[type=file]").set_input_files(str(image))
    page.get_by_text(f"Query: {image.name}").wait_for(timeout=60_000)
    page.locator(IDLE).wait_for(timeout=60_000)


def result_column(page, title: str):
    heading = page.get_by_role("heading", name=title)
    return page.locator("[data-testid=stColumn]", has=heading).first


def test_upload_in_a_real_browser_shows_both_result_columns(
    server_url, browser_page, image_folder, tmp_path
):
    page = browser_page
    search_with_upload(page, server_url, image_folder / "green" / "03.png")
    page.wait_for_function(ALL_IMAGES_LOADED, timeout=30_000)
    for title in ("Latent codes", "Raw pixels"):
        column = result_column(page, title)
        captions = column.locator("[data-testid=stImageCaption]").all_inner_texts()
        assert len(captions) == 12
        assert captions[0] == "#1 green · 03.png · d=0.000"
        assert column.get_by_role("button", name="More like this").count() == 12
        assert column.get_by_text("12 results in").is_visible()
    assert page.get_by_text("What the model sees (16×16)").is_visible()
    assert page.get_by_text("Outlier score").is_visible()
    cleaned = page.locator("[data-testid=stImage]", has_text="Cleaned by the denoising model")
    assert cleaned.locator("img").evaluate("img => img.naturalWidth") > 0
    assert page.get_by_role("button", name="Download the cleaned photo").is_visible()
    assert not page.locator("[data-testid=stException]").count()
    shot = tmp_path / "search-page.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


# Markdown that would make a link, an image, bold HTML or an autolink if rendered
HOSTILE_LABEL = "[claim](prize.html)"
HOSTILE_FILE = "![t](x.png) <b>b www.evil.com me@evil.com [win](http:go).png"  # no "/"


@pytest.fixture
def hostile_index(tmp_path, image_folder, trained_model_dir):
    from latentsearch.indexer.pipeline.build import BuildSettings, build_index

    folder = tmp_path / "hostile"
    shutil.copytree(image_folder, folder)
    (folder / HOSTILE_LABEL).mkdir()
    shutil.copy(image_folder / "green" / "03.png", folder / HOSTILE_LABEL / HOSTILE_FILE)
    out = tmp_path / "index"
    build_index(folder, trained_model_dir, out, BuildSettings(batch_size=16, workers=2))
    return out, folder / HOSTILE_LABEL / HOSTILE_FILE


def test_file_and_folder_names_show_as_plain_text(hostile_index, browser_page, tmp_path):
    index_dir, hostile_file = hostile_index
    page = browser_page
    with running_app(index_dir, tmp_path / "server.log") as url:
        page.goto(url)
        page.locator(IDLE).wait_for(timeout=90_000)
        page.locator("input[type=file]").set_input_files(str(hostile_file))
        page.get_by_text("Query: ![t]").wait_for(timeout=60_000)
        page.locator(IDLE).wait_for(timeout=60_000)
        captions = page.locator("[data-testid=stImageCaption]")
        texts = [text.replace(WORD_JOINER, "") for text in captions.all_inner_texts()]
        assert f"Query: {HOSTILE_FILE}" in texts  # the upload's own name
        assert any(text.startswith(f"#1 {HOSTILE_LABEL} · {HOSTILE_FILE}") for text in texts)
        for element in ("a", "img", "b"):
            assert captions.locator(element).count() == 0, f"a name made an <{element}>"
        assert page.locator("a[href*=prize], a[href*=evil], img[src*='x.png']").count() == 0


def test_a_refused_upload_says_why_in_the_page(server_url, browser_page, tmp_path):
    drawing = tmp_path / "drawing.svg"  # not a type the page takes: refused by content
    drawing.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>')
    page = browser_page
    page.goto(server_url)
    page.locator(IDLE).wait_for(timeout=90_000)
    page.locator("input[type=file]").set_input_files(str(drawing))
    message = page.locator("[data-testid=stAlertContentError]").first
    message.wait_for(timeout=60_000)
    assert message.is_visible() and "Could not read drawing.svg" in message.inner_text()


def test_on_a_phone_the_two_result_columns_stay_side_by_side(
    server_url, browser_page, image_folder
):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    search_with_upload(page, server_url, image_folder / "green" / "03.png")
    page.wait_for_function(ALL_IMAGES_LOADED, timeout=30_000)
    first = {
        title: result_column(page, title).locator("[data-testid=stImage]").first.bounding_box()
        for title in ("Latent codes", "Raw pixels")
    }
    latent, raw = first["Latent codes"], first["Raw pixels"]
    assert raw["x"] > latent["x"] + latent["width"] - 1, first  # beside, not below
    assert abs(raw["y"] - latent["y"]) < 40, first  # hit 1 level with hit 1
    assert raw["x"] + raw["width"] <= 390 + 1, first  # within the phone's width


def test_more_like_this_brings_the_new_query_into_view(server_url, browser_page, image_folder):
    page = browser_page
    page.set_viewport_size({"width": 1400, "height": 900})  # short: the results scroll
    search_with_upload(page, server_url, image_folder / "green" / "03.png")
    last = result_column(page, "Latent codes").get_by_role("button", name="More like this").last
    last.scroll_into_view_if_needed()
    query = page.locator("[data-testid=stImage]", has_text="Query:").first
    assert query.bounding_box()["y"] < 0  # scrolled past it, down to the last result
    last.click()
    page.locator(IDLE).wait_for(timeout=60_000)
    page.wait_for_function(
        "() => { const v = document.querySelector('.st-key-query-view');"
        " const r = v && v.getBoundingClientRect(); return r && r.top >= -1 && r.top < 200; }",
        timeout=30_000,
    )
    assert "Query: 03.png" not in query.inner_text()  # a new query, now in view


def test_the_collection_views_show_groups_and_outliers_with_their_images(server_url, browser_page):
    page = browser_page
    page.goto(server_url)
    page.locator(IDLE).wait_for(timeout=90_000)
    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.get_by_text("Duplicates", exact=True).click()
    page.get_by_text("Near-duplicates", exact=True).wait_for(timeout=90_000)
    page.get_by_text("Group 1:", exact=False).first.wait_for(timeout=60_000)
    page.locator("[data-testid=stMain] [data-testid=stImage]").nth(1).wait_for(timeout=60_000)
    page.wait_for_function(ALL_IMAGES_LOADED, timeout=30_000)
    sidebar.get_by_text("Outliers", exact=True).click()
    page.get_by_text("The most unusual images", exact=True).wait_for(timeout=90_000)
    reconstruction = page.get_by_text("its reconstruction").first
    reconstruction.wait_for(timeout=60_000)
    page.wait_for_function(ALL_IMAGES_LOADED, timeout=30_000)
    assert reconstruction.is_visible()
