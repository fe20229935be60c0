"""``backprop explore``'s data, session and JSON API (no browser): every number is the library's."""

import json

import numpy as np
import pytest
from explore_page import JSON, call, raw

from backpropagation import NeuralNetwork
from backpropagation.cli import main as backprop
from backpropagation.explore import DATASETS, Session, make_dataset


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


def test_the_default_output_layer_fits_the_data_set_and_bad_ports_are_refused(capsys):
    assert Session(dataset="blobs").config["layers"] == [2, 4, 3, 3]
    assert Session().config["layers"] == [2, 4, 3, 2]
    with pytest.raises(SystemExit):
        backprop(["explore", "--port", "99999", "--no-browser"])
    assert "expected a port number from 0 to 65535" in capsys.readouterr().err


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
