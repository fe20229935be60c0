"""``backprop explore``: its data, its API, and the page itself in a real (headless) Chromium.

The browser tests need Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them)
and skip with the reason where they are absent. They read every number the page shows for a
Step (``data-quantity`` elements) and recompute the step with ``NeuralNetwork.trace`` from the
page's own x, y, W and b.
"""

import json
import shutil
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from backpropagation import NeuralNetwork
from backpropagation.cli import main as backprop
from backpropagation.explore import DATASETS, Explorer, Session, make_dataset


@pytest.fixture
def explorer():
    server = Explorer(Session(seed=0), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def call(server, path, body=None, host=None):
    request = urllib.request.Request(server.url.rstrip("/") + path, method="GET" if body is None else "POST",
                                     data=None if body is None else json.dumps(body).encode())
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize("name", DATASETS)
def test_every_data_set_is_two_dimensional_labelled_and_reproducible(name):
    X, y = make_dataset(name, seed=3)
    again, labels = make_dataset(name, seed=3)
    assert X.shape == (200, 2) and np.isfinite(X).all() and np.array_equal(X, again)
    assert sorted(set(y.tolist())) == ([0, 1, 2] if name == "blobs" else [0, 1]) and np.array_equal(y, labels)


def test_a_step_is_the_library_s_own_training_step(explorer):
    _, before = call(explorer, "/api/state")
    status, step = call(explorer, "/api/step", {})
    assert status == 200
    model = NeuralNetwork([2, 4, 3, 2], task="classification", optimizer="sgd", learning_rate=0.1)
    for layer, weights in zip(model.layers, before["weights"]):
        layer.W[...], layer.b[...] = weights["W"], weights["b"]
    trace = model.trace([step["x"]], [int(np.argmax(step["y"]))], apply=True)
    for mine, theirs in zip(step["layers"], trace.layers):
        for name in ("z", "a", "delta"):
            np.testing.assert_array_equal(mine[name], getattr(theirs, name)[0])
        for name in ("W", "dW", "W_new", "b", "db", "b_new"):
            np.testing.assert_array_equal(mine[name], getattr(theirs, name))
    np.testing.assert_array_equal(step["state"]["weights"][0]["W"], trace.layers[0].W_new)   # applied
    assert step["state"]["steps"] == 1


def test_train_moves_the_loss_and_the_boundary(explorer):
    _, before = call(explorer, "/api/state")
    _, after = call(explorer, "/api/train", {"epochs": 5})
    assert after["epochs"] == 5 and len(after["losses"]) == 5 and after["losses"][-1] < after["losses"][0]
    assert after["grid"]["confidence"] != before["grid"]["confidence"]


@pytest.mark.parametrize("body,message", [
    ({"layers": [3, 4, 2]}, "input layer has 2 units"),
    ({"layers": [2, 4, 3]}, "needs 2 units (or 1)"),
    ({"dataset": "blobs"}, "blobs has 3 classes"),
    ({"activation": "cube"}, "activation"),
    ({"batch_size": 0}, "batch_size"),
    ({"dataset": "iris"}, "dataset: expected one of"),
    ({"layers": [2, None, 2]}, "layers: expected whole numbers >= 1"),
    ({"layers": "2,4,2"}, "layers: expected whole numbers >= 1"),
    ({"learning_rate": -1}, "learning_rate"),
])
def test_a_bad_configuration_is_refused_with_the_reason(explorer, body, message):
    status, answer = call(explorer, "/api/reset", body)
    assert status == 400 and message in answer["error"]
    assert call(explorer, "/api/state")[1]["config"]["layers"] == [2, 4, 3, 2]     # the old network stays


def test_requests_for_other_hosts_and_unknown_paths_are_refused(explorer):
    assert call(explorer, "/api/state", host="attacker.example:80")[0] == 403
    assert call(explorer, "/api/nothing", {})[0] == 404
    assert call(explorer, "/api/train", {"epochs": 10**6})[0] == 400


def test_the_command_refuses_a_port_it_cannot_use(capsys, explorer):
    port = explorer.server_address[1]
    assert backprop(["explore", "--port", str(port), "--no-browser"]) == 2
    assert f"--port {port}: cannot listen" in capsys.readouterr().err


# ---------------------------------------------------------------------- in a real browser
def browser():
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                    None)
    driver_path = shutil.which("chromedriver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if chromium is None or driver_path is None:
        pytest.skip("Chromium and its driver are not installed (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1300"):
        options.add_argument(argument)
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    from selenium.webdriver.chrome.service import Service

    return webdriver.Chrome(service=Service(driver_path), options=options)


@pytest.fixture
def page(explorer):
    driver = browser()
    try:
        driver.get(explorer.url)
        wait_for(lambda: driver.find_element("id", "status").text)
        yield driver
    finally:
        driver.quit()


def wait_for(condition, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = condition()
        except Exception:                      # the page is still drawing
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("the page did not get there in time")


def errors(driver):
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def shown_numbers(driver):
    """{(quantity, layer, row, col): value} of every tagged number; repeats must agree."""
    numbers = {}
    script = ("return [...document.querySelectorAll('[data-quantity]')].map(e => "
              "[e.dataset.quantity, +e.dataset.layer, +e.dataset.row, +e.dataset.col, e.dataset.value])")
    for quantity, layer, row, col, value in driver.execute_script(script):
        key = (quantity, layer, row, col)
        assert numbers.setdefault(key, float(value)) == float(value), key
    return numbers


def gathered(numbers, quantity, layer):
    cells = {(r, c): v for (q, number, r, c), v in numbers.items() if q == quantity and number == layer}
    rows, cols = max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1
    return np.array([[cells[r, c] for c in range(cols)] for r in range(rows)])


def test_the_page_loads_without_errors_and_step_shows_the_trace(page, explorer):
    assert not errors(page)
    start = [np.array(w["W"]) for w in call(explorer, "/api/state")[1]["weights"]]
    page.find_element("xpath", "//button[text()='Step']").click()
    numbers = wait_for(lambda: shown_numbers(page) if any(k[0] == "W_new" for k in shown_numbers(page)) else None)
    model = NeuralNetwork([2, 4, 3, 2], task="classification", optimizer="sgd", learning_rate=0.1)
    for number, layer in enumerate(model.layers, 1):
        layer.W[...] = gathered(numbers, "W", number)
        layer.b[...] = gathered(numbers, "b", number)[0]
        np.testing.assert_array_equal(layer.W, start[number - 1])     # W shown: where the step started
    x, y = gathered(numbers, "x", 0), gathered(numbers, "y", 0)
    trace = model.trace(x, [int(np.argmax(y))], apply=True)
    for number, step in enumerate(trace.layers, 1):
        for quantity, expected in (("z", step.z), ("a", step.a), ("delta", step.delta), ("dW", step.dW),
                                   ("db", step.db[None, :]), ("W_new", step.W_new), ("b_new", step.b_new[None, :])):
            np.testing.assert_allclose(gathered(numbers, quantity, number), expected, rtol=1e-12, atol=1e-15,
                                       err_msg=f"{quantity} of layer {number}")
    assert not errors(page)


def test_train_changes_the_picture_and_pause_stops_it(page, tmp_path):
    picture = "return document.getElementById('boundary').toDataURL()"
    before = page.execute_script(picture)
    train = page.find_element("xpath", "//button[text()='Train']")
    train.click()
    wait_for(lambda: int(page.find_element("id", "loss").get_attribute("data-epochs")) >= 3)
    assert train.text == "Pause"
    train.click()
    epochs = wait_for(lambda: train.text == "Train" and page.find_element("id", "loss").get_attribute("data-epochs"))
    time.sleep(0.3)
    assert page.find_element("id", "loss").get_attribute("data-epochs") in (epochs, str(int(epochs) + 1))
    assert page.execute_script(picture) != before
    assert page.save_screenshot(str(tmp_path / "explore.png")) and not errors(page)


def test_the_default_output_layer_fits_the_data_set_and_bad_ports_are_refused(capsys):
    assert Session(dataset="blobs").config["layers"] == [2, 4, 3, 3]
    assert Session().config["layers"] == [2, 4, 3, 2]
    with pytest.raises(SystemExit):
        backprop(["explore", "--port", "99999", "--no-browser"])
    assert "expected a port number from 0 to 65535" in capsys.readouterr().err
