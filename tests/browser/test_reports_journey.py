"""Browser journey through the reports (Selenium + headless Chromium).

Starts a real `tillyard serve --demo`, then: Lotus's owner reads the sales statistics of the demo's two weeks (server-made
SVG charts, a breakdown by payment method, the CSV link, the period comparison) and in Chinese; finance sees the
acquirer dashboard's money and not the fleet; technical staff see the fleet and not the money; the pages have no inline
script and hide the navigation when printed.
"""
from selenium.webdriver.common.by import By

from conftest import log_in_fresh


def test_sales_statistics_and_the_acquirer_dashboard(server, browser):
    log_in_fresh(browser, server, "lotus.owner")
    browser.get(server + "/console/reports?by=tender")
    charts = browser.find_elements(By.CSS_SELECTOR, "#reports-charts svg")
    assert len(charts) == 2, browser.page_source[:2000]
    assert all(chart.get_dom_attribute("viewBox") for chart in charts)
    assert all(script.get_attribute("src") for script in browser.find_elements(By.TAG_NAME, "script")), "no inline script"
    rows = browser.find_element(By.ID, "reports-rows").text
    assert "Cash" in rows and "Total" in rows, rows
    assert "Previous period" in browser.find_element(By.ID, "reports-comparison").text
    links = [a.get_attribute("href") for a in browser.find_elements(By.LINK_TEXT, "CSV")]
    assert any("/api/v1/reports/sales.csv?by=tender" in link for link in links), links
    assert browser.find_elements(By.CSS_SELECTOR, "#reports-top tbody tr"), "the demo's products sell"

    browser.add_cookie({"name": "tillyard_lang", "value": "zh-CN"})
    browser.get(server + "/console/reports?by=tender")
    assert "销售统计" in browser.page_source and "现金" in browser.find_element(By.ID, "reports-rows").text
    browser.delete_cookie("tillyard_lang")

    log_in_fresh(browser, server, "finance")
    browser.get(server + "/console/reports/estate")
    assert browser.find_elements(By.ID, "reports-money") and not browser.find_elements(By.ID, "reports-fleet")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#reports-money-charts svg")) == 3
    assert browser.find_elements(By.CSS_SELECTOR, "#reports-merchants tbody tr td"), "the demo's terminals took payments"

    log_in_fresh(browser, server, "tech")
    browser.get(server + "/console/reports/estate")
    assert browser.find_elements(By.ID, "reports-fleet") and not browser.find_elements(By.ID, "reports-money")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#reports-fleet-charts svg")) == 5
    nav_links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "nav.side a")]
    assert any(link.endswith("/console/reports/estate") for link in nav_links)
    assert not any(link.endswith("/console/reports") for link in nav_links), "technical staff have no sales statistics"
