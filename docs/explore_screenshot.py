"""Regenerate docs/explore.png, the README's picture of ``backprop explore``.

    python docs/explore_screenshot.py

Needs selenium and Chromium with its driver (Debian: apt-get install chromium chromium-driver).
Trains the default network a few epochs, pauses, takes one Step, follows one weight of the
output layer (its chain rule and nudge), and photographs the page.
"""

import os
import shutil
import threading
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from backpropagation.explore import Explorer, Session

HERE = os.path.dirname(os.path.abspath(__file__))

server = Explorer(Session(seed=0), port=0)
threading.Thread(target=server.serve_forever, daemon=True).start()
options = webdriver.ChromeOptions()
for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1900"):
    options.add_argument(argument)
options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
try:
    driver.get(server.url)
    time.sleep(1)
    train = driver.find_element("xpath", "//button[text()='Train']")
    train.click()
    while int(driver.find_element("id", "loss").get_attribute("data-epochs")) < 40:
        time.sleep(0.1)
    train.click()
    time.sleep(0.5)
    driver.find_element("xpath", "//button[text()='Step']").click()
    time.sleep(1)
    edge = driver.find_element("css selector", '#network line[data-layer="3"][data-row="0"][data-col="1"]')
    driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click'))", edge)
    time.sleep(1)
    driver.save_screenshot(os.path.join(HERE, "explore.png"))
finally:
    driver.quit()
    server.shutdown()
print("wrote docs/explore.png")
