"""Browser journey through the console (Selenium + headless Chromium).

Starts a real `tillyard serve --demo` on a temp data folder and a free loopback port, then walks:
log in -> stock in a terminal -> transfer it -> confirm receipt -> bind it to a merchant ->
install it -> see all of it in the dossier history, in English and in Chinese.
"""
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
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

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


def act(browser, action, fields=None, selects=None):
    form = browser.find_element(By.ID, "action-" + action)
    for name, value in (fields or {}).items():
        form.find_element(By.NAME, name).send_keys(value)
    for name, text in (selects or {}).items():
        Select(form.find_element(By.NAME, name)).select_by_visible_text(text)
    form.find_element(By.ID, "do-" + action).click()
    errors = browser.find_elements(By.ID, "dossier-error")
    assert not errors, errors[0].text


def test_stock_in_transfer_bind_install_history(server, browser):
    log_in(browser, server, "admin")
    assert "Dashboard" in browser.title

    # Stock in at the acquirer.
    browser.get(server + "/console/terminals")
    browser.find_element(By.ID, "stock-sn").send_keys("BROWSER-0001")
    browser.find_element(By.ID, "stock-tid").send_keys("88000001")
    Select(browser.find_element(By.ID, "stock-model")).select_by_visible_text("PAX A920 Pro")
    Select(browser.find_element(By.ID, "stock-owner")).select_by_visible_text("演示收单银行 Demo Acquirer Bank")
    browser.find_element(By.ID, "stock-submit").click()
    assert "BROWSER-0001" in browser.find_element(By.ID, "dossier-sn").text

    # Transfer down to the East China branch and confirm receipt there.
    act(browser, "dispatch", selects={"destinationId": "华东分行 East China Branch"})
    act(browser, "receive")
    # Bind to Lotus Supermarket with the five elements, then install.
    act(browser, "bind", fields={"mid": "898310048169999", "creditCode": "91350100M000100Y43",
                                 "settlementAccount": "6222021234567890123", "address": "上海市徐汇区漕溪北路 1 号",
                                 "latitude": "31.19", "longitude": "121.43"},
        selects={"merchantId": "莲花超市 Lotus Supermarket"})
    act(browser, "install", fields={"installer": "吴刚"})

    facts = browser.find_element(By.ID, "dossier-facts").text
    assert "Installed" in facts and "莲花超市 Lotus Supermarket" in facts
    binding = browser.find_element(By.ID, "dossier-binding").text
    assert "6222 **** **** 0123" in binding and "6222021234567890123" not in browser.page_source
    history = browser.find_element(By.ID, "history-table").text
    for step in ["Install", "Bind to merchant", "Confirm receipt", "Dispatch", "Stock in"]:
        assert step in history, step

    # The same dossier in Chinese.
    browser.find_element(By.ID, "lang-switch").click()
    history_zh = browser.find_element(By.ID, "history-table").text
    for step in ["装机", "绑定商户", "确认签收", "出库调拨", "入库"]:
        assert step in history_zh, step


def test_merchant_sees_only_own_terminals(server, browser):
    browser.delete_all_cookies()
    log_in(browser, server, "pearl.owner")
    browser.get(server + "/console/terminals?sn=BROWSER-0001")
    assert "BROWSER-0001" not in browser.find_element(By.ID, "terminals-table").text
    assert not browser.find_elements(By.ID, "stock-in-form")
