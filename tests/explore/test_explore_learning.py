"""The explorer hands the step to the learner and never misleads: phases that show only what was
computed, a nudge that can be checked, dead and saturated units named, your turn, layer health,
optimizers on a loss landscape, your own data, a network per tab (in a headless Chromium where
it matters, else through the API)."""

import threading

import numpy as np
import pytest
from browser import browser, wait_for
from explore_page import call, click_button, errors, present, shown_numbers

from backpropagation.explore import Explorer, Session, health, your_turn
from backpropagation.explore.datasets import uploaded


def tab(page, explorer):
    """The server's session of the page's tab."""
    return explorer.sessions[page.execute_script("return sessionStorage.getItem('explore-tab')")]


def weights_now(session):
    return [layer.W.copy() for layer in session.model.layers]


def follow_first_weight(page):
    click_button(page, "Step")
    wait_for(lambda: present(page, "W_new"))
    page.find_element("css selector", '#network line.edge[data-layer="2"][data-row="0"][data-col="0"]').click()
    return wait_for(lambda: page.find_element("css selector", '[data-quantity="nudge-plus"]'))


# ---------------------------------------------------------------------- what misled
def test_the_nudge_shows_both_losses_to_ten_digits_and_their_difference(page, explorer):
    plus = follow_first_weight(page)
    minus = page.find_element("css selector", '[data-quantity="nudge-minus"]')
    difference = page.find_element("css selector", '[data-quantity="nudge-difference"]')
    assert len(plus.text.replace(".", "").replace("-", "").lstrip("0")) >= 10 and plus.text != minus.text
    high, low = float(plus.get_attribute("data-value")), float(minus.get_attribute("data-value"))
    assert float(difference.text) == pytest.approx(high - low, rel=1e-6)
    slope = float(page.find_element("css selector", '[data-quantity="nudge"]').get_attribute("data-value"))
    assert slope == pytest.approx((high - low) / 2e-6, rel=1e-9)


def test_each_phase_shows_only_what_was_computed_and_the_update_waits_for_update(page, explorer):
    session = tab(page, explorer)
    start = weights_now(session)
    click_button(page, "Forward")
    wait_for(lambda: present(page, "z"))
    assert present(page, "delta") == 0 and present(page, "W_new") == 0
    assert not page.find_elements("css selector", '#network [data-quantity="delta"]')      # no δ in the diagram
    click_button(page, "Forward")                                     # again: still nothing trained
    wait_for(lambda: present(page, "z"))
    assert all(np.array_equal(a, b) for a, b in zip(weights_now(session), start)) and session.steps == 0
    assert "not applied yet" in page.find_element("id", "status").text
    click_button(page, "Backward")
    wait_for(lambda: present(page, "delta"))
    assert present(page, "W_new") == 0 and session.steps == 0
    click_button(page, "Update")
    wait_for(lambda: present(page, "W_new"))
    wait_for(lambda: session.steps == 1)
    shown = shown_numbers(page)
    W_new = np.zeros_like(start[0])
    for (quantity, layer, row, col), value in shown.items():
        if quantity == "W_new" and layer == 1:
            W_new[row, col] = value
    np.testing.assert_array_equal(weights_now(session)[0], W_new)     # the update shown is the one made


def test_dead_units_are_flagged_in_the_step_and_the_diagram_and_why_it_matters(page, explorer):
    click_button(page, "Step")
    wait_for(lambda: present(page, "W_new"))
    trace = explorer.session.last[0]
    dead = [int(j) + 1 for j in np.flatnonzero(np.all(trace.layers[0].fprime == 0, axis=0))]
    assert dead, "the default start has dead first-layer units for this sample"
    note = page.find_element("css selector", '#steps [data-note="dead"]').text
    assert "No gradient passes through them" in note and f"{dead[0]}" in note
    marked = page.execute_script(
        "return [...document.querySelectorAll('#network circle[data-health=\"dead\"][data-layer=\"1\"]')]"
        ".map(c => +c.dataset.unit)")
    assert marked == dead


