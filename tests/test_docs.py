"""The documentation site builds with no broken link, reference or include (``mkdocs build --strict``)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(tmp_path, config="mkdocs.yml"):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", config,
                           "--site-dir", str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


def test_the_site_builds_strictly_with_every_page_in_the_navigation(tmp_path):
    done = build(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    pages = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "docs")) if name.endswith(".md"))
    for page in pages:
        built = tmp_path / "site" / ("index.html" if page == "index" else f"{page}/index.html")
        assert built.exists(), page
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert "loss_and_gradients" in api and "DivergenceError" in api      # the reference is filled in
    assert 'id="backpropagation.NeuralNetwork.trace"' in api             # with the mixin's methods


def test_a_broken_link_fails_the_build(tmp_path):
    """The strict build is a real check: the same site with one link to a missing page fails."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(os.path.join(ROOT, "docs"), copy / "docs")
    with open(copy / "docs" / "index.md", "a") as page:
        page.write("\nSee [nowhere](missing.md).\n")
    config = open(os.path.join(ROOT, "mkdocs.yml")).read().replace("docs_dir: docs", f"docs_dir: {copy / 'docs'}")
    (copy / "mkdocs.yml").write_text(config)
    done = build(tmp_path, str(copy / "mkdocs.yml"))
    assert done.returncode != 0 and "missing.md" in done.stderr
