"""Browser journey through the risk console (Selenium + headless Chromium).

Starts a real `tillyard serve --demo`, then as the security officer: the risk monitor with its server-made SVG
charts (no inline script), a rule switched to shadow mode with new parameters through its form, a back-test
run from the rules page, and the pages in Chinese.
"""
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from conftest import click_and_wait, log_in_fresh


def test_monitor_rules_shadow_mode_and_backtest(server, browser):
    log_in_fresh(browser, server, "security")
    browser.get(server + "/console/risk")
    charts = browser.find_elements(By.CSS_SELECTOR, "#risk-charts svg")
    assert len(charts) == 5, browser.page_source[:2000]
    assert all(chart.get_attribute("role") == "img" for chart in charts)
    assert all(script.get_attribute("src") for script in browser.find_elements(By.TAG_NAME, "script")), "no inline script"
    assert browser.find_element(By.ID, "risk-alerts")

    # A rule goes to shadow mode with a lower threshold: a new version, shown in the table.
    browser.get(server + "/console/risk/rules")
    Select(browser.find_element(By.ID, "mode-card_velocity")).select_by_value("shadow")
    parameters = browser.find_element(By.ID, "parameters-card_velocity")
    parameters.clear()
    parameters.send_keys("minCount=3")
    click_and_wait(browser, "save-card_velocity")
    assert not browser.find_elements(By.CSS_SELECTOR, "p.error"), browser.find_element(By.CSS_SELECTOR, "p.error").text
    table = browser.find_element(By.ID, "risk-rules").text
    assert "Shadow" in table and "minCount=3" in table

    # A back-test over the last 30 days of the demo's history.
    Select(browser.find_element(By.CSS_SELECTOR, "#backtest-form select[name=kind]")).select_by_value("large_amount")
    click_and_wait(browser, "backtest-submit")
    result = browser.find_element(By.ID, "backtest-result").text
    assert "transactions" in result and "alerts" in result

    browser.add_cookie({"name": "tillyard_lang", "value": "zh-CN"})
    browser.get(server + "/console/risk")
    assert "告警队列" in browser.page_source