def test_a_saturated_network_says_so_while_it_trains(explorer):
    session = Session(activation="tanh", learning_rate=100.0, seed=0)
    for _ in range(6):
        session.train(1)
    report = session.health()
    assert sum(len(layer["saturated"]) for layer in report["layers"][:-1]) >= 4
    assert len(report["history"]) == 6 and all(h["layers"][0]["saturated"] >= 1 for h in report["history"][-5:])


def test_the_charts_have_axes_a_legend_and_labelled_units(page):
    click_button(page, "Train")
    wait_for(lambda: int(page.find_element("id", "loss").get_attribute("data-epochs")) >= 3)
    click_button(page, "Pause")
    wait_for(lambda: page.find_element("id", "train").text == "Train")
    for chart in ("loss", "boundary"):
        script = f"return [...document.querySelectorAll('#{chart} [data-tick]')].map(t => t.dataset.tick)"
        ticks = page.execute_script(script)
        assert ticks.count("x") >= 2 and ticks.count("y") >= 2, chart
    assert page.find_elements("css selector", "#loss polyline.accuracy")
    fits = page.execute_script("const t = document.querySelector('#loss [data-role=\"loss-label\"]'); "
                               "const s = document.getElementById('loss'); "
                               "return t.getBoundingClientRect().right <= s.getBoundingClientRect().right")
    assert fits
    assert [e.text for e in page.find_elements("css selector", "#legend [data-legend]")] == ["class 1", "class 2"]
    captions = [e.text for e in page.find_elements("css selector", "#units figcaption")]
    assert captions[:2] == ["a¹[1]", "a¹[2]"] and len(captions) == 4 + 3
    assert not errors(page)


def test_sixteen_hidden_units_keep_the_network_above_the_fold_and_numbers_on_one_line(page, explorer):
    page.set_window_size(1400, 900)
    page.find_element("id", "layers").clear()
    page.find_element("id", "layers").send_keys("2,16,16,2")
    click_button(page, "New network")
    wait_for(lambda: explorer.session.config["layers"] == [2, 16, 16, 2])
    click_button(page, "Step")
    wait_for(lambda: present(page, "W_new"))
    page.execute_script("window.scrollTo(0, 0)")
    top = page.execute_script("return document.getElementById('network').getBoundingClientRect().top")
    assert top < 900
    tallest = page.execute_script("return Math.max(...[...document.querySelectorAll('#steps .num')]"
                                  ".map(e => e.getBoundingClientRect().height))")
    assert tallest < 30                            # one line each: no number broken over lines


def test_optimizer_state_before_the_step_is_shown_and_adam_s_first_steps_are_pointed_out(page, explorer):
    from selenium.webdriver.support.select import Select

    Select(page.find_element("id", "optimizer")).select_by_value("adam")
    click_button(page, "New network")
    wait_for(lambda: explorer.session.config["optimizer"] == "adam")
    click_button(page, "Step")
    note = wait_for(lambda: page.find_element("css selector", '[data-note="adam-first-steps"]'))   # (this step's)
    assert "every weight moves by about η" in note.text
    change = np.array([v for (q, _, _, _), v in shown_numbers(page).items() if q == "W_change"])
    moved = change[np.abs(change) > 1e-12]
    np.testing.assert_allclose(np.abs(moved), 0.1, rtol=1e-4)            # ±η at t = 1
    click_button(page, "Step")
    wait_for(lambda: explorer.session.steps == 2)
    state = explorer.session.last[0].layers[0].state_before["m"][0]       # m after the first step: not zero
    assert np.abs(state).max() > 0

    def shows_the_state_before_the_second_step():
        # (the first step's table, with its zero moments, stays on the page until the second is drawn)
        before = {(r, c): v for (q, layer, r, c), v in shown_numbers(page).items()
                  if q == "upd-m_before" and layer == 1}
        return before and all(value == state[r, c] for (r, c), value in before.items())
    wait_for(shows_the_state_before_the_second_step)


