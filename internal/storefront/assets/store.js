// The storefront's script: it signs in and out, books, pays and cancels
// through the JSON API (the access cookie authenticates it), draws the seat
// map and keeps it live, and counts down a hold. No inline code: the pages'
// content security policy allows only this file.
'use strict';

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // api calls the JSON API and returns the decoded body; an error answer
  // throws an Error whose message is the API's.
  async function api(method, path, body, headers) {
    const init = { method, headers: Object.assign({ Accept: 'application/json' }, headers || {}), credentials: 'same-origin' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!res.ok) {
      const msg = data && data.message ? [].concat(data.message).join(' ') : res.statusText;
      const err = new Error(msg || 'Something went wrong (' + res.status + ')');
      err.status = res.status;
      err.code = data && data.code;
      throw err;
    }
    return data;
  }

  function say(el, text, bad) {
    if (!el) return;
    el.textContent = text;
    el.classList.toggle('bad', !!bad);
  }

  // localPath keeps "next" on this site.
  function localPath(p) {
    return typeof p === 'string' && p.startsWith('/') && !p.startsWith('//') && !p.startsWith('/\\') ? p : '/';
  }

  function money(amount, currency) {
    const whole = Math.trunc(Math.abs(amount) / 100).toLocaleString('en-US');
    const cents = String(Math.abs(amount) % 100).padStart(2, '0');
    return (amount < 0 ? '-' : '') + currency + ' ' + whole + '.' + cents;
  }

  // Signing in and up.
  $$('form[data-auth]').forEach((form) => {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const status = $('[data-status]', form);
      const kind = form.dataset.auth;
      const body = { email: form.email.value.trim(), password: form.password.value };
      if (kind === 'signup') body.name = form.name.value.trim();
      const button = $('button[type=submit]', form);
      button.disabled = true;
      say(status, kind === 'signup' ? 'Creating your account…' : 'Signing in…');
      try {
        await api('POST', '/v1/auth/' + kind, body);
        location.assign(localPath(form.dataset.next));
      } catch (err) {
        say(status, err.message, true);
        button.disabled = false;
      }
    });
  });

  $$('[data-signout]').forEach((b) => b.addEventListener('click', async () => {
    try { await api('POST', '/v1/auth/signout', {}); } catch (e) { /* signed out either way */ }
    location.assign('/');
  }));

  // The seat map: drawn from GET /v1/events/{id}/seats, refreshed every few
  // seconds (the ETag makes an unchanged map a 304), one tab stop with arrow
  // keys between seats, Space or Enter to choose.
  const selected = new Map(); // seat id -> seat
  const map = $('[data-seatmap]');
  const article = $('article[data-event]');
  const SVGNS = 'http://www.w3.org/2000/svg';

  function seatName(s) {
    return s.section + ', row ' + s.row + ', seat ' + s.label.replace(/^.*-/, '');
  }

  function showSelected() {
    const out = $('[data-selected]');
    if (!out) return;
    const seats = Array.from(selected.values());
    out.textContent = seats.length ? seats.map((s) => s.section + ' ' + s.label).join(', ') +
      ' (' + money(seats.reduce((t, s) => t + s.price, 0), article.dataset.currency) + ')' : 'none';
  }

  function seatState(el, s) {
    const taken = s.status !== 'available';
    const chosen = selected.has(s.id);
    el.setAttribute('aria-checked', chosen ? 'true' : 'false');
    el.setAttribute('aria-disabled', taken ? 'true' : 'false');
    el.setAttribute('aria-label', seatName(s) + ', ' + money(s.price, article.dataset.currency) + (taken ? ', taken' : ''));
    el.classList.toggle('taken', taken);
    el.classList.toggle('chosen', chosen);
  }

  function drawSeats(seats) {
    const types = (map.dataset.types || '').split(',');
    const rows = []; // {section, row, seats}
    let last = null;
    for (const s of seats) {
      if (!last || last.section !== s.section || last.row !== s.row) {
        last = { section: s.section, row: s.row, seats: [] };
        rows.push(last);
      }
      last.seats.push(s);
    }
    const gap = 28;
    const width = 60 + gap * Math.max(1, ...rows.map((r) => r.seats.length));
    const svg = document.createElementNS(SVGNS, 'svg');
    let y = 10;
    let section = null;
    const grid = [];
    for (const r of rows) {
      if (r.section !== section) {
        y += section === null ? 24 : 40;
        section = r.section;
        const t = document.createElementNS(SVGNS, 'text');
        t.setAttribute('x', '4');
        t.setAttribute('y', String(y));
        t.setAttribute('class', 'section');
        t.textContent = section;
        svg.appendChild(t);
        y += 10;
      }
      y += gap;
      const label = document.createElementNS(SVGNS, 'text');
      label.setAttribute('x', '4');
      label.setAttribute('y', String(y + 5));
      label.setAttribute('class', 'row');
      label.setAttribute('aria-hidden', 'true');
      label.textContent = r.row;
      svg.appendChild(label);
      const line = [];
      r.seats.forEach((s, i) => {
        const c = document.createElementNS(SVGNS, 'circle');
        c.setAttribute('cx', String(44 + i * gap));
        c.setAttribute('cy', String(y));
        c.setAttribute('r', '11');
        c.setAttribute('role', 'checkbox');
        c.setAttribute('tabindex', '-1');
        c.setAttribute('class', 'seat p' + Math.max(0, types.indexOf(s.ticketTypeId)));
        c.dataset.seat = s.id;
        c.seat = s;
        seatState(c, s);
        svg.appendChild(c);
        line.push(c);
      });
      grid.push(line);
    }
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + (y + 20));
    svg.setAttribute('width', String(width));
    svg.setAttribute('role', 'presentation');
    map.replaceChildren(svg);
    const first = grid.flat().find((c) => c.seat.status === 'available') || grid.flat()[0];
    if (first) first.setAttribute('tabindex', '0');
    map.grid = grid;
  }

  function toggle(c) {
    const s = c.seat;
    if (s.status !== 'available') return;
    if (selected.has(s.id)) selected.delete(s.id); else selected.set(s.id, s);
    seatState(c, s);
    showSelected();
  }

  function focusSeat(c) {
    $$('circle.seat', map).forEach((o) => o.setAttribute('tabindex', '-1'));
    c.setAttribute('tabindex', '0');
    c.focus();
  }

  if (map && article) {
    map.addEventListener('click', (ev) => {
      const c = ev.target.closest('circle.seat');
      if (c) { toggle(c); focusSeat(c); }
    });
    map.addEventListener('keydown', (ev) => {
      const c = ev.target.closest('circle.seat');
      if (!c || !map.grid) return;
      const grid = map.grid;
      const r = grid.findIndex((line) => line.includes(c));
      const i = grid[r].indexOf(c);
      let next = null;
      switch (ev.key) {
        case ' ': case 'Enter': ev.preventDefault(); toggle(c); return;
        case 'ArrowRight': next = grid[r][i + 1]; break;
        case 'ArrowLeft': next = grid[r][i - 1]; break;
        case 'ArrowDown': next = grid[r + 1] && grid[r + 1][Math.min(i, grid[r + 1].length - 1)]; break;
        case 'ArrowUp': next = grid[r - 1] && grid[r - 1][Math.min(i, grid[r - 1].length - 1)]; break;
        default: return;
      }
      ev.preventDefault();
      if (next) focusSeat(next);
    });

    let drawn = false;
    const refresh = async () => {
      try {
        const body = await api('GET', '/v1/events/' + article.dataset.event + '/seats');
        if (!drawn) {
          drawSeats(body.data);
          drawn = true;
        } else {
          const byId = new Map(body.data.map((s) => [s.id, s]));
          $$('circle.seat', map).forEach((c) => {
            const s = byId.get(c.dataset.seat);
            if (!s) return;
            c.seat = s;
            if (s.status !== 'available' && selected.has(s.id)) {
              selected.delete(s.id);
              say($('[data-status]'), seatName(s) + ' was just taken by someone else.', true);
              showSelected();
            }
            seatState(c, s);
          });
        }
      } catch (err) {
        if (!drawn) say($('.loading', map), 'The seat map could not be loaded: ' + err.message, true);
      }
    };
    refresh();
    setInterval(refresh, 2000);
  }

  // Booking: the quantities and seats of the form, with a new
  // Idempotency-Key per attempt (a retry after a lost answer reuses it).
  const buy = $('form[data-buy]');
  if (buy && article) {
    let key = null;
    buy.addEventListener('input', () => { key = null; });
    map && map.addEventListener('click', () => { key = null; });
    buy.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const status = $('[data-status]', buy);
      const items = $$('input[data-ticket-type]', buy)
        .map((i) => ({ ticketTypeId: i.dataset.ticketType, quantity: parseInt(i.value, 10) || 0 }))
        .filter((i) => i.quantity > 0);
      const seats = Array.from(selected.keys());
      if (!items.length && !seats.length) {
        say(status, 'Choose at least one ticket or seat.', true);
        return;
      }
      key = key || (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
      const button = $('button[type=submit]', buy);
      button.disabled = true;
      say(status, 'Holding your tickets…');
      try {
        const b = await api('POST', '/v1/bookings', { eventId: article.dataset.event, items, seats }, { 'Idempotency-Key': key });
        location.assign('/checkout/' + b.id);
      } catch (err) {
        say(status, err.message, true);
        button.disabled = false;
      }
    });
  }

  // Checkout: the hold's countdown, paying, cancelling.
  const countdown = $('[data-countdown]');
  if (countdown) {
    const until = Date.parse(countdown.dataset.countdown);
    const tick = () => {
      const left = Math.max(0, Math.round((until - Date.now()) / 1000));
      const mm = String(Math.floor(left / 60)).padStart(2, '0');
      const ss = String(left % 60).padStart(2, '0');
      countdown.textContent = left > 0 ? 'Your tickets are held for ' + mm + ':' + ss + '.' : 'Your hold ran out: the tickets went back on sale.';
      if (left === 0) {
        $$('[data-pay]').forEach((b) => { b.disabled = true; });
        clearInterval(timer);
      }
    };
    const timer = setInterval(tick, 1000);
    tick();
  }

  $$('[data-pay]').forEach((b) => b.addEventListener('click', async () => {
    const status = $('[data-status]');
    b.disabled = true;
    say(status, 'Opening the payment page…');
    try {
      const out = await api('POST', '/v1/bookings/' + b.dataset.pay + '/payments', {});
      location.assign(out.authorizationUrl);
    } catch (err) {
      say(status, err.message, true);
      b.disabled = false;
    }
  }));

  // action makes button POST to path (after its data-confirm question, if
  // any) and reload the page, or say why not in status.
  function action(button, path, status) {
    button.addEventListener('click', async () => {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      button.disabled = true;
      try {
        await api('POST', path, {});
        location.reload();
      } catch (err) {
        say(status, err.message, true);
        button.disabled = false;
      }
    });
  }
  // The console's script (admin.js) uses the same calls.
  window.ticketd = { api, say, action, money };

  $$('[data-cancel]').forEach((b) => action(b, '/v1/bookings/' + b.dataset.cancel + '/cancel', $('[data-status]')));

  // The return page waits for the payment's verification.
  const poll = $('[data-poll]');
  if (poll) {
    const started = Date.now();
    const check = async () => {
      try {
        const b = await api('GET', '/v1/bookings/' + poll.dataset.poll);
        if (b.status !== 'pending') {
          location.reload();
          return;
        }
      } catch (err) { /* try again */ }
      if (Date.now() - started < 10 * 60 * 1000) setTimeout(check, 1500);
    };
    setTimeout(check, 1000);
  }
})();

// In the widget's frame: tell the page that embeds it how tall it is, and
// keep the availability of its ticket types live.
(function () {
  const embed = document.querySelector('article.embed');
  if (!embed) return;
  const report = () => window.parent.postMessage({ ticketdHeight: document.documentElement.scrollHeight }, '*');
  new ResizeObserver(report).observe(document.body);
  const refresh = async () => {
    try {
      const res = await fetch('/v1/events/' + embed.dataset.event + '/availability', { headers: { Accept: 'application/json' } });
      if (!res.ok) return;
      const body = await res.json();
      for (const t of body.ticketTypes || []) {
        const badge = embed.querySelector('[data-availability="' + t.ticketTypeId + '"]');
        if (badge) badge.textContent = t.available > 0 ? t.available + ' left' : 'Sold out';
      }
    } catch (e) { /* keep what is shown */ }
  };
  refresh();
  setInterval(refresh, 5000);
})();
