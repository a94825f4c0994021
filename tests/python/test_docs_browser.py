"""The lineage docs in a real browser: `dbt docs generate` on the demo build, served on 127.0.0.1 and
opened in Debian's Chromium, headless, through Playwright (which drives the system browser and never
downloads one).

* The lineage graph of `chunk_embeddings` (the model page's graph, expanded to the full lineage, as a
  reader would open it) shows every registered pair strategy upstream.
* Every image the docs show loads: the overview, every exposure and every page whose description
  holds an image (the pipeline diagram from asset-paths, the run report's charts when their pages
  reference them): each <img> rendered with a natural width above 0.

Screenshots of each page are kept in $VECTORFIN_TEST_SCREENSHOTS (default: a pytest temporary folder),
for CI to keep. Without Chromium (or Playwright) the tests skip saying so, except under CI (CI=true),
where .ci/run installs both and their absence is a failure.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from demo_builds import JUDGE_SMALL_SETS, TrainedDemo

from vectorfin.config.project_vars import project_var
from vectorfin.dbt_workspace import run_dbt
from vectorfin.report import DOCS_SUBDIR

CHROMIUM = os.environ.get("VECTORFIN_CHROMIUM", "/usr/bin/chromium")
# A fresh, quiet, headless browser: no first-run UI, no sandbox (root in CI), nothing fetched on its own.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROJECT = "vectorfin_finetune"
DOCS_LOADED = (
    "() => window.angular && angular.element(document.body).injector()"
    " && Object.keys(angular.element(document.body).injector().get('project').project.nodes || {}).length > 0"
)
IMAGES_SETTLED = "() => Array.from(document.images).every(image => image.complete)"
IMAGE_MARKUP = re.compile(r"!\[[^\]]*\]\([^)]+\)|<img\b", re.IGNORECASE)


def require_browser() -> Any:
    """Playwright's sync API, or a skip (a failure under CI) naming what is missing."""
    missing = []
    if not Path(CHROMIUM).is_file():
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("Playwright for Python (pip install -r requirements-dev.txt)")
    if missing:
        reason = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason + "; .ci/run installs them")
        pytest.skip(reason)
    return sync_playwright


@dataclass
class DocsSite:
    url: str
    target: Path

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.target / "manifest.json").read_text())


@pytest.fixture(scope="module")
def docs_site(trained_demo: TrainedDemo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocsSite]:
    require_browser()
    # The session's trained demo, its run report written again into the project's own docs assets
    # (asset-paths, as a `dbt build` after the quick start does), so the docs show its charts.
    demo = trained_demo.pristine.copy_to(tmp_path_factory.mktemp("docs_demo"))
    env = {key: value for key, value in demo.env.items() if key != "VECTORFIN_DOCS_ASSETS"}
    reported = run_dbt(["run", "--select", "run_report"], env, vars=JUDGE_SMALL_SETS)
    assert reported.ok, reported.summary()
    site = demo.root / "docs_site"
    generated = run_dbt(["docs", "generate"], env, run_dir=site)
    assert generated.ok, generated.summary()
    target = site / "target"
    handler = functools.partial(QuietHandler, directory=str(target))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield DocsSite(f"http://127.0.0.1:{server.server_address[1]}", target)
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("VECTORFIN_TEST_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser(docs_site: DocsSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    sync_playwright = require_browser()
    profile = tmp_path_factory.mktemp("chromium_profile")  # a fresh --user-data-dir
    with sync_playwright() as playwright:
        # headless comes from --headless=new among the flags, so Playwright adds no headless flag of its own
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=False,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1600, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A new tab for each test, so one test's open graph never covers another's page."""
    tab = browser.new_page()
    try:
        yield tab
    finally:
        tab.close()


def open_docs(page: Any, site: DocsSite, route: str) -> None:
    """Open a page of the docs app (`model/<unique_id>`, `overview`, ...) and wait until it rendered."""
    page.goto(f"{site.url}/#!/{route}")
    page.wait_for_function(DOCS_LOADED, timeout=60_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_function(IMAGES_SETTLED, timeout=30_000)


def test_lineage_of_chunk_embeddings_shows_every_pair_strategy(
    page: Any, docs_site: DocsSite, screenshots: Path
) -> None:
    open_docs(page, docs_site, f"model/model.{PROJECT}.chunk_embeddings")
    page.screenshot(path=str(screenshots / "chunk_embeddings_model_page.png"))

    page.click(".launcher-btn a")  # the lineage graph of this model, in the side panel
    page.wait_for_function("() => angular.element(document.body).injector().get('graph').expanded")
    page.click("[ng-click='showExpanded()']")  # full screen: the whole lineage, +chunk_embeddings+
    page.wait_for_function(
        "() => angular.element(document.body).injector().get('graph').orientation === 'fullscreen'"
    )
    page.wait_for_timeout(2000)  # the graph's layout animation
    page.screenshot(path=str(screenshots / "chunk_embeddings_lineage.png"))

    graph_inputs = page.evaluate("() => Array.from(document.querySelectorAll('input')).map(box => box.value)")
    shown = set(
        page.evaluate(
            """() => angular.element(document.body).injector().get('graph').graph.elements
                .filter(element => element.data.resource_type && element.data.display !== 'none')
                .map(element => element.data.name)"""
        )
    )
    strategies = {f"int_pairs__{name}" for name in project_var("pair_strategies")}
    assert "+chunk_embeddings+" in graph_inputs  # the graph's --select: everything up- and downstream
    assert {"chunk_embeddings", "training_pairs", "int_pairs_unioned"} <= shown
    assert strategies <= shown, f"pair strategies missing from the lineage: {sorted(strategies - shown)}"


def pages_with_images(manifest: dict[str, Any]) -> list[str]:
    """The overview, every exposure, and every node whose description shows an image."""
    routes = ["overview"]
    routes += [f"exposure/{unique_id}" for unique_id in sorted(manifest["exposures"])]
    for unique_id, node in sorted({**manifest["nodes"], **manifest["sources"]}.items()):
        if node.get("package_name") == PROJECT and IMAGE_MARKUP.search(node.get("description") or ""):
            routes.append(f"{node['resource_type']}/{unique_id}")
    return routes


def test_every_image_the_docs_show_loads(page: Any, docs_site: DocsSite, screenshots: Path) -> None:
    checked: dict[str, list[dict[str, Any]]] = {}
    for route in pages_with_images(docs_site.manifest):
        open_docs(page, docs_site, route)
        page.screenshot(path=str(screenshots / f"{route.replace('/', '__')}.png"), full_page=True)
        checked[route] = page.evaluate(
            """() => Array.from(document.images).map(image => (
                {src: image.getAttribute('src'), width: image.naturalWidth, height: image.naturalHeight}))"""
        )

    broken = {route: [image for image in images if image["width"] == 0] for route, images in checked.items()}
    assert not any(broken.values()), f"images that did not load: {broken}"
    asset_images = [
        image["src"] for images in checked.values() for image in images if "assets/" in image["src"]
    ]
    # the overview's pipeline diagram at least: images from asset-paths are served with the docs
    assert "assets/pipeline.svg" in asset_images, checked
    # and the run report's charts, on the run_report model's page
    assert any(source.startswith(f"assets/{DOCS_SUBDIR}/") for source in asset_images), checked
