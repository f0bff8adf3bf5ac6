"""Shared fixtures of the browser journeys: a real `tillyard serve --demo` on a temp data folder and a free
loopback port (one per test module), headless Chromium driven by Selenium, and the console login."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("TILLYARD_BINARY", os.path.join(ROOT, ".build", "debug", "tillyard"))
PASSWORD = "Tillyard-demo-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    data = tempfile.mkdtemp(prefix="tillyard-browser-")
    port = free_port()
    env = dict(os.environ, TILLYARD_BCRYPT_COST="4")
    proc = subprocess.Popen([BINARY, "serve", "--demo", "--data-dir", data, "--port", str(port), "--log-level", "warning"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(base + "/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("server did not start: " + proc.stdout.read().decode(errors="replace"))
    yield base
    proc.terminate()
    proc.wait(timeout=20)
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"]:
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    # The driver from Debian's chromium-driver: Selenium must not try to download one.
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def log_in(browser, base, username):
    browser.get(base + "/console/login")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    assert browser.find_element(By.ID, "me-name").text


def log_in_fresh(browser, base, username):
    browser.delete_all_cookies()
    log_in(browser, base, username)


def click_and_wait(browser, button_id):
    """Clicks a submit button and waits until the next page has replaced this one."""
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.ID, button_id).click()

    def replaced(_):
        # Mid-navigation Chrome can answer "Node with given id does not belong to the document"
        # instead of a stale-element error: the old page is gone either way.
        try:
            return expected_conditions.staleness_of(page)(browser)
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise

    WebDriverWait(browser, 20).until(replaced)
