"""``backprop explore``: its data, its API, and the page itself in a real (headless) Chromium.

The browser tests need Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them)
and skip with the reason where they are absent. They read every number the page shows for a
Step (``data-quantity`` elements) and recompute the step with ``NeuralNetwork.trace`` from the
page's own x, y, W and b.
"""

import json
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from browser import browser, wait_for

from backpropagation import NeuralNetwork
from backpropagation.cli import main as backprop
from backpropagation.explore import DATASETS, Explorer, Session, make_dataset


@pytest.fixture
def explorer():
    server = Explorer(Session(seed=0), port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def call(server, path, body=None, host=None):
    request = urllib.request.Request(server.url.rstrip("/") + path, method="GET" if body is None else "POST",
                                     data=None if body is None else json.dumps(body).encode())
    if body is not None:
        request.add_header("Content-Type", "application/json")
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
    trace = model.trace(step["x"], np.argmax(step["y"], axis=1), apply=True)
    for mine, theirs in zip(step["layers"], trace.layers):
        for name in ("z", "a", "delta"):
            np.testing.assert_array_equal(mine[name], getattr(theirs, name))
        for name in ("W", "dW", "W_new", "b", "db", "b_new"):
            np.testing.assert_array_equal(mine[name], getattr(theirs, name))
    np.testing.assert_array_equal(step["state"]["weights"][0]["W"], trace.layers[0].W_new)   # applied
    assert step["state"]["steps"] == 1


def test_a_step_carries_the_chain_on_to_the_inputs(explorer):
    _, before = call(explorer, "/api/state")
    _, step = call(explorer, "/api/step", {})
    model = NeuralNetwork([2, 4, 3, 2], task="classification", optimizer="sgd", learning_rate=0.1)
    model.task_.fit_encode([0, 1], model.dtype)
    for layer, weights in zip(model.layers, before["weights"]):
        layer.W[...], layer.b[...] = weights["W"], weights["b"]
    x, label = np.array(step["x"]), np.argmax(step["y"], axis=1)
    Y = model.task_.encode(label, model.dtype)
    eps, numeric = 1e-6, np.zeros_like(x)
    for j in range(x.shape[1]):
        shift = np.zeros_like(x)
        shift[:, j] = eps
        numeric[:, j] = (model.backprop.objective(x + shift, Y) - model.backprop.objective(x - shift, Y)) / (2 * eps)
    np.testing.assert_allclose(step["inputs"]["dL_dx"], numeric, rtol=1e-6, atol=1e-9)     # ∂L/∂x
    np.testing.assert_allclose(step["inputs"]["dy_dx"], model.input_gradients(x[:1])[0], rtol=1e-12)


def test_train_moves_the_loss_and_the_boundary(explorer):
    _, before = call(explorer, "/api/state")
    _, after = call(explorer, "/api/train", {"epochs": 5})
    assert after["epochs"] == 5 and len(after["losses"]) == 5 and after["losses"][-1] < after["losses"][0]
    assert after["grid"]["confidence"] != before["grid"]["confidence"]


@pytest.mark.parametrize("body,message", [
    ({"layers": [3, 4, 2]}, "input layer has 2 unit(s)"),
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


def raw(server, method, path, headers=(), body=b""):
    """Send a hand-made HTTP request (any header, any lie); return (status, JSON reply)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    given = dict(headers)
    given.setdefault("Host", f"127.0.0.1:{server.server_address[1]}")
    for name, value in given.items():
        connection.putheader(name, value)
    connection.endheaders(body or None)
    response = connection.getresponse()
    reply = response.read()
    connection.close()
    return response.status, json.loads(reply) if response.getheader("Content-Type") == "application/json" else reply


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("headers,status", [
    ({"Origin": "http://attacker.example", **JSON}, 403),
    ({"Origin": "null", **JSON}, 403),
    ({"Sec-Fetch-Site": "cross-site", **JSON}, 403),
    ({"Sec-Fetch-Site": "same-site", **JSON}, 403),
    ({"Content-Type": "text/plain"}, 415),                       # what a no-cors fetch may send
    ({"Content-Type": "application/x-www-form-urlencoded"}, 415),  # what a form sends
    ({}, 415),
])
def test_requests_that_a_page_elsewhere_could_send_change_nothing(explorer, headers, status):
    before = explorer.session
    body = json.dumps({"layers": [2, 9, 2]}).encode()
    code, reply = raw(explorer, "POST", "/api/reset", {**headers, "Content-Length": str(len(body))}, body)
    assert code == status and "error" in reply
    assert explorer.session is before and explorer.session.config["layers"] == [2, 4, 3, 2]


def test_the_page_s_own_requests_are_accepted_whatever_the_host_s_case(explorer):
    port = explorer.server_address[1]
    body = json.dumps({"epochs": 1}).encode()
    for origin in (f"http://127.0.0.1:{port}", f"http://LOCALHOST:{port}"):
        code, _ = raw(explorer, "POST", "/api/train", {"Origin": origin, "Sec-Fetch-Site": "same-origin",
                                                        "Host": f"LocalHost:{port}", **JSON,
                                                        "Content-Length": str(len(body))}, body)
        assert code == 200
    assert raw(explorer, "GET", "/app.js?x=1")[0] == 200
    assert raw(explorer, "GET", "/api/state?t=3")[0] == 200


@pytest.mark.parametrize("length,status", [("-1", 400), ("abc", 400), ("1e3", 400), (str(200 << 20), 413)])
def test_a_lying_content_length_is_refused_without_reading(explorer, length, status):
    code, reply = raw(explorer, "POST", "/api/step", {**JSON, "Content-Length": length})
    assert code == status and "error" in reply
    assert explorer.session.steps == 0


@pytest.mark.parametrize("body,message", [
    ('{"batch_size": Infinity}', "Infinity is not a number"),
    ('{"learning_rate": NaN}', "NaN is not a number"),
    ('{"batch_size": 1e300}', "batch_size: expected a whole number from 1 to 200"),
    ('{"batch_size": 201}', "batch_size: expected a whole number from 1 to 200"),
    ('{"learning_rate": 1e9}', "learning_rate: expected a number above 0 and at most 100"),
    ('{"layers": [2, 1500, 1500, 2]}', "at most 10 layers of at most 64 units"),
    ('{"layers": [2, 10000000000, 2]}', "at most 10 layers of at most 64 units"),
    ('{"layers": [2, 64, 64, 64, 64, 2]}', "has 12802 weights and biases; the explorer takes at most 10000"),
    ('{"layers": [2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2]}', "at most 10 layers"),
    ('{"seed": -1}', "seed: expected a whole number"),
    ('[1, 2]', "expected a JSON object"),
    ('{"layers": ', "the body is not JSON"),
])
def test_a_reset_out_of_bounds_is_refused_with_the_reason(explorer, body, message):
    code, reply = raw(explorer, "POST", "/api/reset", {**JSON, "Content-Length": str(len(body))}, body.encode())
    assert code == 400 and message in reply["error"], reply
    assert explorer.session.config["layers"] == [2, 4, 3, 2]


def test_a_step_or_an_epoch_that_diverges_is_undone_and_the_page_keeps_working(explorer):
    model = explorer.session.model
    model.parameters[...] = 1e306                   # the next forward pass overflows
    before = model.parameters.copy()
    code, reply = call(explorer, "/api/step", {})
    assert code == 422 and "diverged" in reply["error"] and "not applied" in reply["error"]
    np.testing.assert_array_equal(model.parameters, before)
    assert explorer.session.steps == 0
    code, reply = call(explorer, "/api/train", {"epochs": 2})
    assert code == 422 and "diverged" in reply["error"]
    assert np.isfinite(model.parameters).all()
    code, state = call(explorer, "/api/state")     # valid JSON (no NaN), so the page can draw it
    assert code == 200 and state["steps"] == 0
    code, _ = call(explorer, "/api/reset", {"learning_rate": 0.1})
    assert code == 200 and call(explorer, "/api/step", {})[0] == 200


# ---------------------------------------------------------------------- in a real browser
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
    model.task_.fit_encode(np.array([0, 1]), model.dtype)              # (the page's classes: 0 and 1)
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
    first = trace.layers[0]                             # the inputs: one more row of the chain
    np.testing.assert_allclose(gathered(numbers, "dL_dx", 0), first.delta @ first.W.T, rtol=1e-12, atol=1e-15)
    for number, layer in enumerate(model.layers, 1):    # ∂ŷ/∂x with the weights the step started from
        layer.W[...], layer.b[...] = gathered(numbers, "W", number), gathered(numbers, "b", number)[0]
    np.testing.assert_allclose(gathered(numbers, "dy_dx", 0), model.input_gradients(x)[0], rtol=1e-12, atol=1e-15)
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


def test_a_page_on_another_origin_cannot_change_the_network(explorer, tmp_path):
    """What a web page the user happens to open could try: a no-cors fetch, a JSON fetch
    (preflighted), and a form posted at the explorer; none may touch the network."""
    import functools
    import http.server

    target = explorer.url + "api/reset"
    (tmp_path / "index.html").write_text(f"""<!doctype html><body>
<form id="f" method="POST" action="{target}" enctype="text/plain" target="sink">
<input name='{{"layers": [2, 9, 2], "x": "' value='"}}'></form><iframe name="sink"></iframe>
<script>
const body = JSON.stringify({{layers: [2, 9, 2]}});
Promise.allSettled([
  fetch("{target}", {{method: "POST", mode: "no-cors", body}}),
  fetch("{target}", {{method: "POST", headers: {{"Content-Type": "application/json"}}, body}}),
]).then(() => {{ document.getElementById("f").submit(); document.title = "sent"; }});
</script></body>""")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    elsewhere = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=elsewhere.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    driver = browser()
    try:
        driver.get(f"http://localhost:{elsewhere.server_address[1]}/index.html")
        wait_for(lambda: driver.title == "sent")
        time.sleep(1.0)                                    # the form's request lands after the title
    finally:
        driver.quit()
        elsewhere.shutdown()
        elsewhere.server_close()
    assert explorer.session.config["layers"] == [2, 4, 3, 2]


# ---------------------------------------------------------------------- teaching: follow one weight
def click_button(driver, text):
    driver.find_element("xpath", f"//button[text()='{text}']").click()


def present(driver, quantity):
    return driver.execute_script(f"return document.querySelectorAll('#steps [data-quantity=\"{quantity}\"]').length")


def test_following_a_weight_writes_its_chain_rule_equal_to_the_gradient_beside_a_nudge(page, explorer):
    click_button(page, "Step")
    wait_for(lambda: present(page, "W_new"))
    numbers = shown_numbers(page)
    for layer, row, col in ((3, 1, 0), (2, 2, 1), (1, 0, 2)):
        cell = page.find_element("css selector", f'#steps [data-quantity="W"][data-layer="{layer}"]'
                                                  f'[data-row="{row}"][data-col="{col}"]')
        cell.click()
        where = f'[data-layer="{layer}"][data-row="{row}"][data-col="{col}"]'
        chain = wait_for(lambda where=where: page.find_element("css selector", f'[data-quantity="chain"]{where}'))
        nudge = page.find_element("css selector", f'[data-quantity="nudge"][data-layer="{layer}"][data-row="{row}"]'
                                                  f'[data-col="{col}"]')
        gradient = numbers[("dW", layer, row, col)]
        assert float(chain.get_attribute("data-value")) == pytest.approx(gradient, rel=1e-12, abs=1e-15)
        assert float(nudge.get_attribute("data-value")) == pytest.approx(gradient, rel=1e-5, abs=1e-9)
        shown_numbers(page)                       # every number repeated in the chain agrees with the step's
    page.find_element("css selector", '#network line[data-layer="1"][data-row="1"][data-col="0"]').click()
    wait_for(lambda: page.find_elements("css selector", '[data-quantity="chain"][data-layer="1"][data-row="1"]'))
    highlighted = page.execute_script("return [...document.querySelectorAll('#network line.path')]"
                                      ".map(e => [+e.dataset.layer, +e.dataset.row, +e.dataset.col])")
    assert [1, 1, 0] in highlighted and [2, 0, 1] in highlighted and [3, 0, 0] in highlighted
    assert [1, 0, 0] not in highlighted and [2, 1, 0] not in highlighted    # off the path to the loss
    assert not errors(page)


def test_forward_backward_and_update_reveal_one_phase_at_a_time(page):
    click_button(page, "Forward")
    wait_for(lambda: present(page, "z"))
    assert (present(page, "delta"), present(page, "dA"), present(page, "W_new")) == (0, 0, 0)
    click_button(page, "Backward")
    wait_for(lambda: present(page, "delta"))
    assert present(page, "dA") and present(page, "fprime") and not present(page, "W_new")
    order = page.execute_script("return [...document.querySelectorAll('[data-phase=\"backward\"] h3')]"
                                ".map(h => h.textContent).filter(t => t.startsWith('Layer'))")
    assert order == ["Layer 3, backward", "Layer 2, backward", "Layer 1, backward"]       # output layer first
    click_button(page, "Update")
    wait_for(lambda: present(page, "W_new"))
    assert present(page, "W_change") and not errors(page)


def test_the_optimizer_state_shown_after_a_step_is_the_library_s(page, explorer):
    Select = pytest.importorskip("selenium.webdriver.support.select").Select
    Select(page.find_element("id", "optimizer")).select_by_value("adam")
    click_button(page, "New network")
    wait_for(lambda: explorer.session.config["optimizer"] == "adam")
    click_button(page, "Step")
    wait_for(lambda: present(page, "m"))
    numbers = shown_numbers(page)
    state = explorer.session.model.optimizer.get_state()
    for number, (w, _) in enumerate(explorer.session.model.parameter_slices(), 1):
        shape = explorer.session.model.layers[number - 1].W.shape
        for name in ("m", "v"):
            np.testing.assert_array_equal(gathered(numbers, name, number), state[name][w].reshape(shape))
    assert "m ← β₁ m + (1 − β₁) g" in page.find_element("id", "steps").text


def test_after_train_no_stale_step_stays_and_edges_show_the_current_weights(page, explorer):
    click_button(page, "Step")
    wait_for(lambda: present(page, "W_new"))
    train = page.find_element("xpath", "//button[text()='Train']")
    train.click()
    wait_for(lambda: int(page.find_element("id", "loss").get_attribute("data-epochs")) >= 2)
    train.click()
    wait_for(lambda: train.text == "Train")
    time.sleep(0.2)
    assert present(page, "W") == 0 and present(page, "W_new") == 0 and "Training moved the weights" in \
        page.find_element("id", "steps").text
    widths = page.execute_script("return [...document.querySelectorAll('#network line.edge')].length")
    assert widths == 2 * 4 + 4 * 3 + 3 * 2


def test_an_8_by_32_network_stays_readable_without_horizontal_overflow(page, explorer):
    page.set_window_size(1100, 900)
    page.find_element("id", "layers").clear()
    page.find_element("id", "layers").send_keys(",".join(["2"] + ["32"] * 8 + ["2"]))
    click_button(page, "New network")
    wait_for(lambda: len(explorer.session.config["layers"]) == 10)
    click_button(page, "Step")
    wait_for(lambda: present(page, "W_new"))
    overflow = page.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    labels = page.execute_script("return document.querySelectorAll('#network text').length")
    assert labels == 0                           # too many units for labels: their numbers are on hover
    assert not errors(page)


def test_the_address_reopens_the_same_setup(explorer):
    driver = browser()
    try:
        driver.get(explorer.url + "#layers=2,5,2&dataset=xor&activation=tanh&optimizer=momentum"
                                  "&learning_rate=0.05&batch_size=4&seed=3")
        wait_for(lambda: explorer.session.config["dataset"] == "xor" and driver.find_element("id", "status").text)
        assert explorer.session.config == {"layers": [2, 5, 2], "dataset": "xor", "activation": "tanh",
                                           "learning_rate": 0.05, "batch_size": 4, "seed": 3, "optimizer": "momentum",
                                           "noise": 0.0, "test_fraction": 0.0, "l2": 0.0, "features": ["x1", "x2"]}
        assert driver.find_element("id", "layers").get_attribute("value") == "2,5,2"
        assert driver.find_element("id", "optimizer").get_attribute("value") == "momentum"
        assert "optimizer=momentum" in driver.current_url and not errors(driver)
    finally:
        driver.quit()


def test_a_divergence_in_the_page_shows_the_reason_and_the_page_stays_usable(page, explorer):
    explorer.session.model.parameters[...] = 1e306
    click_button(page, "Step")
    assert "diverged" in wait_for(lambda: page.find_element("id", "error").text)
    click_button(page, "New network")
    wait_for(lambda: not page.find_element("id", "error").text)
    click_button(page, "Step")
    wait_for(lambda: present(page, "W_new"))
    assert not [entry for entry in errors(page) if entry["source"] != "network"]   # (the 422 itself is logged)


# ---------------------------------------------------------------------- what TensorFlow Playground has
def test_noise_a_test_split_l2_and_input_features_reach_the_network():
    plain, noisy = Session(seed=1), Session(seed=1, noise=0.2)
    assert np.array_equal(plain.y, noisy.y) and not np.allclose(plain.points, noisy.points)
    session = Session(seed=1, test_fraction=0.3, l2=0.01, features=["x1", "x2", "x1x2", "sin(x1)"],
                      layers=[4, 5, 2])
    assert len(session.test_rows) == 60 and not set(session.test_rows) & set(session.train_rows)
    assert session.model.l2 == 0.01 and session.model.layer_sizes[0] == 4
    P = session.points
    np.testing.assert_array_equal(session.X, np.c_[P[:, 0], P[:, 1], P[:, 0] * P[:, 1], np.sin(P[:, 0])])
    samples = {session.step()["sample"] for _ in range(150)}
    assert samples <= set(session.train_rows.tolist())          # a Step never learns from a test point
    state = session.train(2)
    rows = session.test_rows
    model = session.model
    expected = model.backprop.objective(session.X[rows], model.task_.encode(session.y[rows], np.float64))
    assert state["test_losses"] == [[2, pytest.approx(expected, rel=1e-12)]]
    assert state["test"] == [i in set(rows.tolist()) for i in range(200)]


def test_each_hidden_unit_is_pictured_over_the_plane_with_the_network_s_own_outputs():
    session = Session(seed=0, layers=[2, 3, 4, 2])
    units = session.state()["units"]
    assert [len(layer) for layer in units] == [3, 4] and all(len(v) == 16 * 16 for layer in units for v in layer)
    points = session.points
    low, high = points.min(axis=0) - 0.3, points.max(axis=0) + 0.3
    first = session.model.layers[0].output(session._plane(low, high, 16))
    np.testing.assert_allclose(np.array(units[0]).T, first, atol=5e-4)
    assert Session(layers=[2, 64, 64, 2]).state()["units"] is None          # too many to draw


@pytest.mark.parametrize("settings,message", [
    ({"noise": 0.9}, "noise: expected a number from 0 to 0.5"),
    ({"test_fraction": 0.7}, "test_fraction: expected a number from 0 to 0.5"),
    ({"l2": -1}, "l2: expected a number from 0 to 1"),
    ({"features": ["x1", "x1"]}, "features: expected distinct names"),
    ({"features": ["x1", "x2", "x1^2"]}, "input layer has 3 unit(s)"),
    ({"colour": "red"}, "unknown setting(s) 'colour'"),
])
def test_playground_settings_out_of_range_are_refused_with_the_reason(explorer, settings, message):
    code, reply = call(explorer, "/api/reset", settings)
    assert code == 400 and message in reply["error"]


def test_the_page_sets_noise_a_test_share_l2_and_features_and_draws_the_test_loss_and_units(page, explorer):
    for name, value in (("noise", "0.2"), ("test_fraction", "0.3"), ("l2", "0.001"), ("features", "x1,x2,x1x2")):
        page.find_element("id", name).clear()
        page.find_element("id", name).send_keys(value)
    click_button(page, "New network")
    wait_for(lambda: explorer.session.config["features"] == ["x1", "x2", "x1x2"])
    config = explorer.session.config
    assert (config["noise"], config["test_fraction"], config["l2"], config["layers"][0]) == (0.2, 0.3, 0.001, 3)
    train = page.find_element("xpath", "//button[text()='Train']")
    train.click()
    wait_for(lambda: int(page.find_element("id", "loss").get_attribute("data-test-epochs")) >= 2)
    train.click()
    wait_for(lambda: train.text == "Train")
    assert page.find_elements("css selector", "#loss polyline.test")
    assert len(page.find_elements("css selector", "#units canvas")) == 4 + 3
    assert "features=x1%2Cx2%2Cx1x2" in page.current_url and not errors(page)


def test_a_step_on_a_mini_batch_is_the_library_s_step_on_those_rows_and_its_chain_sums_them(explorer):
    call(explorer, "/api/reset", {"batch_size": 5})
    _, before = call(explorer, "/api/state")
    status, step = call(explorer, "/api/step", {"rows": 5})
    assert status == 200 and len(step["samples"]) == 5 and len(step["x"]) == 5
    model = NeuralNetwork([2, 4, 3, 2], task="classification", optimizer="sgd", learning_rate=0.1)
    for layer, weights in zip(model.layers, before["weights"]):
        layer.W[...], layer.b[...] = weights["W"], weights["b"]
    trace = model.trace(step["x"], np.argmax(step["y"], axis=1), apply=True)
    for mine, theirs in zip(step["layers"], trace.layers):
        np.testing.assert_array_equal(mine["delta"], theirs.delta)
        np.testing.assert_array_equal(mine["W_new"], theirs.W_new)
    status, chain = call(explorer, "/api/weight", {"layer": 3, "row": 0, "col": 1})
    assert status == 200 and chain["rows"] == 5 and len(chain["terms"]) == 5
    assert chain["value"] == pytest.approx(trace.layers[2].dW[0, 1], rel=1e-12, abs=1e-15)
    assert chain["nudge"]["value"] == pytest.approx(chain["dW"], rel=1e-5, abs=1e-9)
    assert call(explorer, "/api/step", {"rows": 6})[0] == 400          # more rows than a batch


def test_the_page_steps_on_a_batch_and_shows_the_sum_over_its_rows(page, explorer):
    Select = pytest.importorskip("selenium.webdriver.support.select").Select
    Select(page.find_element("id", "step_rows")).select_by_value("batch")
    click_button(page, "Step")
    wait_for(lambda: present(page, "W_new"))
    numbers = shown_numbers(page)
    assert gathered(numbers, "x", 0).shape == (10, 2)                   # the default batch: 10 rows
    assert "summed over the 10 rows" in page.find_element("id", "steps").text
    cell = page.find_element("css selector", '#steps [data-quantity="W"][data-layer="3"][data-row="1"][data-col="0"]')
    cell.click()
    chain = wait_for(lambda: page.find_element("css selector", '[data-quantity="chain"][data-layer="3"]'))
    assert float(chain.get_attribute("data-value")) == pytest.approx(numbers[("dW", 3, 1, 0)], rel=1e-12, abs=1e-15)
    assert "Σ over the 10 rows" in page.find_element("id", "chain").text and not errors(page)
