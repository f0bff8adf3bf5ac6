// Tillyard browser register (/console/register). Plain JavaScript, no libraries.
//
// Exactly once: a sale gets its UUIDv7 id when its cart starts (a wallet charge names it) and its
// register sequence number when it is completed; it is written to localStorage before the first
// upload, and uploaded again with the same body (its id is the idempotency key) until the server
// answers. A 4xx answer stops the retries and is shown to the cashier; nothing is dropped silently.
(function () {
  'use strict';
  var root = document.getElementById('register');
  if (!root) { return; }
  var M = JSON.parse(root.getAttribute('data-messages') || '{}');
  var csrfInput = document.querySelector('input[name=_csrf]');
  var csrf = csrfInput ? csrfInput.value : '';
  var $ = function (id) { return document.getElementById(id); };
  var KEY = 'tillyard.register.';
  var QUEUE = KEY + 'queue';
  var PRODUCTS = KEY + 'products';
  var RETRY_MAX = 60000;
  var REQUEST_TIMEOUT = 20000;

  // ---- Storage -----------------------------------------------------------------------------

  function load(key, fallback) {
    try { var raw = localStorage.getItem(key); return raw ? JSON.parse(raw) : fallback; } catch (e) { return fallback; }
  }
  function save(key, value) { localStorage.setItem(key, JSON.stringify(value)); }

  // ---- Money and ids -----------------------------------------------------------------------

  function money(fen) {
    var sign = fen < 0 ? '-' : '';
    var abs = Math.abs(fen);
    return sign + Math.floor(abs / 100) + '.' + String(abs % 100).padStart(2, '0');
  }
  /** "12.3" → 1230 fen; null when it is not an amount. */
  function parseMoney(text) {
    var value = String(text || '').trim();
    if (!/^\d{1,9}(\.\d{0,2})?$/.test(value)) { return null; }
    var parts = value.split('.');
    return parseInt(parts[0], 10) * 100 + parseInt(((parts[1] || '') + '00').slice(0, 2), 10);
  }
  /** Division rounding half away from zero, as the server's PricingEngine.roundedDivision. */
  function roundedDivision(value, divisor) {
    var half = Math.floor(divisor / 2);
    return value >= 0 ? Math.floor((value + half) / divisor) : -Math.floor((-value + half) / divisor);
  }
  function lineAmount(unitPrice, quantity) { return roundedDivision(unitPrice * quantity, 1000); }
  /** UUIDv7: 48 bits of Unix milliseconds, version 7, variant 10, random rest. */
  function uuidv7() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    var ms = Date.now();
    for (var i = 5; i >= 0; i--) { bytes[i] = ms % 256; ms = Math.floor(ms / 256); }
    bytes[6] = (bytes[6] & 0x0f) | 0x70;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, '0'); }).join('');
    return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' + hex.slice(16, 20) + '-' + hex.slice(20);
  }
  function text(key) {
    var value = M[key] || key;
    for (var i = 1; i < arguments.length; i++) { value = value.replace('{' + (i - 1) + '}', arguments[i]); }
    return value;
  }

  // ---- The API -----------------------------------------------------------------------------

  /** A failed call: `status` 0 when the server could not be reached. */
  function ApiError(status, message) { this.status = status; this.message = message; }
  function problemText(problem, status) {
    if (!problem) { return 'HTTP ' + status; }
    var fields = (problem.errors || []).map(function (e) { return (e.field ? e.field + ': ' : '') + (e.message || ''); });
    return [problem.detail || problem.title].concat(fields).filter(Boolean).join(' · ');
  }
  function api(method, path, body) {
    var options = { method: method, credentials: 'same-origin', headers: { 'Accept': 'application/json' } };
    if (body !== undefined) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    if (method !== 'GET') { options.headers['X-CSRF-Token'] = csrf; }
    // A connection that hangs counts as down: the queue must not wait on it forever (the retry sends the same body).
    var controller = new AbortController();
    options.signal = controller.signal;
    var timer = window.setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT);
    return fetch(path, options).finally(function () { window.clearTimeout(timer); }).then(function (response) {
      setOnline(true);
      return response.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        if (!response.ok) { throw new ApiError(response.status, problemText(data, response.status)); }
        return data;
      });
    }, function () {
      setOnline(false);
      throw new ApiError(0, text('offline'));
    });
  }

  // ---- State -------------------------------------------------------------------------------

  var state = {
    storeId: null, merchantId: null, registerId: null, shift: null, settings: null,
    online: navigator.onLine, cart: null, quote: null, quoting: null, selected: -1, done: null
  };

  function newCart() {
    return { id: uuidv7(), lines: [], tenders: [], memberId: '' };
  }
  function registerKey() { return KEY + 'store.' + state.storeId; }
  /** The register id of this browser at this store (a register belongs to one store). */
  function registerFor(storeId) {
    var saved = load(KEY + 'store.' + storeId, null);
    if (saved && saved.registerId) { return saved; }
    var fresh = { registerId: 'WEB-' + uuidv7().replace(/-/g, '').slice(-10).toUpperCase(), seq: 0 };
    save(KEY + 'store.' + storeId, fresh);
    return fresh;
  }
  /** The next register sequence number, saved before it is used. */
  function takeSeq() {
    var saved = load(registerKey(), { registerId: state.registerId, seq: 0 });
    saved.seq += 1;
    save(registerKey(), saved);
    return saved.seq;
  }

  // ---- Messages and network state ------------------------------------------------------------

  function say(message, good) {
    var el = $('reg-message');
    el.textContent = message || '';
    el.className = 'reg-message' + (message ? (good ? ' ok' : ' error') : '');
  }
  function setOnline(online) {
    if (state.online === online) { return; }
    state.online = online;
    renderStatus();
    renderTenderForm();
  }
  function renderStatus() {
    var net = $('reg-net');
    net.textContent = state.online ? text('online') : text('offline_short');
    net.className = state.online ? 'ok' : 'error';
    var queue = load(QUEUE, []);
    $('reg-queue-count').textContent = String(queue.filter(function (q) { return q.state !== 'failed'; }).length);
    var failed = queue.filter(function (q) { return q.state === 'failed'; });
    $('reg-problems').hidden = failed.length === 0;
    var list = $('reg-problem-list');
    list.textContent = '';
    failed.forEach(function (item) {
      var li = document.createElement('li');
      li.className = 'reg-problem';
      li.textContent = text('problem_line', String(item.body.registerSeq), money(item.body.expectedTotal), item.problem) + ' ';
      var retry = document.createElement('button');
      retry.type = 'button';
      retry.className = 'secondary';
      retry.textContent = text('retry');
      retry.addEventListener('click', function () { changeQueued(item.body.id, function (q) { q.state = 'waiting'; q.next = 0; return q; }); flush(); });
      var drop = document.createElement('button');
      drop.type = 'button';
      drop.className = 'danger';
      drop.textContent = text('discard');
      drop.addEventListener('click', function () {
        if (window.confirm(text('discard_confirm', String(item.body.registerSeq)))) { changeQueued(item.body.id, function () { return null; }); }
      });
      li.appendChild(retry);
      li.appendChild(document.createTextNode(' '));
      li.appendChild(drop);
      list.appendChild(li);
    });
  }
  function changeQueued(id, change) {
    var queue = load(QUEUE, []).map(function (q) { return q.body.id === id ? change(q) : q; }).filter(Boolean);
    save(QUEUE, queue);
    renderStatus();
  }

  // ---- Store, register, shift ----------------------------------------------------------------

  function chooseStore() {
    var select = $('reg-store');
    if (!select || !select.value) { return; }
    var option = select.options[select.selectedIndex];
    state.storeId = select.value;
    state.merchantId = option.getAttribute('data-merchant');
    save(KEY + 'lastStore', state.storeId);
    var register = registerFor(state.storeId);
    state.registerId = register.registerId;
    state.shift = load(KEY + 'shift.' + state.registerId, null);
    state.settings = load(KEY + 'settings.' + state.storeId, null);
    $('reg-register-id').textContent = state.registerId;
    state.cart = newCart();
    state.quote = null;
    renderShift();
    api('GET', '/api/v1/stores/' + state.storeId + '/register-settings').then(function (settings) {
      state.settings = settings;
      save(KEY + 'settings.' + state.storeId, settings);
      renderTotals();
    }, function () { /* the saved settings serve offline */ });
    sync();
  }
  /** What the server knows of this register: the numbering (never reuse a number) and the open shift. */
  function sync() {
    return api('GET', '/api/v1/register-sync?registerId=' + encodeURIComponent(state.registerId)).then(function (answer) {
      var saved = load(registerKey(), { registerId: state.registerId, seq: 0 });
      if (answer.lastSeq > saved.seq) { saved.seq = answer.lastSeq; save(registerKey(), saved); }
      state.shift = answer.openShift || null;
      save(KEY + 'shift.' + state.registerId, state.shift);
      renderShift();
    }, function () { renderShift(); });
  }
  function renderShift() {
    var shift = state.shift;
    $('reg-shift-state').textContent = shift ? text('shift_open', String(shift.number), money(shift.openingFloat)) : text('shift_none');
    $('reg-open-shift').hidden = !!shift;
    $('reg-sell').hidden = !shift || !!state.done;
    $('reg-done').hidden = !state.done;
    renderCart();
    if (shift && !state.done) { focusScan(); }
    if (!shift) { $('reg-float').focus(); }
  }
  function openShift(event) {
    event.preventDefault();
    var float = parseMoney($('reg-float').value);
    if (float === null) { say(text('bad_amount')); return; }
    api('POST', '/api/v1/shifts', { storeId: state.storeId, registerId: state.registerId, openingFloat: float }).then(function (shift) {
      state.shift = shift;
      save(KEY + 'shift.' + state.registerId, shift);
      say(text('shift_opened', String(shift.number)), true);
      renderShift();
    }, function (error) {
      say(error.status === 0 ? text('shift_needs_network') : error.message);
      if (error.status === 409) { sync(); }
    });
  }

  // ---- Products: scan and search ------------------------------------------------------------

  function remember(product) {
    var cache = load(PRODUCTS, {});
    cache[product.id] = { id: product.id, sku: product.sku, nameZh: product.nameZh, nameEn: product.nameEn, price: product.price,
                          unit: product.unit, barcodes: product.barcodes, merchantId: product.merchantId, seen: Date.now() };
    var ids = Object.keys(cache);
    if (ids.length > 2000) {
      ids.sort(function (a, b) { return cache[a].seen - cache[b].seen; }).slice(0, ids.length - 2000).forEach(function (id) { delete cache[id]; });
    }
    save(PRODUCTS, cache);
  }
  /** A product scanned before, for selling while the server is unreachable. */
  function cachedByBarcode(code) {
    var cache = load(PRODUCTS, {});
    var ids = Object.keys(cache);
    for (var i = 0; i < ids.length; i++) {
      var product = cache[ids[i]];
      if (product.merchantId === state.merchantId && (product.barcodes || []).indexOf(code) >= 0) { return product; }
    }
    return null;
  }
  function catalogQuery() { return state.merchantId ? '&merchantId=' + encodeURIComponent(state.merchantId) : ''; }
  function scanOrSearch(event) {
    event.preventDefault();
    var input = $('reg-scan');
    var value = input.value.trim();
    if (!value) { return; }
    input.value = '';
    if (/^\d{6,14}$/.test(value)) { scan(value); } else { search(value); }
  }
  function scan(code) {
    api('GET', '/api/v1/product-scan?code=' + encodeURIComponent(code) + catalogQuery()).then(function (answer) {
      remember(answer.product);
      addLine(answer.product, answer.quantity, answer.fromScale || answer.product.unit === 'weight');
    }, function (error) {
      if (error.status === 0) {
        var product = cachedByBarcode(code);
        if (product && product.unit !== 'weight') { addLine(product, 1000, false); return; }
        say(text('scan_offline', code));
      } else {
        say(error.status === 404 ? text('scan_unknown', code) : error.message);
      }
    });
  }
  function search(query) {
    api('GET', '/api/v1/products?active=true&limit=20&q=' + encodeURIComponent(query) + catalogQuery()).then(function (page) {
      var list = $('reg-results');
      list.textContent = '';
      if (!page.items.length) { say(text('search_none', query)); return; }
      say('');
      page.items.forEach(function (product) {
        var li = document.createElement('li');
        var button = document.createElement('button');
        button.type = 'button';
        button.className = 'reg-result';
        button.textContent = product.nameZh + (product.nameEn ? ' ' + product.nameEn : '') + ' · ' + product.sku + ' · ' + money(product.price) +
          (product.unit === 'weight' ? '/kg' : '');
        button.addEventListener('click', function () {
          remember(product);
          list.textContent = '';
          if (product.unit === 'weight') { say(text('weighed_needs_label')); focusScan(); return; }
          addLine(product, 1000, false);
        });
        li.appendChild(button);
        list.appendChild(li);
      });
      list.querySelector('button').focus();
    }, function (error) { say(error.status === 0 ? text('search_offline') : error.message); });
  }

  // ---- The cart -------------------------------------------------------------------------------

  function addLine(product, quantity, weighed) {
    if (state.cart.tenders.length) { say(text('cart_locked')); return; }
    var lines = state.cart.lines;
    var index = weighed ? -1 : lines.findIndex(function (l) { return l.productId === product.id && !l.weighed; });
    if (index >= 0) {
      lines[index].quantity += quantity;
    } else {
      lines.push({ productId: product.id, sku: product.sku, name: product.nameZh, nameEn: product.nameEn || '', price: product.price,
                   quantity: quantity, weighed: weighed });
      index = lines.length - 1;
    }
    state.selected = index;
    say(text('added', product.nameZh), true);
    changed();
    focusScan();
  }
  function setQuantity(index, quantity) {
    var line = state.cart.lines[index];
    if (!line) { return; }
    if (state.cart.tenders.length) { say(text('cart_locked')); return; }
    if (quantity <= 0) { removeLine(index); return; }
    line.quantity = quantity;
    state.selected = index;
    changed();
  }
  function removeLine(index) {
    if (state.cart.tenders.length) { say(text('cart_locked')); return; }
    state.cart.lines.splice(index, 1);
    state.selected = Math.min(index, state.cart.lines.length - 1);
    changed();
  }
  // ---- Members -------------------------------------------------------------------------------

  /**
   * Looks the typed phone, card number or scanned member QR code up. Until the answer (and offline)
   * the typed text stands for the member, so member prices apply at once; a recognised member's id
   * replaces it, and their tier, balances, offers and latest purchases are shown.
   */
  function findMember(typed) {
    var cart = state.cart;
    cart.memberTyped = typed;
    cart.memberId = typed;
    cart.member = null;
    renderMember();
    changed();
    if (!typed) { return; }
    api('GET', '/api/v1/member-lookup?q=' + encodeURIComponent(typed) + '&storeId=' + encodeURIComponent(state.storeId)).then(function (found) {
      if (state.cart !== cart || cart.memberTyped !== typed) { return; }
      cart.member = found;
      cart.memberId = found.member.id;
      renderMember();
      changed();
    }, function (error) {
      if (state.cart !== cart || cart.memberTyped !== typed) { return; }
      if (error.status === 404) {
        cart.memberId = '';
        say(text('member_none'));
        renderMember();
        changed();
      } else if (error.status !== 0) {
        say(error.message);
      }
    });
  }
  function renderMember() {
    var box = $('reg-member-info');
    if (!box) { return; }
    box.textContent = '';
    var found = state.cart && state.cart.member;
    if (!found) { return; }
    var m = found.member;
    var head = document.createElement('p');
    head.className = 'strong';
    head.textContent = text('member_found') + ' ' + (m.name || '') + ' ' + (m.phone || '') + ' · ' + m.tierName;
    box.appendChild(head);
    var balances = document.createElement('p');
    balances.textContent = m.points + ' ' + text('member_points') + ' · ' + text('member_stored') + ' ' + money(m.storedValue);
    box.appendChild(balances);
    if (found.offers && found.offers.length) {
      var offers = document.createElement('p');
      offers.textContent = text('member_offers') + ': ' + found.offers.map(function (o) { return o.message; }).join(' · ');
      box.appendChild(offers);
    }
    if (found.recent && found.recent.length) {
      var recent = document.createElement('p');
      recent.className = 'muted';
      recent.textContent = text('member_recent') + ': ' + found.recent.slice(0, 3).map(function (p) {
        return p.soldAt.slice(0, 10) + ' ' + money(p.total);
      }).join(' · ');
      box.appendChild(recent);
    }
  }

  function changed() {
    state.quote = null;
    renderCart();
    requote();
  }
  /** The catalog price without promotions: what the till charges when the server cannot price. */
  function localQuote() {
    var lines = state.cart.lines.map(function (line) {
      var gross = lineAmount(line.price, line.quantity);
      return { productId: line.productId, sku: line.sku, nameZh: line.name, quantity: line.quantity, unitPrice: line.price, gross: gross,
               discount: 0, net: gross };
    });
    var gross = lines.reduce(function (sum, l) { return sum + l.gross; }, 0);
    return { source: 'local', lines: lines, gross: gross, discount: 0, total: gross };
  }
  /** Prices the cart on the server (promotions, member prices); the catalog price when it cannot. */
  function requote() {
    var cart = state.cart;
    if (!cart.lines.length) { state.quote = null; state.quoting = null; renderTotals(); return Promise.resolve(null); }
    var body = { storeId: state.storeId, isMember: !!cart.memberId,
                 lines: cart.lines.map(function (l) { return { productId: l.productId, quantity: l.quantity }; }) };
    if (cart.memberId) { body.memberId = cart.memberId; }
    var request = api('POST', '/api/v1/carts/price', body).then(function (answer) {
      answer.source = 'server';
      return answer;
    }, function (error) {
      if (error.status !== 0 && error.status !== 404 && error.status !== 405) { say(error.message); }
      return localQuote();
    }).then(function (quote) {
      if (state.cart === cart && state.quoting === request) {
        state.quote = quote;
        state.quoting = null;
        renderCart();
      }
      return quote;
    });
    state.quoting = request;
    return request;
  }
  function currentQuote() {
    if (state.quoting) { return state.quoting; }
    return state.quote ? Promise.resolve(state.quote) : requote();
  }
  function discountOf(productId, first) {
    if (!state.quote || !first) { return null; }
    var lines = state.quote.lines.filter(function (l) { return l.productId === productId; });
    var discount = lines.reduce(function (sum, l) { return sum + (l.discount || 0); }, 0);
    var names = lines.map(function (l) { return l.promotionName; }).filter(Boolean);
    return { amount: discount, names: names.join(', ') };
  }
  function renderCart() {
    var body = $('reg-cart-lines');
    if (!body || !state.cart) { return; }
    body.textContent = '';
    var lines = state.cart.lines;
    if (!lines.length) {
      var empty = document.createElement('tr');
      var cell = document.createElement('td');
      cell.colSpan = 6;
      cell.className = 'muted';
      cell.textContent = text('empty');
      empty.appendChild(cell);
      body.appendChild(empty);
    }
    var seen = {};
    lines.forEach(function (line, index) {
      var row = document.createElement('tr');
      row.className = 'reg-line' + (index === state.selected ? ' selected' : '');
      row.setAttribute('data-index', String(index));
      var name = document.createElement('td');
      name.textContent = line.name + (line.nameEn ? ' ' + line.nameEn : '');
      var qty = document.createElement('td');
      var input = document.createElement('input');
      input.className = 'reg-qty';
      input.setAttribute('aria-label', text('quantity'));
      input.inputMode = 'decimal';
      input.value = line.weighed ? (line.quantity / 1000).toFixed(3) : String(line.quantity / 1000);
      input.addEventListener('change', function () {
        var value = Number(input.value);
        if (!isFinite(value) || value < 0 || (!line.weighed && Math.round(value) !== value)) { say(text('bad_quantity')); renderCart(); return; }
        setQuantity(index, Math.round(value * 1000));
      });
      qty.appendChild(input);
      if (line.weighed) { qty.appendChild(document.createTextNode(' kg')); }
      var price = document.createElement('td');
      price.textContent = money(line.price);
      var discount = document.createElement('td');
      var found = discountOf(line.productId, !seen[line.productId]);
      seen[line.productId] = true;
      discount.textContent = found && found.amount ? '-' + money(found.amount) + (found.names ? ' ' + found.names : '') : '';
      var amount = document.createElement('td');
      amount.textContent = money(lineAmount(line.price, line.quantity));
      var actions = document.createElement('td');
      [['−', -1], ['+', 1]].forEach(function (pair) {
        if (line.weighed) { return; }
        var step = document.createElement('button');
        step.type = 'button';
        step.className = 'secondary small';
        step.textContent = pair[0];
        step.addEventListener('click', function () { setQuantity(index, line.quantity + pair[1] * 1000); });
        actions.appendChild(step);
      });
      var remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'danger';
      remove.textContent = '×';
      remove.setAttribute('aria-label', text('remove'));
      remove.addEventListener('click', function () { removeLine(index); });
      actions.appendChild(remove);
      [name, qty, price, discount, amount, actions].forEach(function (c) { row.appendChild(c); });
      row.addEventListener('click', function (event) {
        if (event.target.tagName !== 'BUTTON' && event.target.tagName !== 'INPUT') { state.selected = index; renderCart(); }
      });
      body.appendChild(row);
    });
    var source = $('reg-price-source');
    source.textContent = !lines.length ? '' : !state.quote ? text('pricing') : state.quote.source === 'server' ? text('priced_server') : text('priced_local');
    renderTotals();
  }

  // ---- Tenders and totals ------------------------------------------------------------------

  function rounding() { return (state.settings && state.settings.cashRounding) || { step: 1, mode: 'down' }; }
  /** The store's cash rounding, as the server's CashRounding.apply. */
  function roundCash(due) {
    var rule = rounding();
    if (rule.step <= 1 || due <= 0) { return due; }
    return rule.mode === 'nearest' ? Math.floor((due + Math.floor(rule.step / 2)) / rule.step) * rule.step
                                   : Math.floor(due / rule.step) * rule.step;
  }
  /** The settlement as the server's SaleRules.settle makes it: non-cash pays its amounts, cash the rounded rest. */
  function settle(total, tenders) {
    var nonCash = 0, cashGiven = 0, hasCash = false;
    tenders.forEach(function (t) {
      if (t.kind === 'cash') { hasCash = true; cashGiven += t.tendered; } else { nonCash += t.amount; }
    });
    if (!hasCash) { return { covered: nonCash === total, total: total, remaining: total - nonCash, cashDue: roundCash(total - nonCash), change: 0 }; }
    var cashDue = roundCash(total - nonCash);
    return { covered: cashGiven >= cashDue, total: nonCash + cashDue, remaining: Math.max(0, cashDue - cashGiven), cashDue: cashDue,
             change: Math.max(0, cashGiven - cashDue) };
  }
  function renderTotals() {
    if (!state.cart) { return; }
    var quote = state.quote;
    var total = quote ? quote.total : 0;
    $('reg-gross').textContent = money(quote ? quote.gross : 0);
    $('reg-discount').textContent = quote && quote.discount ? '-' + money(quote.discount) : money(0);
    $('reg-total').textContent = money(total);
    var settlement = settle(total, state.cart.tenders);
    var cashNext = $('reg-tender-kind').value === 'cash';
    var due = cashNext ? roundCash(settlement.remaining) : settlement.remaining;
    $('reg-due').textContent = money(due) + (cashNext && due !== settlement.remaining ? ' (' + text('rounded') + ')' : '');
    var list = $('reg-tenders');
    list.textContent = '';
    state.cart.tenders.forEach(function (t) {
      var li = document.createElement('li');
      li.textContent = text('tender_' + t.kind) + ' ' + money(t.kind === 'cash' ? t.tendered : t.amount) +
        (t.maskedPan ? ' · ' + t.maskedPan : '');
      list.appendChild(li);
    });
  }
  function renderTenderForm() {
    var kind = $('reg-tender-kind').value;
    $('reg-card-fields').hidden = kind !== 'card';
    $('reg-wallet-fields').hidden = ['wechat', 'alipay', 'unionpay_qr'].indexOf(kind) < 0;
    $('reg-amount-label').textContent = kind === 'cash' ? text('cash_given') : text('tender_amount');
    var needsNetwork = kind !== 'cash' && !state.online;
    $('reg-online-only').hidden = !needsNetwork;
    renderTotals();
  }
  function chooseTender(kind) {
    $('reg-tender-kind').value = kind;
    renderTenderForm();
    var amount = $('reg-tender-amount');
    amount.value = '';
    amount.focus();
  }
  function addTender(event) {
    if (event) { event.preventDefault(); }
    if (!state.cart.lines.length) { say(text('cart_empty')); return Promise.resolve(); }
    var kind = $('reg-tender-kind').value;
    return currentQuote().then(function (quote) {
      var settlement = settle(quote.total, state.cart.tenders);
      var typed = $('reg-tender-amount').value.trim();
      var amount = typed ? parseMoney(typed) : (kind === 'cash' ? roundCash(settlement.remaining) : settlement.remaining);
      if (amount === null || amount <= 0) { say(text('bad_amount')); return; }
      if (kind === 'cash') {
        state.cart.tenders.push({ kind: 'cash', tendered: amount });
        return tendered();
      }
      if (!state.online) { say(text('needs_network')); return; }
      if (amount > settlement.remaining) { say(text('too_much', money(settlement.remaining))); return; }
      if (kind === 'stored_value' || kind === 'points') {
        // Paid from a recognised member's balance; the server checks the balance again inside the sale's transaction.
        var found = state.cart.member;
        if (!found) { say(text('member_needed')); $('reg-member').focus(); return; }
        var available = kind === 'points' ? found.pointsValue : found.member.storedValue;
        var used = state.cart.tenders.filter(function (t) { return t.kind === kind; }).reduce(function (sum, t) { return sum + t.amount; }, 0);
        if (amount > available - used) { say(text('member_balance_short', money(available - used))); return; }
        state.cart.tenders.push({ kind: kind, amount: amount, reference: found.member.cardNumber });
        return tendered();
      }
      if (kind === 'card') {
        var last4 = $('reg-card-last4').value.trim();
        var auth = $('reg-card-auth').value.trim();
        var rrn = $('reg-card-rrn').value.trim();
        if (!/^\d{4}$/.test(last4)) { say(text('card_last4')); $('reg-card-last4').focus(); return; }
        if (!/^[0-9A-Za-z]{1,12}$/.test(auth)) { say(text('card_auth')); $('reg-card-auth').focus(); return; }
        if (rrn && !/^\d{1,12}$/.test(rrn)) { say(text('card_rrn')); $('reg-card-rrn').focus(); return; }
        var tender = { kind: 'card', amount: amount, maskedPan: last4, authCode: auth };
        if (rrn) { tender.rrn = rrn; }
        state.cart.tenders.push(tender);
        ['reg-card-last4', 'reg-card-auth', 'reg-card-rrn'].forEach(function (id) { $(id).value = ''; });
        return tendered();
      }
      var code = $('reg-wallet-code').value.trim();
      if (!/^\d{10,32}$/.test(code)) { say(text('wallet_code')); $('reg-wallet-code').focus(); return; }
      say(text('wallet_waiting'), true);
      return api('POST', '/api/v1/payments', { saleId: state.cart.id, storeId: state.storeId, method: kind, amount: amount, authCode: code })
        .then(function (payment) {
          $('reg-wallet-code').value = '';
          if (!payment.approved) { say(text('wallet_declined', payment.message || '')); return; }
          state.cart.tenders.push({ kind: kind, amount: amount, providerTransactionId: payment.providerTransactionId });
          return tendered();
        }, function (error) { say(error.status === 0 ? text('needs_network') : error.message); });
    });
  }
  /** After a tender: complete when paid, else ask for the rest. */
  function tendered() {
    $('reg-tender-amount').value = '';
    renderTotals();
    var settlement = settle(state.quote.total, state.cart.tenders);
    if (settlement.covered) { return complete(); }
    say(text('still_due', money(settlement.remaining)));
    $('reg-tender-amount').focus();
  }
  /** F8: pay the rest (exact cash when nothing was tendered yet). */
  function pay() {
    if (!state.cart.lines.length) { say(text('cart_empty')); return; }
    if ($('reg-tender-amount').value.trim() || !state.cart.tenders.length) { addTender(); return; }
    currentQuote().then(function (quote) {
      var settlement = settle(quote.total, state.cart.tenders);
      if (settlement.covered) { complete(); } else { say(text('still_due', money(settlement.remaining))); }
    });
  }

  // ---- Completing and uploading ---------------------------------------------------------------

  function complete() {
    var cart = state.cart;
    var quote = state.quote;
    var settlement = settle(quote.total, cart.tenders);
    var body = {
      id: cart.id, storeId: state.storeId, registerId: state.registerId, registerSeq: takeSeq(), soldAt: new Date().toISOString(),
      lines: quote.lines.map(function (l) {
        var line = { productId: l.productId, quantity: l.quantity, unitPrice: l.unitPrice, discount: l.discount || 0 };
        if (l.promotionId) { line.promotionId = l.promotionId; }
        if (l.promotionName) { line.promotionName = l.promotionName; }
        return line;
      }),
      tenders: cart.tenders, expectedTotal: settlement.total, isMember: !!cart.memberId
    };
    if (state.shift) { body.shiftId = state.shift.id; }
    if (cart.memberId) { body.memberId = cart.memberId; }
    // Stored before the first attempt: from here on the sale survives a reload or a dead network.
    var queue = load(QUEUE, []);
    queue.push({ body: body, state: 'waiting', attempts: 0, next: 0 });
    save(QUEUE, queue);
    state.done = { id: cart.id, total: settlement.total, change: settlement.change, stored: false };
    state.cart = newCart();
    state.quote = null;
    state.selected = -1;
    $('reg-member').value = '';
    renderMember();
    say('');
    renderDone();
    renderShift();
    renderStatus();
    flush();
  }
  function renderDone() {
    var done = state.done;
    if (!done) { return; }
    $('reg-done-total').textContent = money(done.total);
    $('reg-change').textContent = money(done.change);
    var failed = load(QUEUE, []).filter(function (q) { return q.body.id === done.id && q.state === 'failed'; })[0];
    $('reg-done-state').textContent = done.stored ? text('stored', String(done.receiptNumber)) : failed ? text('refused', failed.problem) : text('queued');
    $('reg-done-state').className = done.stored ? 'ok' : 'error';
    var frame = $('reg-receipt');
    var link = $('reg-receipt-link');
    if (done.stored) {
      var url = '/api/v1/sales/' + done.id + '/receipt?format=html';
      if (frame.getAttribute('src') !== url) { frame.setAttribute('src', url); }
      link.href = url;
    }
    frame.hidden = !done.stored;
    link.hidden = !done.stored;
    $('reg-next').focus();
  }
  function nextSale() {
    state.done = null;
    $('reg-receipt').removeAttribute('src');
    renderShift();
  }
  function printReceipt() {
    var frame = $('reg-receipt');
    if (state.done && state.done.stored && frame.contentWindow) { frame.contentWindow.focus(); frame.contentWindow.print(); } else { say(text('print_later')); }
  }

  var flushing = false;
  /** Uploads waiting sales in order, each with the body it was completed with. */
  function flush() {
    if (flushing) { return; }
    flushing = true;
    var step = function () {
      var queue = load(QUEUE, []);
      var now = Date.now();
      var item = queue.filter(function (q) { return q.state === 'waiting' && q.next <= now; })[0];
      if (!item) { flushing = false; renderStatus(); return; }
      api('POST', '/api/v1/sales', item.body).then(function (sale) {
        changeQueued(item.body.id, function () { return null; });
        if (state.done && state.done.id === sale.id) {
          state.done.stored = true;
          state.done.receiptNumber = sale.receiptNumber;
          state.done.change = sale.change;
          state.done.total = sale.total;
          renderDone();
        }
        step();
      }, function (error) {
        if (error.status === 0 || error.status >= 500 || error.status === 401 || error.status === 408 || error.status === 429) {
          // The network or the server is down (or the session ended): try again later, with backoff.
          changeQueued(item.body.id, function (q) {
            q.attempts += 1;
            q.next = Date.now() + Math.min(RETRY_MAX, 1000 * Math.pow(2, q.attempts));
            return q;
          });
          if (error.status === 401) { say(text('signed_out')); }
          flushing = false;
          renderStatus();
          return;
        }
        // Refused: retrying the same body cannot help. Shown until the cashier acts on it.
        changeQueued(item.body.id, function (q) { q.state = 'failed'; q.problem = error.message; return q; });
        renderDone();
        step();
      });
    };
    step();
  }
  function retryNow() {
    var queue = load(QUEUE, []).map(function (q) { if (q.state === 'waiting') { q.next = 0; } return q; });
    save(QUEUE, queue);
    flush();
  }

  // ---- Keyboard ----------------------------------------------------------------------------------

  function focusScan() { var input = $('reg-scan'); if (input && !$('reg-sell').hidden) { input.focus(); } }
  function clear() {
    var input = $('reg-scan');
    if (input.value || $('reg-results').children.length) { input.value = ''; $('reg-results').textContent = ''; focusScan(); return; }
    if (state.cart.tenders.some(function (t) { return t.kind !== 'cash'; })) { say(text('cart_paid')); return; }
    state.cart = newCart();
    state.quote = null;
    state.selected = -1;
    $('reg-member').value = '';
    renderMember();
    say(text('cleared'), true);
    renderCart();
    focusScan();
  }
  function keydown(event) {
    if (!state.shift) { return; }
    if (state.done) {
      if (event.key === 'Escape' || event.key === 'Enter') { event.preventDefault(); nextSale(); }
      return;
    }
    var target = event.target;
    var inScan = target === $('reg-scan');
    var typing = target.tagName === 'INPUT' && !(inScan && !target.value);
    switch (event.key) {
    case 'F2': event.preventDefault(); $('reg-results').textContent = ''; focusScan(); return;
    case 'F3': event.preventDefault(); $('reg-member').focus(); return;
    case 'F4': event.preventDefault(); chooseTender('cash'); return;
    case 'F6': event.preventDefault(); chooseTender('card'); $('reg-card-last4').focus(); return;
    case 'F7': event.preventDefault(); chooseTender('wechat'); $('reg-wallet-code').focus(); return;
    case 'F8': event.preventDefault(); pay(); return;
    case 'Escape': event.preventDefault(); clear(); return;
    }
    if (typing) { return; }
    var index = state.selected;
    if ((event.key === '+' || event.key === '-') && state.cart.lines[index] && !state.cart.lines[index].weighed) {
      event.preventDefault();
      setQuantity(index, state.cart.lines[index].quantity + (event.key === '+' ? 1000 : -1000));
    } else if (event.key === 'Delete' && state.cart.lines[index]) {
      event.preventDefault();
      removeLine(index);
    } else if ((event.key === 'ArrowDown' || event.key === 'ArrowUp') && target.classList.contains('reg-result')) {
      event.preventDefault();
      var li = target.parentElement[event.key === 'ArrowDown' ? 'nextElementSibling' : 'previousElementSibling'];
      if (li) { li.firstChild.focus(); } else if (event.key === 'ArrowUp') { focusScan(); }
    } else if ((event.key === 'ArrowDown' || event.key === 'ArrowUp') && inScan) {
      event.preventDefault();
      var first = $('reg-results').querySelector('button');
      if (first && event.key === 'ArrowDown') { first.focus(); return; }
      var count = state.cart.lines.length;
      if (count) { state.selected = (index + (event.key === 'ArrowDown' ? 1 : count - 1)) % count; renderCart(); }
    }
  }

  // ---- Start -----------------------------------------------------------------------------------

  var select = $('reg-store');
  if (!select || !select.options.length) { renderStatus(); return; }
  var last = load(KEY + 'lastStore', null);
  for (var i = 0; i < select.options.length; i++) { if (select.options[i].value === last) { select.selectedIndex = i; } }
  select.addEventListener('change', chooseStore);
  $('reg-open-shift').addEventListener('submit', openShift);
  $('reg-scan-form').addEventListener('submit', scanOrSearch);
  $('reg-tender-form').addEventListener('submit', addTender);
  $('reg-tender-kind').addEventListener('change', renderTenderForm);
  $('reg-pay').addEventListener('click', pay);
  $('reg-next').addEventListener('click', nextSale);
  $('reg-print').addEventListener('click', printReceipt);
  $('reg-member').addEventListener('change', function () {
    if (state.cart.tenders.length) { say(text('cart_locked')); $('reg-member').value = state.cart.memberTyped || ''; return; }
    findMember($('reg-member').value.trim());
  });
  $('reg-member').addEventListener('keydown', function (event) {
    if (event.key === 'Enter') { event.preventDefault(); $('reg-member').blur(); focusScan(); }
  });
  document.addEventListener('keydown', keydown);
  window.addEventListener('online', function () { setOnline(true); retryNow(); });
  window.addEventListener('offline', function () { setOnline(false); });
  chooseStore();
  renderTenderForm();
  renderStatus();
  // Waiting sales go up whenever the network lets them (a retry every few seconds, each sale backing off).
  window.setInterval(function () {
    flush();
    // Offline, a cheap API read tells when the server can be reached again (the page itself may still load).
    if (!state.online) { api('GET', '/api/v1/register-sync?registerId=' + encodeURIComponent(state.registerId)).then(retryNow, function () {}); }
  }, 3000);
  flush();
}());
