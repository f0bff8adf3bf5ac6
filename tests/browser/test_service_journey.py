"""Browser journey through the service desk (Selenium + headless Chromium).

Starts a real `tillyard serve --demo`, then walks: the hotline (desk) opens a repair ticket by the
merchant number and terminal number a caller gives, and assigns it -> the technician starts it and
closes it with a swap-out (the demo's spare terminal) -> both dossiers show the repair, the faulty
terminal in repair and the spare in service -> the merchant rates it and the ticket is closed.
On the way the technician uploads a photo of the fault, shown on the ticket as a thumbnail.
"""
import struct
import zlib

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from conftest import click_and_wait, log_in_fresh

SPARE = "PAX-SPARE-0001"
REPAIR_LABELS = ("Repair (service ticket)", "维修（服务工单）")


def tiny_png(path):
    """Writes a valid 2x2 red PNG (what a phone photo is to the server: bytes that start as a PNG)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def test_a_repair_opened_by_mid_and_tid_is_closed_with_a_swap_out(server, browser, tmp_path):
    log_in_fresh(browser, server, "desk")
    browser.get(server + "/console/service")
    # The demo's open tickets carry the MID and TID of a terminal at Lotus; a caller would read them off the terminal.
    cell = browser.find_element(By.CSS_SELECTOR, "#tickets-table td.mid-tid[data-tid]:not([data-tid=''])")
    mid, tid = cell.get_attribute("data-mid"), cell.get_attribute("data-tid")
    assert mid and tid
    # The demo's overdue tickets are highlighted.
    assert browser.find_elements(By.CSS_SELECTOR, "#tickets-table tr.breached")

    Select(browser.find_element(By.ID, "ticket-kind")).select_by_value("repair")
    for field, value in {"ticket-mid": mid, "ticket-tid": tid, "ticket-caller": "王芳", "ticket-phone": "13800138000",
                         "ticket-symptom": "屏幕不亮 the screen stays dark"}.items():
        browser.find_element(By.ID, field).send_keys(value)
    click_and_wait(browser, "ticket-submit")
    assert browser.find_element(By.ID, "ticket-state").get_attribute("data-state") == "new"
    ticket_url = browser.current_url
    old_sn = browser.find_element(By.ID, "ticket-terminal-link").text

    Select(browser.find_element(By.ID, "ticket-action")).select_by_value("assign")
    assignee = Select(browser.find_element(By.ID, "ticket-assignee"))
    assignee.select_by_visible_text(next(option.text for option in assignee.options if option.text.startswith("李强 Li Qiang")))
    click_and_wait(browser, "action-submit")
    assert browser.find_element(By.ID, "ticket-state").get_attribute("data-state") == "assigned"

    # The technician starts the work and swaps the terminal for the spare in one step.
    log_in_fresh(browser, server, "tech")
    browser.get(ticket_url)
    Select(browser.find_element(By.ID, "ticket-action")).select_by_value("start")
    click_and_wait(browser, "action-submit")
    assert browser.find_element(By.ID, "ticket-state").get_attribute("data-state") == "in_progress"
    # A photo of the fault: uploaded from the ticket page, shown as a thumbnail that really loads.
    browser.find_element(By.ID, "attachment-file").send_keys(str(tiny_png(tmp_path / "fault.png")))
    click_and_wait(browser, "attachment-submit")
    assert not browser.find_elements(By.CSS_SELECTOR, "p.error")
    thumb = browser.find_element(By.CSS_SELECTOR, "#file-list img.thumb")
    assert thumb.get_attribute("alt") == "fault.png"
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", thumb) == 2
    Select(browser.find_element(By.ID, "repair-diagnosis")).select_by_value("hardware")
    browser.find_element(By.ID, "repair-parts").send_keys("display")
    browser.find_element(By.ID, "repair-result").send_keys("换机 swapped for the spare")
    browser.find_element(By.ID, "repair-replacement").send_keys(SPARE)
    click_and_wait(browser, "repair-submit")
    assert not browser.find_elements(By.CSS_SELECTOR, "p.error"), browser.find_element(By.CSS_SELECTOR, "p.error").text
    assert browser.find_element(By.ID, "ticket-state").get_attribute("data-state") == "resolved"
    assert SPARE in browser.find_element(By.ID, "repair-record").text

    # Both dossiers show the swap-out: the spare in service at the merchant, the faulty one in repair.
    for link in ["replacement-link", "ticket-terminal-link"]:
        browser.get(ticket_url)
        click_and_wait(browser, link)
        page = browser.page_source
        assert any(label in page for label in REPAIR_LABELS), link
        assert (SPARE if link == "replacement-link" else old_sn) in page

    # The merchant confirms with a rating: the ticket is closed.
    log_in_fresh(browser, server, "lotus.owner")
    browser.get(ticket_url)
    Select(browser.find_element(By.ID, "rating-value")).select_by_value("5")
    click_and_wait(browser, "rating-submit")
    assert browser.find_element(By.ID, "ticket-state").get_attribute("data-state") == "closed"

