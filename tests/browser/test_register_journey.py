"""Browser journey through the register (/console/register), Selenium + headless Chromium.

A cashier of the demo's Lotus Xuhui opens a shift on a new browser register, scans a barcode, finds a
product by name, weighs bananas (a scale label), pays cash with change and the store's cash rounding,
and sees the stored receipt. Then the API is made unreachable for the page (Chromium blocks /api/v1/*
while the page itself still loads): two cash sales are completed and kept in the browser, the page is
reloaded, the API comes back, and the server holds each sale exactly once with gap-free sequence numbers,
even when one of them is uploaded a second time on purpose.
"""
import datetime
import zoneinfo

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import log_in_fresh

QUEUE = "tillyard.register.queue"


def ean13(body):
    """The EAN-13 of 12 digits (GS1 check digit)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


# Demo goods that no demo promotion touches (weekend drinks, noodles, the evening fresh-food markdown and the
# Christmas rice offer do; member prices only for members), so their totals do not depend on the day.
YOGHURT = ean13("690123456105")  # 光明酸奶 200g, dairy, 5.50, no member price
COLA = ean13("690123456100")  # 可口可乐 330ml, 3.50, member price 3.00
BANANAS_456_G = ean13("20" + "00103" + "00456")  # a scale label: item 00103 (香蕉, 6.98/kg), 456 g


def bananas_net():
    """456 g at 6.98/kg is 3.18; the demo's evening markdown (晚市鲜食八折, 19:00-22:00 in Shanghai) takes 20 % off."""
    gross = (698 * 456 + 500) // 1000
    hour = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")).hour
    return gross - (gross * 2000 + 5000) // 10000 if 19 <= hour < 22 else gross


def yuan(fen):
    return f"{fen // 100}.{fen % 100:02d}"


def call(browser, method, path, body=None):
    """The API from inside the page, with the console session and its CSRF token (as register.js calls it)."""
    return browser.execute_async_script("""
        const [method, path, body, done] = arguments;
        const csrf = document.querySelector('input[name=_csrf]').value;
        const options = {method: method, headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}};
        if (body !== null) { options.body = JSON.stringify(body); }
        fetch(path, options)
          .then(r => r.text().then(t => done({status: r.status, body: t ? JSON.parse(t) : null})))
          .catch(e => done({status: 0, body: String(e)}));
    """, method, path, body)


def wait(browser, condition, timeout=20):
    return WebDriverWait(browser, timeout).until(lambda d: condition())


def shown(browser, element_id):
    return browser.find_element(By.ID, element_id).is_displayed()


def text_of(browser, element_id):
    return browser.find_element(By.ID, element_id).text


def keys(browser, *values):
    """Typed into whatever has the focus, as a scanner or the cashier's keyboard does."""
    browser.switch_to.active_element.send_keys(*values)


def cart_rows(browser):
    return browser.find_elements(By.CSS_SELECTOR, "#reg-cart-lines tr.reg-line")


def priced(browser, total):
    """Waits until the cart is priced at `total`."""
    wait(browser, lambda: text_of(browser, "reg-total") == total and "…" not in text_of(browser, "reg-price-source"))


def queue(browser):
    return browser.execute_script(f"return JSON.parse(localStorage.getItem('{QUEUE}') || '[]')")


def open_register(browser, server):
    """The cashier's register page, with a shift open (opened here with a 500.00 float if there is none)."""
    log_in_fresh(browser, server, "lotus.cashier")
    browser.get(server + "/console/register")
    wait(browser, lambda: text_of(browser, "reg-register-id").startswith("WEB-"))
    wait(browser, lambda: shown(browser, "reg-open-shift") or shown(browser, "reg-sell"))
    if shown(browser, "reg-open-shift"):
        field = browser.find_element(By.ID, "reg-float")
        field.clear()
        field.send_keys("500" + Keys.ENTER)
        wait(browser, lambda: shown(browser, "reg-sell"))
    assert "500.00" in text_of(browser, "reg-shift-state")
    return browser.find_element(By.ID, "reg-store").get_attribute("value"), text_of(browser, "reg-register-id")