def test_the_divergence_message_names_the_button_the_page_has(explorer):
    code, body = call(explorer, "/api/reset", {"learning_rate": 100.0, "activation": "linear", "layers": [2, 8, 8, 2]})
    for _ in range(20):
        code, body = call(explorer, "/api/train", {"epochs": 5})
        if code == 422:
            break
    assert code == 422 and "New network" in body["error"] and "Reset" not in body["error"]


# ---------------------------------------------------------------------- your turn
def test_your_turn_hides_a_number_judges_it_and_names_the_slip(page, explorer):
    page.find_element("id", "your_turn").click()
    click_button(page, "Step")
    box = wait_for(lambda: page.find_element("css selector", "input[data-your-turn]"))
    question = explorer.session.question
    assert box.get_attribute("data-your-turn") == question["quantity"]
    hidden = (f'#steps [data-quantity="{question["quantity"]}"][data-layer="{question["layer"]}"]'
              f'[data-row="{question["row"]}"][data-col="{question["col"]}"]')
    assert not page.find_elements("css selector", hidden)                 # its number left the page
    trace = explorer.session.last[0]
    right = your_turn.expected(trace, question["quantity"], question["layer"], question["row"], question["col"])
    box.send_keys(f"{right + 1:.8g}")
    click_button(page, "Check")
    assert "Not quite" in wait_for(lambda: page.find_element("css selector", '[data-verdict="wrong"]')).text
    box.clear()
    box.send_keys(f"{right:.6g}")
    click_button(page, "Check")
    assert "Right" in wait_for(lambda: page.find_element("css selector", '[data-verdict="right"]')).text


@pytest.mark.parametrize("quantity,slip", [("delta", "alone"), ("delta", "a instead of"), ("dW", "first row only"),
                                           ("W_new", "added the step"), ("velocity", "gradient alone")])
def test_the_usual_slips_are_recognised(quantity, slip):
    session = Session(optimizer="momentum", activation="tanh", batch_size=4, seed=1)
    session.step(1)
    session.step(4)                                       # a velocity to carry, a batch to sum over
    question = session.your_turn([quantity])
    trace = session.last[0]
    assert question["quantity"] == quantity
    for text, wrong in your_turn.slips(trace, quantity, question["layer"], question["row"], question["col"]):
        if slip in text and np.isfinite(wrong):
            verdict = session.check(float(wrong))
            truth = your_turn.expected(trace, quantity, question["layer"], question["row"], question["col"])
            assert not verdict["right"] or your_turn.close(wrong, truth)
            assert verdict["right"] or slip in verdict["message"] or "sign" in verdict["message"]
            break
    else:
        pytest.fail(f"no slip {slip!r} for {quantity}")
    truth = your_turn.expected(trace, quantity, question["layer"], question["row"], question["col"])
    assert session.check(truth)["right"]
    with pytest.raises(ValueError, match="expected a number"):
        session.check(float("nan"))


def test_the_guide_advances_as_the_learner_follows_it(page):
    page.execute_script("localStorage.clear()")
    page.refresh()
    wait_for(lambda: page.find_element("id", "status").text)
    assert page.find_element("id", "guide").is_displayed()
    follow_first_weight(page)
    done = page.execute_script("return [...document.querySelectorAll('#guide [data-guide-step]')]"
                               ".map(li => li.dataset.done === 'true')")
    assert done == [True, True, True, False]


# ---------------------------------------------------------------------- layer health
def test_layer_health_is_trace_s_numbers_and_the_page_draws_it(page, explorer):
    histograms = wait_for(lambda: page.find_elements("css selector", '[data-quantity="histogram"]'))
    assert sorted({h.get_attribute("data-of") for h in histograms}) == ["activations", "gradients"]
    session = tab(page, explorer)
    trace = session.model.trace(session.X[session.train_rows], session.y[session.train_rows])
    first = next(h for h in histograms
                 if h.get_attribute("data-of") == "activations" and h.get_attribute("data-layer") == "1")
    counts, _ = np.histogram(trace.layers[0].a, bins=health.BINS)
    assert np.array_equal(eval(first.get_attribute("data-counts")), counts)       # noqa: S307 (a JSON list)
    dead = int(np.all(trace.layers[0].fprime == 0, axis=0).sum())
    shown = page.find_element("css selector", '#health [data-quantity="dead"][data-layer="1"]')
    shown = shown.get_attribute("data-value")
    assert int(float(shown)) == dead


