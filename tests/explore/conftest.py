"""The explorer's fixtures: a server on a free port, and one headless Chromium per test module."""

import threading

import pytest
from browser import browser, wait_for

from backpropagation.explore import Explorer, Session


@pytest.fixture
def explorer():
    server = Explorer(Session(seed=0), port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium for the module's page tests (starting one costs more than a test)."""
    driver = browser()
    yield driver
    driver.quit()


@pytest.fixture
def page(explorer, chromium):
    chromium.set_window_size(1500, 1300)
    chromium.get_log("browser")                 # (reading the log empties it: each test sees its own page's)
    chromium.get(explorer.url)
    wait_for(lambda: chromium.find_element("id", "status").text)
    yield chromium
    chromium.get("about:blank")
