"""Browser journey through the console (Selenium + headless Chromium).

Starts a real `tillyard serve --demo` on a temp data folder and a free loopback port, then walks:
onboard a merchant (apply, upload its documents, submit; another user approves it) -> log in ->
stock in a terminal -> transfer it -> confirm receipt -> bind it to the new merchant -> install it ->
see all of it in the dossier history, in English and in Chinese.
"""
import os

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from conftest import click_and_wait, log_in, log_in_fresh


def sample_png(folder, name):
    """A real 1x1 PNG on disk, for the file input."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + chunk(b"IEND", b""))
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(png)
    return path


def test_onboard_a_merchant_with_documents_and_a_second_reviewer(server, browser, tmp_path):
    log_in_fresh(browser, server, "tech")
    browser.get(server + "/console/merchants")
    form = browser.find_element(By.ID, "apply-form")
    Select(form.find_element(By.ID, "apply-parent")).select_by_visible_text("华东分行 East China Branch")
    values = {"apply-name": "浏览器面包房 Browser Bakery", "apply-code": "M-BROWSER", "f-legal": "浏览器面包房有限公司",
              "f-credit": "91350100M000100Y43", "f-mcc": "5462", "f-area": "2900", "f-address": "上海市徐汇区漕溪北路 1 号",
              "f-lat": "31.19", "f-lon": "121.43", "f-account-name": "浏览器面包房有限公司", "f-bank": "工商银行",
              "f-account": "6222021234567890123", "f-c1-role": "法定代表人", "f-c1-name": "王芳", "f-c1-phone": "13800138000"}
    for field, value in values.items():
        element = form.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    click_and_wait(browser, "apply-submit")
    assert not browser.find_elements(By.ID, "merchant-error"), browser.find_element(By.ID, "merchant-error").text
    assert "Browser Bakery" in browser.find_element(By.ID, "merchant-name").text
    assert "6222 **** **** 0123" in browser.find_element(By.ID, "merchant-facts").text
    assert "6222021234567890123" not in browser.page_source

    # The three required documents, uploaded through the file input.
    for kind, label in [("business_licence", "Business licence"), ("legal_representative_id", "Legal representative's ID"),
                        ("storefront", "Shop front photo")]:
        Select(browser.find_element(By.ID, "upload-kind")).select_by_visible_text(label)
        browser.find_element(By.ID, "upload-file").send_keys(sample_png(str(tmp_path), kind + ".png"))
        click_and_wait(browser, "upload-submit")
        assert not browser.find_elements(By.ID, "merchant-error"), browser.find_element(By.ID, "merchant-error").text
    assert not browser.find_elements(By.ID, "merchant-missing")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#documents-table tbody tr")) == 3
    click_and_wait(browser, "do-submit")
    assert "waiting for review" in browser.find_element(By.ID, "merchant-facts").text
    file_url = browser.current_url

    # Security reviews it from the queue and approves; a MID is assigned.
    log_in_fresh(browser, server, "security")
    browser.get(server + "/console/merchants?status=submitted")
    browser.find_element(By.LINK_TEXT, "浏览器面包房 Browser Bakery").click()
    assert browser.current_url == file_url
    click_and_wait(browser, "do-approve")
    facts = browser.find_element(By.ID, "merchant-facts").text
    assert "approved" in facts and "8982900546" in facts, facts


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
    log_in_fresh(browser, server, "admin")
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
    # Bind to the merchant onboarded above: the five elements come from its approved file.
    merchant = next(option.text for option in Select(browser.find_element(By.ID, "bind-merchant")).options
                    if option.text.startswith("浏览器面包房 Browser Bakery"))
    act(browser, "bind", selects={"merchantId": merchant})
    act(browser, "install", fields={"installer": "吴刚"})

    facts = browser.find_element(By.ID, "dossier-facts").text
    assert "Installed" in facts and "浏览器面包房 Browser Bakery" in facts and "上海市徐汇区漕溪北路 1 号" in facts
    binding = browser.find_element(By.ID, "dossier-binding").text
    assert "6222 **** **** 0123" in binding and "91350100M000100Y43" in binding and "8982900546" in binding
    assert "6222021234567890123" not in browser.page_source
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