def test_cashier_sells_with_scan_search_scale_and_cash_rounding(server, browser):
    browser.set_script_timeout(30)
    log_in_fresh(browser, server, "lotus.cashier")
    browser.get(server + "/console/register")
    browser.execute_script("localStorage.clear()")  # a new till: its own register id, no shift yet
    browser.refresh()
    wait(browser, lambda: shown(browser, "reg-open-shift"))
    assert "F8" in text_of(browser, "reg-keys") and "Esc" in text_of(browser, "reg-keys")
    store, register = open_register(browser, server)

    # The demo store rounds cash down to the jiao (settings version 1, saved by the demo; not changed here).
    settings = call(browser, "GET", f"/api/v1/stores/{store}/register-settings")["body"]
    assert settings["cashRounding"] == {"step": 10, "mode": "down"} and settings["version"] == 1

    # The scan field has the focus: a scanner types the code and Enter.
    assert browser.switch_to.active_element.get_attribute("id") == "reg-scan"
    keys(browser, YOGHURT + Keys.ENTER)
    wait(browser, lambda: len(cart_rows(browser)) == 1)
    priced(browser, "5.50")
    # + and - change the selected line's quantity.
    keys(browser, "+")
    priced(browser, "11.00")
    assert cart_rows(browser)[0].find_element(By.CSS_SELECTOR, "input.reg-qty").get_attribute("value") == "2"
    keys(browser, "-")
    priced(browser, "5.50")

    # A name typed and Enter lists products; Enter takes the highlighted one.
    keys(browser, "生抽" + Keys.ENTER)
    wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#reg-results button.reg-result"))
    assert "Light soy sauce" in browser.switch_to.active_element.text
    keys(browser, Keys.ENTER)
    wait(browser, lambda: len(cart_rows(browser)) == 2)
    # A scale label: 456 g of bananas.
    bananas = bananas_net()
    keys(browser, BANANAS_456_G + Keys.ENTER)
    wait(browser, lambda: len(cart_rows(browser)) == 3)
    assert cart_rows(browser)[2].find_element(By.CSS_SELECTOR, "input.reg-qty").get_attribute("value") == "0.456"
    total = 550 + 890 + bananas
    priced(browser, yuan(total))

    # F4: cash. The customer hands over 20.00; the total is rounded down to the jiao; change is the rest.
    cash_due = total // 10 * 10
    keys(browser, Keys.F4)
    assert browser.switch_to.active_element.get_attribute("id") == "reg-tender-amount"
    assert text_of(browser, "reg-due").startswith(yuan(cash_due))
    keys(browser, "20" + Keys.ENTER)
    wait(browser, lambda: shown(browser, "reg-done"))
    assert text_of(browser, "reg-change") == yuan(2000 - cash_due) and text_of(browser, "reg-done-total") == yuan(cash_due)
    wait(browser, lambda: "receipt" in text_of(browser, "reg-done-state"))
    assert shown(browser, "reg-print")

    # The stored receipt, in the page.
    frame = browser.find_element(By.ID, "reg-receipt")
    wait(browser, lambda: frame.is_displayed())
    browser.switch_to.frame(frame)
    wait(browser, lambda: "光明酸奶" in browser.find_element(By.TAG_NAME, "body").text)
    receipt = browser.find_element(By.TAG_NAME, "body").text
    assert "海天生抽" in receipt and "香蕉" in receipt and yuan(cash_due) in receipt and yuan(2000 - cash_due) in receipt
    browser.switch_to.default_content()

    # The server has it, with the same total, rounding and change.
    sales = call(browser, "GET", f"/api/v1/sales?storeId={store}&registerId={register}")["body"]["items"]
    assert len(sales) == 1
    sale = sales[0]
    assert sale["total"] == cash_due and sale["rounding"] == cash_due - total and sale["change"] == 2000 - cash_due
    assert sale["rounding"] < 0 and sale["registerSeq"] == 1
    assert [line["quantity"] for line in sale["lines"]] == [1000, 1000, 456]
    assert sale["tenders"] == [{"kind": "cash", "amount": cash_due, "tendered": 2000}]
    assert queue(browser) == []

    # Esc: the next sale.
    keys(browser, Keys.ESCAPE)
    wait(browser, lambda: shown(browser, "reg-sell"))
    assert browser.switch_to.active_element.get_attribute("id") == "reg-scan"


