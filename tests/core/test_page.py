"""The lesson page (``gradstep export --format html``): built without Qt or torch, small,
self-contained, laid out as the app, and working in a real browser.

The browser tests drive the distribution's Chromium through its WebDriver and check the
text the page shows against the Python formatter and the numbers against PyTorch's.
"""

from __future__ import annotations

import functools
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from gradstep.cli import main
from gradstep.page import page_data, page_html, step_lines, write_page
from gradstep.page.metrics import node_size
from gradstep.record.run import record_scenario
from gradstep.resources import bundled_scenarios
from gradstep.scenario.loader import load_scenario
from gradstep.session import Session
from gradstep.trace.io import dumps
from gradstep.trace.model import Trace

SCENARIOS = {p.name[:2]: p for p in bundled_scenarios()}
LESSON_05 = SCENARIOS["05"]
LESSON_14 = SCENARIOS["14"]


@functools.cache
def trace_of(path: Path) -> Trace:
    return record_scenario(load_scenario(path), trusted=False)


def step_where(trace: Trace, text: str, kind: str) -> int:
    """The index of the first step of ``kind`` whose text mentions ``text``."""
    return next(s.index for s in trace.steps if s.kind == kind and text in s.text)


# ------------------------------------------------------------------ without a browser
def test_the_page_is_made_without_qt_or_torch(tmp_path: Path):
    trace_file = tmp_path / "t.json"
    trace_file.write_text(dumps(trace_of(LESSON_05)))
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'torch', 'PySide6', 'shiboken6', 'pyqtgraph'}:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from gradstep.trace.io import loads\n"
        "from gradstep.page import write_page\n"
        f"t = loads(open({str(trace_file)!r}).read())\n"
        f"print(write_page(t, {str(tmp_path / 'p.html')!r}).stat().st_size)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) > 10_000


@pytest.mark.parametrize("lesson", [LESSON_05, LESSON_14], ids=["05", "14"])
def test_page_is_small_and_self_contained(lesson: Path):
    html = page_html(trace_of(lesson))
    size = len(html.encode("utf-8"))
    assert size < 200_000, size  # "well under 1 MB"
    # nothing fetched: no external script, style, image or font, no URL but SVG's namespace
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert "@import" not in html and "url(" not in html


