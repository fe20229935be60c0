"""``backprop explore``'s page in a real (headless) Chromium.

The browser tests need Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them)
and skip with the reason where they are absent. They read every number the page shows for a
Step (``data-quantity`` elements) and recompute the step with ``NeuralNetwork.trace`` from the
page's own x, y, W and b.
"""

import threading
import time

import numpy as np
import pytest
from browser import browser, wait_for
from explore_page import call, click_button, errors, gathered, present, shown_numbers

from backpropagation import NeuralNetwork


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
    picture = "return document.querySelector('#boundary image').getAttribute('href')"
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


#: How the browser renders the step's last card: "auto" skips it while it is off screen.
CARD_VISIBILITY = "return getComputedStyle([...document.querySelectorAll('#steps .layer')].pop()).contentVisibility"


@pytest.mark.slow
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
    # Two lines an edge (the drawn one and its wider target), nothing more until the pointer comes:
    # a tooltip and a listener per edge made this picture 30,000 elements and a Step take seconds.
    layers = explorer.session.config["layers"]
    edges, units = sum(a * b for a, b in zip(layers, layers[1:])), sum(layers)
    assert page.execute_script("return document.querySelectorAll('#network *').length") <= 2 * edges + 4 * units
    # Its step's cards are laid out as they scroll near (content-visibility), a small network's at once.
    assert page.execute_script(CARD_VISIBILITY) == "auto"
    assert not errors(page)


def test_an_edge_names_its_weight_on_hover_and_follows_it_on_click(page, explorer):
    from selenium.webdriver import ActionChains

    click_button(page, "Step")
    wait_for(lambda: present(page, "W_new"))
    assert page.execute_script(CARD_VISIBILITY) == "visible"
    W = np.array(explorer.session.model.layers[1].W)
    edge = page.find_element("css selector", '#network line.edge[data-layer="2"][data-row="1"][data-col="0"]')
    ActionChains(page).move_to_element(edge).perform()
    tooltip = "const t = arguments[0].querySelector('title'); return t && t.textContent;"
    title = wait_for(lambda: page.execute_script(tooltip, edge))
    assert title.startswith("W²[2,1] = ") and "click to follow its chain rule" in title
    assert float(title.split("= ")[1].split(":")[0]) == pytest.approx(W[1, 0], abs=1e-4)
    page.execute_script("arguments[0].previousElementSibling.dispatchEvent(new MouseEvent('click', {bubbles: true}))",
                        edge)                    # the wider line beside the edge, where a pointer near it lands
    wait_for(lambda: page.find_element("css selector", '[data-quantity="nudge-plus"]'))
    assert "W²[2,1]" in page.find_element("id", "chain").text and not errors(page)


def test_the_picture_keeps_its_edges_while_the_shape_stays_and_their_tooltips_follow_the_weights(page, explorer):
    from selenium.webdriver import ActionChains

    def title_of(edge):
        return page.execute_script("const t = arguments[0].querySelector('title'); return t && t.textContent;", edge)

    start = [np.array(w["W"]) for w in call(explorer, "/api/state")[1]["weights"]]
    page.execute_script("document.querySelectorAll('#network line.edge').forEach((edge) => {"
                        "  edge.dataset.mark = 'kept';"
                        "  edge.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})); })")   # every tooltip made
    assert title_of(page.find_element("css selector", "#network line.edge")).startswith("W¹[1,1] = ")
    for _ in range(2):                          # the picture then shows the weights step 2 started from
        click_button(page, "Step")
        wait_for(lambda: present(page, "W_new"))
    assert not page.find_elements("css selector", "#network line.edge:not([data-mark])")         # the same lines
    numbers = shown_numbers(page)
    now = [gathered(numbers, "W", layer) for layer in range(1, len(start) + 1)]
    layer, row, col = max(((number, i, j) for number, W in enumerate(now) for i, j in np.ndindex(W.shape)),
                          key=lambda at: abs(now[at[0]][at[1:]] - start[at[0]][at[1:]]))
    assert now[layer][row, col] != pytest.approx(start[layer][row, col], abs=1e-3)
    edge = page.find_element("css selector", f'#network line.edge[data-layer="{layer + 1}"][data-row="{row}"]'
                                             f'[data-col="{col}"]')
    ActionChains(page).move_to_element(page.find_element("id", "status")).move_to_element(edge).perform()
    title = wait_for(lambda: title_of(edge))             # made afresh: the old one named the old weight
    assert float(title.split("= ")[1].split(":")[0]) == pytest.approx(now[layer][row, col], abs=1e-4)
    page.find_element("id", "layers").clear()
    page.find_element("id", "layers").send_keys("2,5,2")
    click_button(page, "New network")
    wait_for(lambda: explorer.session.config["layers"] == [2, 5, 2])
    wait_for(lambda: not page.find_elements("css selector", "#network [data-mark]"))       # a new shape: new lines
    assert len(page.find_elements("css selector", "#network line.edge")) == 2 * 5 + 5 * 2 and not errors(page)


def test_the_address_reopens_the_same_setup(explorer):
    driver = browser()
    try:
        driver.get(explorer.url + "#layers=2,5,2&dataset=xor&activation=tanh&optimizer=momentum"
                                  "&learning_rate=0.05&batch_size=4&seed=3")
        wait_for(lambda: explorer.session.config["dataset"] == "xor" and driver.find_element("id", "status").text)
        assert explorer.session.config == {"layers": [2, 5, 2], "dataset": "xor", "activation": "tanh",
                                           "learning_rate": 0.05, "batch_size": 4, "seed": 3, "optimizer": "momentum",
                                           "noise": 0.0, "test_fraction": 0.0, "l2": 0.0, "features": ["x1", "x2"],
                                           "init": "auto"}
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
