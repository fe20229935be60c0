"""Regenerate the pictures of the documentation site in docs/: the derivation page and a notebook page.

    python docs/site_screenshots.py            # builds the site into a temporary folder first

Needs mkdocs (the test extra), selenium and Chromium with its driver (Debian: apt-get install
chromium chromium-driver). Each page is opened from a local web server, the formulas are left to
KaTeX (shipped in docs/assets/katex), and the top of the page is photographed.
"""

import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
#: picture -> (page, the id of the heading to scroll to before taking it)
PAGES = {"derivation.png": ("notebooks/backprop_derived/", "5-the-output-deltas-why-they-collapse-to-hat-y-y"),
         "notebook.png": ("notebooks/vanishing_gradients/", "training")}


def serve(folder: str) -> str:
    """A local web server for ``folder`` (a thread); its address."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


def browser(width: int = 1300, height: int = 1000):
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def main() -> int:
    with tempfile.TemporaryDirectory() as site:
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "--site-dir", site], cwd=ROOT, check=True,
                       env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, capture_output=True)
        address, driver = serve(site), browser()
        try:
            for picture, (page, heading) in PAGES.items():
                driver.get(address + page)
                deadline = time.time() + 20
                while driver.find_element("tag name", "body").get_attribute("data-math") != "typeset":
                    if time.time() > deadline:
                        raise RuntimeError(f"{page}: the formulas were not typeset")
                    time.sleep(0.1)
                driver.execute_script(f"document.getElementById({heading!r}).scrollIntoView()")
                time.sleep(0.5)
                driver.save_screenshot(os.path.join(HERE, picture))
                print(f"wrote docs/{picture}")
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
