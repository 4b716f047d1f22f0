"""The committee report in a real browser (Debian's chromium driven by selenium): it loads with no
console error and no network request, a click on a state shows that state's recommendations, the
screenshot is not blank, printing gives A4 pages with the diagram on a landscape page, and axe-core
finds no serious accessibility violation. Expectations come from the loaded model.

Set PATHWAY_SCREENSHOT_DIR to keep the screenshot (docs/report-screenshot.png is made that way).
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pathway.cli import main
from pathway.loader import load
from pathway.model import Pathway

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
A4_MM = (210, 297)

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
except ImportError:  # pragma: no cover - setup.sh installs it
    webdriver = None  # type: ignore[assignment]

missing = [
    name
    for name, found in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER), ("selenium", webdriver))
    if not found
]
if missing and os.environ.get("CI"):
    pytest.fail(f"browser tests need {', '.join(missing)} (scripts/setup.sh installs them)", pytrace=False)
pytestmark = pytest.mark.skipif(bool(missing), reason=f"not installed: {', '.join(missing)}")


@pytest.fixture(scope="module")
def pathway() -> Pathway:
    return load()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    runner = CliRunner()
    simulated = runner.invoke(
        main,
        ["simulate", "-n", "300", "--compare", "guideline,reflexive_imaging", "--out", str(out / "sim"), "--quiet"],
    )
    assert simulated.exit_code == 0, simulated.output
    made = runner.invoke(main, ["report", "--out", str(out), "--simulation", str(out / "sim")])
    assert made.exit_code == 0, made.output
    return out / "report.html"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    options.binary_location = CHROMIUM or ""
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER or ""), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def loaded(browser: Any, report: Path) -> Any:
    browser.get_log("performance")  # start from an empty network log
    browser.get(report.as_uri())
    return browser


def test_loads_with_no_console_error_and_no_network_request(loaded: Any, report: Path) -> None:
    errors = [entry for entry in loaded.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert not errors, errors
    requested = []
    for entry in loaded.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.append(message["params"]["request"]["url"])
    assert report.as_uri() in requested
    elsewhere = [url for url in requested if url != report.as_uri() and not url.startswith("data:")]
    assert not elsewhere, f"the report fetched {elsewhere}"


def panel_text(browser: Any) -> str:
    panel = browser.find_element(By.ID, "panel")
    assert panel.is_displayed()
    return str(panel.text)


def test_a_click_on_each_state_shows_its_recommendations(loaded: Any, pathway: Pathway) -> None:
    for state in pathway.states:
        loaded.find_element(By.CSS_SELECTOR, f'#diagram g[id="state-{state.id}"]').click()
        text = panel_text(loaded)
        assert state.title in text.splitlines()[:3], text[:200]
        for rec in state.recommendations:
            assert rec.code in text, (state.id, rec.code)
            if rec.rating:
                assert rec.rating.replace("_", " ") in text
                assert f"RRL {rec.rrl}" in text
        for transition in pathway.transitions_from(state.id):
            assert transition.reason in text, (state.id, transition.id)
        loaded.find_element(By.ID, "panel-close").click()
        assert not loaded.find_element(By.ID, "panel").is_displayed()


def test_an_arrow_opens_its_conditions_with_thresholds_and_the_keyboard_works_too(
    loaded: Any, pathway: Pathway
) -> None:
    written_once = Counter(t.id for t in pathway.transitions)  # not a rule expanded for every active state
    guarded = next(
        t for t in pathway.transitions if t.guard and not t.label and t.source != t.target and written_once[t.id] == 1
    )
    arrow = loaded.find_element(By.CSS_SELECTOR, f'#diagram g[id="edge-{guarded.source}->{guarded.target}"]')
    arrow.send_keys(Keys.ENTER)
    text = panel_text(loaded)
    assert guarded.guard_words in text and guarded.reason in text
    assert loaded.switch_to.active_element.tag_name == "h2", "the panel takes the focus"
    loaded.switch_to.active_element.send_keys(Keys.ESCAPE)
    assert not loaded.find_element(By.ID, "panel").is_displayed()


def test_a_citation_in_a_panel_leads_to_its_source_entry(loaded: Any, pathway: Pathway) -> None:
    loaded.find_element(By.CSS_SELECTOR, f'#diagram g[id="state-{pathway.initial}"]').click()
    link = loaded.find_element(By.CSS_SELECTOR, "#panel a.cite")
    target = link.get_attribute("href").split("#", 1)[1]
    assert loaded.find_element(By.ID, target).tag_name == "article"
    assert target.removeprefix("source-") in {c.id for c in pathway.citations}
    loaded.find_element(By.ID, "panel-close").click()


def test_screenshot_with_a_state_open_is_not_blank(loaded: Any, pathway: Pathway) -> None:
    from PIL import Image

    busiest = max(pathway.states, key=lambda s: len(s.recommendations))
    loaded.execute_script("window.scrollTo(0, document.getElementById('diagram').offsetTop)")
    loaded.find_element(By.CSS_SELECTOR, f'#diagram g[id="state-{busiest.id}"]').click()
    png = loaded.get_screenshot_as_png()
    loaded.find_element(By.ID, "panel-close").click()
    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = list(image.get_flattened_data())
    inked = sum(1 for p in pixels if sum(p) < 600) / len(pixels)
    assert len(set(pixels)) > 50 and inked > 0.02, (len(set(pixels)), inked)
    keep = os.environ.get("PATHWAY_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / "report-screenshot.png").write_bytes(png)
    loaded.execute_script("window.scrollTo(0, 0)")


def test_print_gives_a4_pages_with_the_diagram_on_a_landscape_page(loaded: Any, pathway: Pathway) -> None:
    from pypdf import PdfReader

    printed = loaded.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True})
    pages = PdfReader(io.BytesIO(base64.b64decode(printed["data"]))).pages
    assert len(pages) >= 4
    sizes = [(round(float(p.mediabox.width) * 25.4 / 72), round(float(p.mediabox.height) * 25.4 / 72)) for p in pages]
    assert all(sorted(size) == sorted(A4_MM) for size in sizes), sizes
    # NFKC undoes the typographic ligatures (ﬁ, ﬂ) that print to PDF uses
    texts = [" ".join(unicodedata.normalize("NFKC", page.extract_text()).split()) for page in pages]
    # the diagram's page holds every state's title; it is the one landscape page
    diagram = [i for i, text in enumerate(texts) if all(s.title.split()[0] in text for s in pathway.states)]
    landscape = [i for i, (w, h) in enumerate(sizes) if w > h]
    assert landscape and set(landscape) <= set(diagram), (landscape, diagram)
    assert len(landscape) == 1


def test_axe_finds_no_serious_accessibility_violation(loaded: Any) -> None:
    loaded.execute_script(AXE.read_text(encoding="utf-8"))
    loaded.set_script_timeout(60)
    result = loaded.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(function (r) { done(r.violations); })"
        ".catch(function (e) { done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]); });"
    )
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} e.g. {[n['target'] for n in v['nodes'][:3]]}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, "\n".join(serious)
