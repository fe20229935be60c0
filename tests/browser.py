"""A headless Chromium for the tests that read pages (the explorer, the documentation site).

Needs selenium and Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); a
test that asks for one where they are absent is skipped with the reason.
"""

import shutil
import time

import pytest


def browser(width: int = 1500, height: int = 1300):
    """A headless Chromium (selenium's driver) whose console log can be read."""
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                    None)
    driver_path = shutil.which("chromedriver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if chromium is None or driver_path is None:
        pytest.skip("Chromium and its driver are not installed (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    from selenium.webdriver.chrome.service import Service

    return webdriver.Chrome(service=Service(driver_path), options=options)


def wait_for(condition, timeout=30):
    """The first true value of ``condition()`` within ``timeout`` seconds (AssertionError after)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = condition()
        except Exception:                      # the page is still drawing
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the page")
