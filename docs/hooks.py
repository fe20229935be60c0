"""mkdocs hooks: the notebooks of ``notebooks/`` become pages of the site (rendered by
mkdocs-jupyter), and their pages load no MathJax from the internet (KaTeX, shipped in
``assets/katex``, typesets every page's formulas)."""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
MATHJAX = re.compile(r"<script[^>]*mathjax[^>]*>\s*</script>|<script type=\"text/x-mathjax-config\">.*?</script>",
                     re.IGNORECASE | re.DOTALL)


@event_priority(100)            # before mkdocs-jupyter's on_files, which turns them into pages
def on_files(files, config):
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        files.append(File(f"notebooks/{notebook.name}", str(ROOT), config["site_dir"], config["use_directory_urls"]))
    return files


#: A link from one notebook to another, as Jupyter follows it (``other.ipynb``).
NOTEBOOK_LINK = re.compile(r'href="([A-Za-z0-9_]+)\.ipynb"')


def on_post_page(output: str, page, config) -> str:
    if not page.file.src_uri.endswith(".ipynb"):
        return output
    output = MATHJAX.sub("", output)
    # The same link on the site: notebooks/a.ipynb is the page notebooks/a/ (or notebooks/a.html).
    target = r'href="../\1/"' if config["use_directory_urls"] else r'href="\1.html"'
    return NOTEBOOK_LINK.sub(target, output)
