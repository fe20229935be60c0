"""The documentation site: it builds strictly (no broken link, reference or include), the
notebooks are pages of it, the derivation's checks run at every build, and every formula is
typeset by the KaTeX shipped with it (no internet), checked in a real browser."""

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Pages whose formulas the browser test reads: pages of the docs and two notebooks.
MATH_PAGES = ["learn/", "backprop/", "defaults/", "cli/", "notebooks/backprop_derived/",
              "notebooks/vanishing_gradients/"]


def build(site, config="mkdocs.yml", cwd=ROOT):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("mkdocs_jupyter")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
                           "--site-dir", str(site)], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


def copy_of_the_sources(tmp_path, execute=True):
    """docs/, notebooks/ and mkdocs.yml copied to ``tmp_path`` (the API pages still read src/);
    ``execute=False``: the derivation is not run (a build that tests something else)."""
    shutil.copytree(os.path.join(ROOT, "docs"), tmp_path / "docs")
    shutil.copytree(os.path.join(ROOT, "notebooks"), tmp_path / "notebooks")
    config = open(os.path.join(ROOT, "mkdocs.yml")).read().replace("paths: [src]", f"paths: [{ROOT}/src]")
    if not execute:
        config = config.replace("execute: true", "execute: false")
    config = config.replace('base_path: ["."]', f'base_path: ["{ROOT}"]')
    (tmp_path / "mkdocs.yml").write_text(config)
    return tmp_path / "mkdocs.yml"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    done = build(folder)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


@pytest.mark.slow
def test_the_site_builds_strictly_with_every_page_and_notebook_in_it(site):
    pages = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "docs")) if name.endswith(".md"))
    notebooks = sorted(name[:-6] for name in os.listdir(os.path.join(ROOT, "notebooks")) if name.endswith(".ipynb"))
    for page in pages + [f"notebooks/{name}" for name in notebooks]:
        built = site / ("index.html" if page == "index" else f"{page}/index.html")
        assert built.exists(), page
    api = (site / "api" / "index.html").read_text()
    assert "DivergenceError" in api and 'id="backpropagation.NeuralNetwork.trace"' in api   # the reference is filled
    derived = (site / "notebooks" / "backprop_derived" / "index.html").read_text()
    assert "every statement" not in derived and "largest difference between the hand-written" in derived
    assert "cdn.jsdelivr" not in derived and "mathjax@" not in derived.lower()     # nothing from the internet
    assert (site / "assets" / "katex" / "katex.min.js").exists()


@pytest.mark.slow
def test_a_broken_link_fails_the_build(tmp_path):
    config = copy_of_the_sources(tmp_path / "copy", execute=False)
    with open(tmp_path / "copy" / "docs" / "index.md", "a") as page:
        page.write("\nSee [nowhere](missing.md).\n")
    done = build(tmp_path / "site", config, cwd=tmp_path / "copy")
    assert done.returncode != 0 and "missing.md" in done.stderr


@pytest.mark.slow
def test_a_wrong_derivation_fails_the_build(tmp_path):
    """The derivation runs when the site is built: a wrong result stops the build at its check."""
    import nbformat

    config = copy_of_the_sources(tmp_path / "copy")
    path = tmp_path / "copy" / "notebooks" / "backprop_derived.ipynb"
    notebook = nbformat.read(str(path), as_version=4)
    cell = next(cell for cell in notebook.cells if "da_dz = a * (1 - a)" in cell.source)
    cell.source = cell.source.replace("da_dz = a * (1 - a)", "da_dz = a * (1 + a)")     # a wrong sigmoid slope
    nbformat.write(notebook, str(path))
    done = build(tmp_path / "site", config, cwd=tmp_path / "copy")
    assert done.returncode != 0 and "AssertionError" in done.stderr


def serve(folder):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def math_problems(driver, url):
    """After KaTeX has run on the page at ``url``: the formulas it could not read, and text that still
    holds a formula's delimiters (a formula the renderer never saw); and how many it typeset."""
    from browser import wait_for

    driver.get(url)
    wait_for(lambda: driver.find_element("tag name", "body").get_attribute("data-math") == "typeset")
    errors = [element.get_attribute("title") or element.text
              for element in driver.find_elements("css selector", ".katex-error")]
    leftover = driver.execute_script("""
        const walker = document.createTreeWalker(document.querySelector("article") || document.body,
                                                 NodeFilter.SHOW_TEXT);
        const found = [];
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          if (node.parentElement.closest("pre, code, script, style, .katex")) continue;
          if (/\\$|\\\\\\(|\\\\\\[/.test(node.textContent)) found.push(node.textContent.trim().slice(0, 80));
        }
        return found;""")
    return errors + leftover, len(driver.find_elements("css selector", ".katex"))


@pytest.fixture(scope="module")
def chromium():
    from browser import browser

    driver = browser()
    yield driver
    driver.quit()


def test_every_formula_is_typeset_without_internet(site, chromium):
    server = serve(site)
    try:
        for page in MATH_PAGES:
            problems, typeset = math_problems(chromium, f"http://127.0.0.1:{server.server_address[1]}/{page}")
            assert problems == [] and typeset >= 5, (page, problems[:3], typeset)
    finally:
        server.shutdown()


def test_a_broken_formula_is_caught(site, chromium, tmp_path):
    shutil.copytree(site, tmp_path / "site")
    page = tmp_path / "site" / "notebooks" / "backprop_derived" / "index.html"
    html = page.read_text()
    assert html.count("\\frac{\\partial L}{\\partial w}") > 0
    page.write_text(html.replace("\\frac{\\partial L}{\\partial w}", "\\frac{\\partial L}{\\partial w", 1))
    server = serve(tmp_path / "site")
    try:
        problems, _ = math_problems(chromium, f"http://127.0.0.1:{server.server_address[1]}/notebooks/backprop_derived/")
        assert problems, "a formula KaTeX cannot read went unnoticed"
    finally:
        server.shutdown()