def test_three_starts_look_clearly_different_in_their_health():
    layers = [2, 16, 16, 16, 16, 2]
    reports = {name: Session(layers=layers, activation=activation, init=init, seed=0).health()["layers"]
               for name, activation, init in (("naive", "sigmoid", "naive"), ("glorot", "sigmoid", "glorot"),
                                              ("he", "relu", "he"))}
    first = {name: report[0]["mean_abs_delta"] / report[-1]["mean_abs_delta"] for name, report in reports.items()}
    assert first["naive"] < 1e-3 * first["he"] and first["glorot"] < 0.1 * first["he"]
    spread = {name: report[3]["spread"] for name, report in reports.items()}
    assert spread["naive"] < 1e-3 * spread["he"]              # sigmoid's fourth layer: every point alike


# ---------------------------------------------------------------------- the landscape
def test_the_landscape_is_the_loss_over_two_weights_and_each_path_step_checks_by_hand():
    session = Session(seed=0)
    result = session.landscape([[1, 0, 0], [1, 0, 1]])
    rows = session.train_rows
    Y = session.model.task_.encode(session.y[rows], session.model.dtype)
    twin = session.model.parameters.copy()
    a, b = result["axes"][0][7], result["axes"][1][11]          # a grid point: the loss with the two weights there
    session.model.layers[0].W[0, 0], session.model.layers[0].W[0, 1] = a, b
    assert result["loss"][11][7] == pytest.approx(session.model.backprop.objective(session.X[rows], Y), rel=1e-12)
    session.model.parameters[...] = twin
    for steps in result["paths"].values():                      # the surface holds every path
        for s in steps:
            assert result["axes"][0][0] <= s["w_new"][0] <= result["axes"][0][-1]
    assert set(result["paths"]) == {"sgd", "momentum", "adam"}
    step = result["paths"]["momentum"][3]
    velocity = 0.9 * np.array(step["before"]["velocity"]) + np.array(step["g"])
    np.testing.assert_allclose(step["after"]["velocity"], velocity, rtol=1e-12)
    np.testing.assert_allclose(step["w_new"], np.array(step["w"]) - 0.1 * velocity, rtol=1e-12)
    assert np.array_equal(session.model.layers[0].W, Session(seed=0).model.layers[0].W)     # the network unchanged
    with pytest.raises(ValueError, match="two different weights"):
        session.landscape([[1, 0, 0], [1, 0, 0]])


def test_the_page_draws_the_paths_live_and_shows_a_step_s_state(page):
    page.find_element("id", "landscape_draw").click()
    wait_for(lambda: page.find_element("id", "landscape").get_attribute("data-drawn") == "true")
    steps = {line.get_attribute("data-optimizer"): int(line.get_attribute("data-steps"))
             for line in page.find_elements("css selector", "#landscape polyline")}
    assert set(steps) == {"sgd", "momentum", "adam"} and min(steps.values()) >= 2
    page.execute_script("document.querySelector('#landscape .path-point[data-optimizer=\"adam\"][data-step=\"2\"]')"
                        ".dispatchEvent(new MouseEvent('click'))")
    box = wait_for(lambda: page.find_element("id", "landscape_steps").text)
    assert "adam, step t = 2" in box and page.find_elements("css selector", '[data-quantity="path-before"]')