def test_every_step_is_in_the_page_with_the_formatters_text():
    trace = trace_of(LESSON_05)
    html = page_html(trace)
    doc = json.loads(
        re.search(
            r'<script id="page-data" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert len(doc["steps"]) == len(trace.steps)
    for step, row in zip(trace.steps, doc["steps"]):
        assert row[2] == step_lines(trace, step)
        assert row[0] == (step.line or 0)


def test_scenario_text_cannot_inject_markup(tmp_path: Path):
    src = (
        '"""A </script><script>alert(1)</script> title"""\n'
        "# %% [markdown]\n# <img src=x onerror=alert(1)> and </script>\n"
        "# %%\nimport torch\nx = torch.tensor(2.0, requires_grad=True)\n"
        "s = '</script><b>'\n(x * x).backward()\n"
    )
    f = tmp_path / "evil.py"
    f.write_text(src)
    html = page_html(record_scenario(load_scenario(f), trusted=False))
    body = html.split("<body>", 1)[1]
    assert body.count("<script") == 2  # the data and the page's own script
    assert "<img" not in body and "<b>" not in body and "alert(1)</script>" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body  # the note, as text


def test_click_targets_are_the_nodes_compute_steps():
    trace = trace_of(LESSON_05)
    data = page_data(trace)
    session = Session(trace)
    by_title = {n.title: n for n in data.nodes}
    assert by_title["y_pred"].jump == session.step_for_node(by_title["y_pred"].id)
    sigmoid = trace.steps[by_title["y_pred"].jump]
    assert sigmoid.kind == "compute" and sigmoid.node == by_title["y_pred"].id


def test_page_matches_the_apps_node_sizes_and_layout(qapp):
    """The page's boxes are the app's (Qt's font metrics), so its layout puts every node
    where the window does."""
    from gradstep.gui.export.figure import graph_view_for
    from gradstep.gui.graph.items import node_size as app_node_size
    from gradstep.gui.theme import LIGHT

    for lesson in (LESSON_05, LESSON_14):
        trace = trace_of(lesson)
        data = page_data(trace)
        view = graph_view_for(trace, 0)
        app = view.drawing
        for n in data.nodes:
            w, h = app_node_size(LIGHT, n.title, n.subtitle)
            # within Qt's kerning, which the page's table of advances leaves out
            assert node_size(n.title, n.subtitle) == pytest.approx((w, h), rel=0.025), n.title
            ax, ay = app.layout.positions[n.id]
            assert (n.x, n.y) == pytest.approx((ax, ay), abs=3.0), n.title


def test_page_colours_are_the_apps_light_theme(qapp):
    from gradstep.gui.theme import LIGHT
    from gradstep.page.render import css_variables

    css = css_variables()
    colours = LIGHT.colours()  # the window's theme, read through its Qt module
    assert {"background", "current", "done_fill", "module_fill", "nonfinite"} <= set(colours)
    for name, value in colours.items():
        assert f"--{name.replace('_', '-')}: {value};" in css
    assert f"--faded-opacity: {LIGHT.faded_opacity};" in css
    assert f"--active-edge-width: {LIGHT.active_edge_width}px;" in css


def test_cli_writes_the_page_and_reports_a_bad_step(tmp_path: Path, capsys):
    out = tmp_path / "lesson.html"
    assert main(["export", str(LESSON_05), "--format", "html", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert [p.name for p in tmp_path.iterdir()] == ["lesson.html"]  # no temporary left
    assert (
        main(["export", str(LESSON_05), "--format", "html", "--step", "999", "-o", str(out)]) == 2
    )
    assert "step 999 is out of range" in capsys.readouterr().err


# ------------------------------------------------------------------ in Chromium
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(
            "Chromium and its WebDriver are not installed (apt-get install chromium chromium-driver)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="gradstep-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, tuple[Trace, str]]:
    folder = tmp_path_factory.mktemp("pages")
    out = {}
    for key, lesson in (("05", LESSON_05), ("14", LESSON_14)):
        trace = trace_of(lesson)
        path = write_page(trace, folder / f"lesson{key}.html")
        out[key] = (trace, path.resolve().as_uri())
    return out


def open_page(driver, url: str, step: int | None = None) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get("about:blank")  # a new document even when only the hash differs
    driver.get(url if step is None else f"{url}#step={step}")
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.documentElement.dataset.ready") == "1"
    )


def shown(driver) -> tuple[int, list[str]]:
    """The step the page shows (from 1) and its text lines."""
    step = int(driver.find_element("id", "slider").get_attribute("value"))
    lines = [driver.find_element("id", "where").get_attribute("textContent")]
    chain = driver.find_element("id", "chain").get_attribute("textContent")
    return step, lines + (chain.split("\n") if chain else [])


def expect(driver, trace: Trace, index: int) -> None:
    step, lines = shown(driver)
    assert step == index + 1
    assert lines == step_lines(trace, trace.steps[index])
    assert driver.execute_script("return location.hash") == f"#step={index + 1}"


def press(driver, key: str, times: int = 1) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    for _ in range(times):
        ActionChains(driver).send_keys(key).perform()


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


def test_lesson_05_steps_and_shows_pytorchs_numbers(browser, pages):
    from selenium.webdriver.common.keys import Keys

    trace, url = pages["05"]
    open_page(browser, url)
    expect(browser, trace, 0)
    press(browser, Keys.ARROW_RIGHT, 3)
    expect(browser, trace, 3)
    press(browser, Keys.ARROW_LEFT)
    expect(browser, trace, 2)
    press(browser, Keys.END)
    expect(browser, trace, len(trace.steps) - 1)
    press(browser, Keys.HOME)
    expect(browser, trace, 0)

    # PyTorch on the lesson's numbers: the sigmoid gets dL/dŷ and sends dL/dz on
    x, y = torch.tensor(6.7), torch.tensor(0.0)
    w, b = torch.tensor(1.0, requires_grad=True), torch.tensor(0.0, requires_grad=True)
    z = w * x + b
    z.retain_grad()
    y_pred = torch.sigmoid(z)
    y_pred.retain_grad()
    F.binary_cross_entropy(y_pred, y).backward()
    sigmoid = step_where(trace, "SigmoidBackward0 computes", "compute")
    open_page(browser, url, sigmoid + 1)  # #step=N opens at step N, counted from 1
    expect(browser, trace, sigmoid)
    # the chain rule as taught: "upstream × σ(1 − σ) = downstream → z:  813.36 × 0.001228 = …",
    # each number to at least 4 significant figures
    up, local, down = numbers(shown(browser)[1][1].split(":  ")[1])
    assert math.isclose(up, y_pred.grad.item(), rel_tol=5e-4)
    assert math.isclose(local, (y_pred * (1 - y_pred)).item(), rel_tol=5e-4)
    assert math.isclose(down, z.grad.item(), rel_tol=5e-4)
    accumulate = step_where(trace, "w.grad accumulates", "accumulate")
    open_page(browser, url, accumulate + 1)
    assert numbers(shown(browser)[1][1])[-1] == pytest.approx(w.grad.item(), rel=5e-4)
    assert browser.get_log("browser") == []  # no script error


def test_a_click_on_a_node_goes_to_its_compute_step(browser, pages):
    trace, url = pages["05"]
    open_page(browser, url)
    session = Session(trace)
    for name in ("y_pred", "w"):
        node = next(n for n in trace.nodes.values() if n.name == name)
        target = session.step_for_node(node.id)
        el = browser.find_element("css selector", f'#nodes > .node[aria-label^="{name},"]')
        el.click()
        expect(browser, trace, target)
        assert el.get_attribute("aria-current") == "step"
        assert "s-current" in el.get_attribute("class")
    # the keyboard reaches a node and Enter goes there too
    from selenium.webdriver.common.keys import Keys

    press(browser, Keys.HOME)
    node = browser.find_element("css selector", '#nodes > .node[aria-label^="z,"]')
    browser.execute_script("arguments[0].focus()", node)
    press(browser, Keys.ENTER)
    z = next(n for n in trace.nodes.values() if n.name == "z")
    expect(browser, trace, session.step_for_node(z.id))


def test_lesson_14_steps_through_both_passes_with_the_traces_numbers(browser, pages):
    from selenium.webdriver.common.keys import Keys

    trace, url = pages["14"]
    # PyTorch runs the lesson's first training step
    torch.manual_seed(0)
    X = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    Y = torch.tensor([[-1.0], [1.0], [0.0], [1.0]])
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    torch.nn.MSELoss()(model(X), Y).backward()
    k = step_where(trace, "model.2.bias.grad accumulates", "accumulate")
    open_page(browser, url, k + 1)
    expect(browser, trace, k)
    got = numbers(shown(browser)[1][1])[-1]
    assert got == pytest.approx(model[2].bias.grad.item(), rel=5e-4)  # 4 significant figures
    # stepping across the end of the first pass into the second keeps the text in step
    second = trace.passes[1].first_step
    open_page(browser, url, second)  # the step before the pass (numbered from 1)
    press(browser, Keys.ARROW_RIGHT, 3)
    expect(browser, trace, second + 2)
    hidden = browser.execute_script(
        "return document.querySelectorAll('#nodes > .node.s-hidden').length"
    )
    assert hidden > 0  # the first iteration's graph is gone, as in the app
    assert browser.get_log("browser") == []


def test_page_reflows_at_200_percent_zoom(browser, pages):
    trace, url = pages["14"]
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 700, "height": 500, "deviceScaleFactor": 2, "mobile": False},
    )
    try:
        open_page(browser, url, 20)
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0  # one column, nothing to scroll sideways
        chain = browser.find_element("id", "chain")
        assert chain.is_displayed() and chain.size["width"] <= 700
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_cli_errors_and_a_scenario_that_raises(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    lesson = str(SCENARIOS["10"])  # raises on purpose at its line 39
    assert main(["export", lesson, "--format", "html"]) == 1
    err = capsys.readouterr().err
    assert "line 39" in err and "the page shows the steps up to it" in err
    page = tmp_path / (Path(lesson).stem + ".html")
    assert page.exists() and "RuntimeError" in page.read_text(encoding="utf-8")
    assert main(["export", lesson, "--format", "html", "--all"]) == 2
    assert "a page already holds every step" in capsys.readouterr().err
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nx = (\n")
    assert main(["export", str(bad), "--format", "html", "-o", str(tmp_path / "b.html")]) == 2
    assert "bad.py" in capsys.readouterr().err and not (tmp_path / "b.html").exists()
    missing = tmp_path / "no" / "such" / "folder.html"
    assert main(["export", str(LESSON_05), "--format", "html", "-o", str(missing)]) == 2
    assert "cannot write the page" in capsys.readouterr().err