def test_offline_cash_sales_are_kept_and_uploaded_exactly_once(server, browser):
    browser.set_script_timeout(30)
    store, register = open_register(browser, server)
    before = call(browser, "GET", f"/api/v1/register-sync?registerId={register}")["body"]
    assert before["missing"] == []
    first_seq = before["lastSeq"] + 1

    # Online, the yoghurt is scanned (the till now knows it); then the API goes away for the page.
    keys(browser, YOGHURT + Keys.ENTER)
    priced(browser, "5.50")
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/v1/*"]})
    try:
        # Sale 1: F8 pays exact cash. It is kept on the till.
        keys(browser, Keys.F8)
        wait(browser, lambda: shown(browser, "reg-done"))
        wait(browser, lambda: "offline" in text_of(browser, "reg-net"))
        assert "network returns" in text_of(browser, "reg-done-state")
        keys(browser, Keys.ESCAPE)
        wait(browser, lambda: shown(browser, "reg-sell"))
        # Card and QR payments need the network: the page says so.
        Select(browser.find_element(By.ID, "reg-tender-kind")).select_by_value("card")
        wait(browser, lambda: shown(browser, "reg-online-only"))
        keys(browser, Keys.F4)
        # Sale 2: scanned offline from what the till has seen, 20.00 given for 11.00.
        browser.find_element(By.ID, "reg-scan").click()
        keys(browser, YOGHURT + Keys.ENTER)
        wait(browser, lambda: len(cart_rows(browser)) == 1)
        keys(browser, "+")
        priced(browser, "11.00")
        assert "Catalog prices" in text_of(browser, "reg-price-source")
        keys(browser, Keys.F4, "20" + Keys.ENTER)
        wait(browser, lambda: shown(browser, "reg-done"))
        assert text_of(browser, "reg-change") == "9.00"
        waiting = queue(browser)
        assert [item["body"]["registerSeq"] for item in waiting] == [first_seq, first_seq + 1]
        assert text_of(browser, "reg-queue-count") == "2"

        # A reload while the API is still away: the queue is in the browser's storage, not in the page.
        browser.refresh()
        wait(browser, lambda: text_of(browser, "reg-queue-count") == "2")
        assert shown(browser, "reg-sell"), "the shift saved on the till serves offline"
        assert [item["body"]["id"] for item in queue(browser)] == [item["body"]["id"] for item in waiting]
    finally:
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})

    # The API is back: the page notices and sends both, in order.
    wait(browser, lambda: queue(browser) == [], timeout=60)
    wait(browser, lambda: text_of(browser, "reg-queue-count") == "0")
    sync = call(browser, "GET", f"/api/v1/register-sync?registerId={register}")["body"]
    assert sync["lastSeq"] == first_seq + 1 and sync["received"] == first_seq + 1 and sync["missing"] == []
    for item, total in zip(waiting, [550, 1100]):
        stored = call(browser, "GET", f"/api/v1/sales/{item['body']['id']}")
        assert stored["status"] == 200 and stored["body"]["total"] == total
        assert stored["body"]["registerSeq"] == item["body"]["registerSeq"]

    # The same upload again (a retry after a lost answer): the same sale, stored once.
    again = call(browser, "POST", "/api/v1/sales", waiting[0]["body"])
    first = call(browser, "GET", f"/api/v1/sales/{waiting[0]['body']['id']}")["body"]
    assert again["status"] == 201 and again["body"]["receiptNumber"] == first["receiptNumber"]
    sales = call(browser, "GET", f"/api/v1/sales?storeId={store}&registerId={register}&limit=200")["body"]["items"]
    ids = [sale["id"] for sale in sales]
    assert len(ids) == len(set(ids)) == first_seq + 1
    assert sorted(sale["registerSeq"] for sale in sales) == list(range(1, first_seq + 2))


def test_member_is_recognised_and_a_refused_sale_is_shown_not_dropped(server, browser):
    browser.set_script_timeout(30)
    store, register = open_register(browser, server)
    keys(browser, Keys.F3, "13800138000" + Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "reg-scan"
    # The phone finds the demo member 王芳: the till shows her masked, with her tier.
    wait(browser, lambda: "138****8000" in text_of(browser, "reg-member-info"))
    member = call(browser, "GET", f"/api/v1/member-lookup?q=13800138000&storeId={store}")["body"]["member"]
    keys(browser, COLA + Keys.ENTER)
    wait(browser, lambda: len(cart_rows(browser)) == 1 and "…" not in text_of(browser, "reg-price-source"))
    shown_total = text_of(browser, "reg-total")
    # The member price (a demo promotion for members) is quoted by the server and shown on the line.
    assert "会员价" in text_of(browser, "reg-cart") and "Priced by the server" in text_of(browser, "reg-price-source")
    keys(browser, Keys.F8)
    wait(browser, lambda: "receipt" in text_of(browser, "reg-done-state"))
    sales = call(browser, "GET", f"/api/v1/sales?storeId={store}&registerId={register}&limit=200")["body"]["items"]
    sale = max(sales, key=lambda s: s["registerSeq"])
    assert sale["memberId"] == member["id"]
    assert sale["lines"][0]["promotionName"] == "会员价" and sale["lines"][0]["discount"] == 50
    yuan, fen = shown_total.split(".")
    assert sale["total"] == (int(yuan) * 100 + int(fen)) // 10 * 10, "the total shown, cash rounded down to the jiao"

    # A sale the server refuses (here: a sequence number the till reused) is shown, not retried forever.
    keys(browser, Keys.ESCAPE)
    browser.execute_script(f"""
        const key = 'tillyard.register.store.{store}';
        const saved = JSON.parse(localStorage.getItem(key));
        saved.seq -= 1;
        localStorage.setItem(key, JSON.stringify(saved));
    """)
    browser.refresh()
    # The page checks the numbering with the server when it starts and never reuses a number.
    wait(browser, lambda: shown(browser, "reg-sell"))
    wait(browser, lambda: browser.execute_script(f"return JSON.parse(localStorage.getItem('tillyard.register.store.{store}')).seq")
         == sale["registerSeq"])
    browser.find_element(By.ID, "reg-scan").click()
    keys(browser, COLA + Keys.ENTER)
    wait(browser, lambda: len(cart_rows(browser)) == 1)
    browser.execute_script(f"""
        const key = 'tillyard.register.store.{store}';
        const saved = JSON.parse(localStorage.getItem(key));
        saved.seq -= 1;
        localStorage.setItem(key, JSON.stringify(saved));
    """)
    keys(browser, Keys.F8)
    wait(browser, lambda: shown(browser, "reg-problems"))
    problem = text_of(browser, "reg-problem-list")
    assert f"#{sale['registerSeq']}" in problem and "already" in problem, problem
    assert "refused" in text_of(browser, "reg-done-state")
    failed = queue(browser)
    assert len(failed) == 1 and failed[0]["state"] == "failed"


def test_mixed_tenders_card_wallet_and_cash(server, browser):
    browser.set_script_timeout(30)
    store, register = open_register(browser, server)
    keys(browser, YOGHURT + Keys.ENTER)
    wait(browser, lambda: len(cart_rows(browser)) == 1)
    keys(browser, "+")
    priced(browser, "11.00")

    # F6: bank card for 3.00, paid on the bank's terminal: last 4 digits, authorisation code and RRN only.
    keys(browser, Keys.F6)
    assert browser.switch_to.active_element.get_attribute("id") == "reg-card-last4"
    keys(browser, "1234")
    browser.find_element(By.ID, "reg-card-auth").send_keys("A12345")
    browser.find_element(By.ID, "reg-card-rrn").send_keys("000000000001")
    browser.find_element(By.ID, "reg-tender-amount").send_keys("3" + Keys.ENTER)
    wait(browser, lambda: "8.00" in text_of(browser, "reg-message"))

    # F7: WeChat Pay for 4.00. A code the simulator declines first (ending 0000), then one it approves.
    keys(browser, Keys.F7)
    assert browser.switch_to.active_element.get_attribute("id") == "reg-wallet-code"
    browser.find_element(By.ID, "reg-tender-amount").send_keys("4")
    browser.find_element(By.ID, "reg-wallet-code").send_keys("134567890123450000" + Keys.ENTER)
    wait(browser, lambda: "declined" in text_of(browser, "reg-message"))
    assert browser.find_element(By.ID, "reg-tender-amount").get_attribute("value") == "4", "kept for the next code"
    browser.find_element(By.ID, "reg-wallet-code").send_keys("134567890123456789" + Keys.ENTER)
    wait(browser, lambda: "4.00" in text_of(browser, "reg-message"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#reg-tenders li")) == 2

    # F4: the rest in cash, 5.00 given for 4.00.
    keys(browser, Keys.F4, "5" + Keys.ENTER)
    wait(browser, lambda: "receipt" in text_of(browser, "reg-done-state"))
    assert text_of(browser, "reg-change") == "1.00"
    sales = call(browser, "GET", f"/api/v1/sales?storeId={store}&registerId={register}&limit=200")["body"]["items"]
    sale = max(sales, key=lambda s: s["registerSeq"])
    assert sale["total"] == 1100 and sale["change"] == 100
    card, wallet, cash = sale["tenders"]
    assert card["kind"] == "card" and card["amount"] == 300 and card["maskedPan"] == "****1234" and card["rrn"] == "000000000001"
    assert wallet["kind"] == "wechat" and wallet["amount"] == 400 and wallet["providerTransactionId"]
    assert cash == {"kind": "cash", "amount": 400, "tendered": 500}
    browser.switch_to.frame(browser.find_element(By.ID, "reg-receipt"))
    wait(browser, lambda: "1234" in browser.find_element(By.TAG_NAME, "body").text)
    browser.switch_to.default_content()


def test_member_found_at_checkout_by_qr_gets_the_member_price_and_points(server, browser):
    browser.set_script_timeout(30)
    store, register = open_register(browser, server)
    card = "880000000001"  # the demo's first member, 王芳
    before = call(browser, "GET", f"/api/v1/member-lookup?q={card}&storeId={store}")["body"]
    member = before["member"]
    assert member["phone"] == "138****8000" and member["name"] == "王*", "a cashier sees masks only"

    # F3, then the member's QR code scanned into the member box.
    keys(browser, Keys.F3, "TYM1:" + card + Keys.ENTER)
    wait(browser, lambda: member["tierName"] in text_of(browser, "reg-member-info"))
    info = text_of(browser, "reg-member-info")
    assert "王*" in info and "138****8000" in info and "13800138000" not in info

    # Two colas at the member price (3.00 instead of 3.50), quoted by the server for this member.
    keys(browser, COLA + Keys.ENTER)
    wait(browser, lambda: len(cart_rows(browser)) == 1)
    keys(browser, "+")
    priced(browser, "6.00")
    assert "会员价" in text_of(browser, "reg-cart")
    keys(browser, Keys.F8)
    wait(browser, lambda: "receipt" in text_of(browser, "reg-done-state"))
    sales = call(browser, "GET", f"/api/v1/sales?storeId={store}&registerId={register}&limit=200")["body"]["items"]
    sale = max(sales, key=lambda s: s["registerSeq"])
    assert sale["memberId"] == member["id"] and sale["total"] == 600 and sale["lines"][0]["discount"] == 100

    # The sale posted the member's points and visit in its own transaction.
    after = call(browser, "GET", f"/api/v1/member-lookup?q={card}&storeId={store}")["body"]
    earned = 6 * before["benefits"]["pointsMultiplier"] // 10000
    assert after["member"]["points"] == member["points"] + earned
    assert after["member"]["visits"] == member["visits"] + 1
    assert after["recent"][0]["saleId"] == sale["id"]

    # Next customer, same member: a yoghurt paid from her stored value (储值).
    keys(browser, Keys.ESCAPE)
    keys(browser, Keys.F3, card + Keys.ENTER)
    wait(browser, lambda: member["tierName"] in text_of(browser, "reg-member-info"))
    keys(browser, YOGHURT + Keys.ENTER)
    priced(browser, "5.50")
    Select(browser.find_element(By.ID, "reg-tender-kind")).select_by_value("stored_value")
    browser.find_element(By.ID, "reg-tender-amount").send_keys(Keys.ENTER)
    wait(browser, lambda: "receipt" in text_of(browser, "reg-done-state"))
    spent = call(browser, "GET", f"/api/v1/member-lookup?q={card}&storeId={store}")["body"]["member"]
    assert spent["storedValue"] == after["member"]["storedValue"] - 550
    sales = call(browser, "GET", f"/api/v1/sales?storeId={store}&registerId={register}&limit=200")["body"]["items"]
    sale = max(sales, key=lambda s: s["registerSeq"])
    assert sale["tenders"] == [{"kind": "stored_value", "amount": 550, "reference": card}]