# ---------------------------------------------------------------------- your own data
def test_a_small_csv_trains_and_a_bad_one_is_refused_with_the_reason(page, explorer, tmp_path):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(60, 2))
    rows = "\n".join(f"{a:.3f},{b:.3f},{'yes' if a + b > 0 else 'no'}" for a, b in points)
    good = tmp_path / "mine.csv"
    good.write_text("height,weight,answer\n" + rows + "\n")
    page.find_element("css selector", 'input[type=file][data-upload="csv"]').send_keys(str(good))
    wait_for(lambda: explorer.session.config["dataset"] == "uploaded")
    assert explorer.session.data["classes"] == ["no", "yes"] and len(explorer.session.X) == 60
    def legend():
        return page.execute_script(
            "return [...document.querySelectorAll('#legend [data-legend]')].map(e => e.textContent)")
    # (the previous data set's legend stays until the page redraws: wait for the new one, not any)
    wait_for(lambda: legend() == ["no", "yes"])
    click_button(page, "Step")
    wait_for(lambda: present(page, "W_new"))
    bad = tmp_path / "bad.csv"
    bad.write_text("height,weight,answer\n1.0,2.0,yes\nthree,1.0,no\n")
    page.find_element("css selector", 'input[type=file][data-upload="csv"]').send_keys(str(bad))
    message = wait_for(lambda: page.find_element("id", "error").text)
    assert "height" in message and "'three'" in message


@pytest.mark.parametrize("text,message", [
    ("a,b\n1,2\n", "expected three columns"),
    ("a,b,c\n1,2,x\n", "expected 2 to"),
    ("a,b,c\n1,2,x\n3,4,x\n", "holds 1 classes"),
    ("a,b,c\n1,2,\n3,4,y\n", "empty cells"),
    ("x" * 70_000, "larger than 60 kB"),
])
def test_uploads_the_explorer_cannot_use_are_refused_saying_why(text, message):
    with pytest.raises(ValueError, match=message):
        uploaded(text)


# ---------------------------------------------------------------------- one network per tab
def test_each_tab_has_its_own_network_and_settings(explorer, chromium):
    from selenium.webdriver.support.select import Select

    other = browser()
    try:
        for driver in (chromium, other):
            driver.get(explorer.url)
            wait_for(lambda d=driver: d.find_element("id", "status").text)
        Select(other.find_element("id", "dataset")).select_by_value("xor")
        other.find_element("xpath", "//button[text()='New network']").click()
        wait_for(lambda: "xor" in other.find_element("id", "status").text)
        chromium.find_element("xpath", "//button[text()='Step']").click()
        wait_for(lambda: "1 step(s)" in chromium.find_element("id", "status").text)
        assert "moons" in chromium.find_element("id", "status").text
        datasets = sorted(s.config["dataset"] for s in explorer.sessions.values()
                          if s.steps or s.config["dataset"] == "xor")
        assert datasets == ["moons", "xor"]
    finally:
        other.quit()


def test_a_bad_address_or_a_field_that_is_not_a_number_says_which(explorer, chromium):
    chromium.get(explorer.url + "#learning_rate=abc&layers=2,4,2")
    message = wait_for(lambda: chromium.find_element("id", "error").text)
    assert "learning rate: 'abc' is not a number" in message
    assert chromium.find_element("id", "learning_rate").get_attribute("value")        # the controls are filled
    chromium.get("about:blank")
    chromium.get(explorer.url + "#layers=2,4,2&learning_rate=500")
    assert "learning_rate" in wait_for(lambda: chromium.find_element("id", "error").text)
    field = chromium.find_element("id", "seed")
    field.clear()
    field.send_keys("-")
    chromium.find_element("xpath", "//button[text()='New network']").click()
    assert "seed: what was typed is not a number" in wait_for(lambda: chromium.find_element("id", "error").text)
    field.clear()
    chromium.find_element("xpath", "//button[text()='New network']").click()
    assert "seed: empty; expected a number" in wait_for(lambda: chromium.find_element("id", "error").text)


def test_the_server_keeps_a_bounded_number_of_tabs():
    from explore_page import JSON
    import urllib.request

    server = Explorer(Session(seed=0), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for k in range(20):
            request = urllib.request.Request(server.url + "api/state", headers={"X-Explorer-Tab": f"tab-{k}", **JSON})
            urllib.request.urlopen(request).read()
        assert len(server.sessions) == 16 and "tab-19" in server.sessions and "tab-0" not in server.sessions
        bad = urllib.request.Request(server.url + "api/state", headers={"X-Explorer-Tab": "no spaces please"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad)
        assert refused.value.code == 400
    finally:
        server.shutdown()
        server.server_close()
