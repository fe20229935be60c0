"""Helpers for the explorer's tests: its JSON API from Python, and the numbers its page shows."""

import json
import urllib.error
import urllib.request

import numpy as np


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


def errors(driver):
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def shown_numbers(driver):
    """{(quantity, layer, row, col): value} of every tagged number; repeats must agree."""
    numbers = {}
    script = ("return [...document.querySelectorAll('[data-quantity][data-value]')].map(e => "
              "[e.dataset.quantity, +e.dataset.layer, +e.dataset.row, +e.dataset.col, e.dataset.value])")
    for quantity, layer, row, col, value in driver.execute_script(script):
        key = (quantity, layer, row, col)
        assert numbers.setdefault(key, float(value)) == float(value), key
    return numbers


def gathered(numbers, quantity, layer):
    cells = {(r, c): v for (q, number, r, c), v in numbers.items() if q == quantity and number == layer}
    rows, cols = max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1
    return np.array([[cells[r, c] for c in range(cols)] for r in range(rows)])


def click_button(driver, text):
    driver.find_element("xpath", f"//button[text()='{text}']").click()


def present(driver, quantity):
    return driver.execute_script(f"return document.querySelectorAll('#steps [data-quantity=\"{quantity}\"]').length")
