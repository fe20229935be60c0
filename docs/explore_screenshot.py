"""Regenerate the pictures of ``backprop explore`` in docs/ (the README and docs/explore.md show them).

    python docs/explore_screenshot.py

Needs selenium and Chromium with its driver (Debian: apt-get install chromium chromium-driver).
At 1400×900, as a learner's laptop shows it:

- ``explore.png``: the default network trained a few epochs, one Step, one weight of the output
  layer followed (its chain rule beside the nudge);
- ``explore-your-turn.png``: Your turn on, a Step, a wrong number typed and the page's verdict;
- ``explore-health.png``: layer health of a deep sigmoid network with the naive start;
- ``explore-landscape.png``: SGD, momentum and Adam on the loss over two weights, one Adam step opened.
"""

import os
import shutil
import threading
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.select import Select

from backpropagation.explore import Explorer, Session

HERE = os.path.dirname(os.path.abspath(__file__))


def browser():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def button(driver, text):
    driver.find_element("xpath", f"//button[text()='{text}']").click()


def until(condition, timeout=30):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise RuntimeError("the page did not get there")
        time.sleep(0.1)


def scroll_to(driver, element_id):
    driver.execute_script(f"document.getElementById('{element_id}').scrollIntoView()")
    time.sleep(0.4)


def shoot(driver, name):
    driver.save_screenshot(os.path.join(HERE, name))
    print(f"wrote docs/{name}")


def main():
    server = Explorer(Session(seed=0), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    driver = browser()
    try:
        driver.get(server.url)
        until(lambda: driver.find_element("id", "status").text)
        driver.execute_script("localStorage.setItem('explore-guide-hidden', 'true'); location.reload()")
        until(lambda: driver.find_element("id", "status").text)
        button(driver, "Train")
        until(lambda: int(driver.find_element("id", "loss").get_attribute("data-epochs")) >= 40)
        button(driver, "Pause")
        time.sleep(0.5)
        button(driver, "Step")
        time.sleep(1)
        edge = driver.find_element("css selector", '#network line[data-layer="3"][data-row="0"][data-col="1"]')
        driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click'))", edge)
        time.sleep(1)
        scroll_to(driver, "network")
        shoot(driver, "explore.png")

        driver.find_element("id", "your_turn").click()
        button(driver, "Step")
        until(lambda: driver.find_elements("css selector", "input[data-your-turn]"))
        box = driver.find_element("css selector", "input[data-your-turn]")
        box.send_keys("0.1")
        button(driver, "Check")
        until(lambda: driver.find_elements("css selector", '[data-verdict="wrong"], [data-verdict="right"]'))
        scroll_to(driver, "steps")
        shoot(driver, "explore-your-turn.png")
        driver.find_element("id", "your_turn").click()

        for name, value in (("layers", "2,8,8,8,8,2"),):
            driver.find_element("id", name).clear()
            driver.find_element("id", name).send_keys(value)
        Select(driver.find_element("id", "activation")).select_by_value("sigmoid")
        Select(driver.find_element("id", "init")).select_by_value("naive")
        button(driver, "New network")
        time.sleep(1.5)
        scroll_to(driver, "health_panel")
        shoot(driver, "explore-health.png")

        driver.find_element("id", "layers").clear()
        driver.find_element("id", "layers").send_keys("2,4,3,2")
        Select(driver.find_element("id", "activation")).select_by_value("relu")
        Select(driver.find_element("id", "init")).select_by_value("auto")
        button(driver, "New network")
        time.sleep(1)
        Select(driver.find_element("id", "weight_a")).select_by_index(0)
        Select(driver.find_element("id", "weight_b")).select_by_index(4)
        button(driver, "Draw")
        until(lambda: driver.find_element("id", "landscape").get_attribute("data-drawn") == "true")
        point = driver.find_element("css selector", '#landscape .path-point[data-optimizer="adam"][data-step="3"]')
        driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click'))", point)
        time.sleep(0.5)
        scroll_to(driver, "landscape_panel")
        shoot(driver, "explore-landscape.png")
    finally:
        driver.quit()
        server.shutdown()


if __name__ == "__main__":
    main()
