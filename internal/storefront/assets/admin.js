// The organizer console's script: event and ticket-type forms, publishing,
// live sales, and the check-in scanner (camera or image, through the
// vendored jsQR; online through POST /v1/checkins, offline against the
// downloaded check-in list and the organizer's public keys, with the scans
// uploaded when the device is back online). Everything goes through the
// JSON API with the access cookie.
'use strict';

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // The shop's script (store.js, loaded first) makes the calls.
  const { api, say, action, money } = window.ticketd;

  // datetime-local inputs show and take the browser's local time.
  const pad = (n) => String(n).padStart(2, '0');
  $$('input[type=datetime-local][data-iso]').forEach((i) => {
    const d = new Date(i.dataset.iso);
    i.value = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  });
  const iso = (v) => (v ? new Date(v).toISOString() : undefined);

  const eventForm = $('form[data-event-form]');
  if (eventForm) {
    eventForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = eventForm;
      const status = $('[data-status]', f);
      const body = {
        title: f.elements.title.value.trim(), description: f.elements.description.value, venueId: f.elements.venueId.value,
        startsAt: iso(f.elements.startsAt.value), endsAt: iso(f.elements.endsAt.value),
        salesStartAt: iso(f.elements.salesStartAt.value), salesEndAt: iso(f.elements.salesEndAt.value),
      };
      say(status, 'Saving…');
      try {
        let e;
        if (f.dataset.id) {
          body.version = parseInt(f.dataset.version, 10);
          e = await api('PATCH', '/v1/events/' + f.dataset.id, body);
        } else {
          e = await api('POST', '/v1/events', body);
        }
        location.assign('/admin/events/' + e.id);
      } catch (err) {
        say(status, err.message, true);
      }
    });
  }

  const typeForm = $('form[data-type-form]');
  if (typeForm) {
    typeForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = typeForm;
      const status = $('[data-status]', f);
      const body = { name: f.elements.name.value.trim(), kind: f.elements.kind.value, price: Math.round(parseFloat(f.elements.price.value || '0') * 100) };
      if (body.kind === 'seated') {
        body.sections = f.elements.sections.value.split(',').map((s) => s.trim()).filter(Boolean);
      } else {
        body.capacity = parseInt(f.elements.capacity.value, 10);
      }
      say(status, 'Adding…');
      try {
        await api('POST', '/v1/events/' + f.dataset.event + '/ticket-types', body);
        location.reload();
      } catch (err) {
        say(status, err.message, true);
      }
    });
  }

  $$('[data-event-action]').forEach((b) => action(b, '/v1/events/' + b.dataset.id + '/' + b.dataset.eventAction, $('[data-action-status]')));

  // Live sales: each event's stock, every 5 s.
  const sales = $('[data-live-sales]');
  if (sales) {
    const prices = {}; // ticket type id -> price, read once per event
    const refresh = () => $$('tr[data-sales-event]', sales).forEach(async (row) => {
      const id = row.dataset.salesEvent;
      try {
        if (!prices[id]) {
          prices[id] = {};
          for (const t of (await api('GET', '/v1/events/' + id + '/ticket-types')).data) prices[id][t.id] = t.price;
        }
        const body = await api('GET', '/v1/events/' + id + '/availability');
        let sold = 0, cap = 0, held = 0, revenue = 0;
        for (const t of body.ticketTypes) {
          sold += t.sold; cap += t.capacity; held += t.held;
          revenue += t.sold * (prices[id][t.ticketTypeId] || 0);
        }
        $('[data-sold]', row).textContent = sold + ' / ' + cap;
        $('[data-held]', row).textContent = String(held);
        $('[data-revenue]', row).textContent = money(revenue, row.dataset.currency);
      } catch (e) { /* the next round */ }
    });
    refresh();
    setInterval(refresh, 5000);
  }

  // The check-in scanner.
  const scanner = $('form[data-scanner]');
  if (!scanner) return;
  const result = $('[data-result]', scanner);
  const info = $('[data-offline-info]', scanner);
  const eventId = () => scanner.elements.event.value;
  const store = {
    get: (k, d) => { try { return JSON.parse(localStorage.getItem(k)) || d; } catch (e) { return d; } },
    set: (k, v) => localStorage.setItem(k, JSON.stringify(v)),
  };
  const listKey = () => 'ticketd-checkin-list:' + eventId();
  const queueKey = () => 'ticketd-checkin-queue:' + eventId();

  // venueTime says a time in the event's venue time zone, named, as the
  // shop does, whatever the device's zone. The API words an online scan's
  // time itself (checkedInAtText); this is for what the device knows
  // offline.
  function venueTime(at) {
    const opt = scanner.elements.event.selectedOptions[0];
    const options = { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit',
      hourCycle: 'h23', timeZoneName: 'short' };
    try {
      return new Intl.DateTimeFormat('en-GB', { ...options, timeZone: (opt && opt.dataset.timezone) || 'UTC' }).format(new Date(at));
    } catch (e) {
      return new Intl.DateTimeFormat('en-GB', { ...options, timeZone: 'UTC' }).format(new Date(at));
    }
  }

  function showInfo() {
    const list = store.get(listKey(), null);
    const queued = store.get(queueKey(), []).length;
    say(info, (navigator.onLine ? 'Online' : 'Offline') + '. Offline list: ' +
      (list ? Object.keys(list.hashes).length + ' tickets, from ' + venueTime(list.at) : 'none') +
      '. Scans waiting to upload: ' + queued + '.');
  }

  const messages = {
    ok: 'Valid ticket: let them in.',
    already_checked_in: 'Already checked in',
    void: 'Void ticket (refunded or cancelled): do not admit.',
    wrong_event: 'Ticket of another event: do not admit.',
    not_found: 'Not a ticket of this organizer: do not admit.',
  };
  function show(r, offline) {
    let text = messages[r.result] || r.result;
    const t = r.ticket || {};
    if (r.result === 'already_checked_in' && t.checkedInAt) {
      text += ' at ' + (t.checkedInAtText || venueTime(t.checkedInAt)) + (t.checkedInGate ? ' (' + t.checkedInGate + ')' : '') + ': do not admit.';
    }
    if (t.ticketTypeName) text += ' ' + t.ticketTypeName + (t.seatLabel ? ', ' + (t.section ? t.section + ' ' : '') + t.seatLabel : '') + (t.attendeeName ? ', ' + t.attendeeName : '') + '.';
    if (offline) text += ' (checked offline)';
    result.textContent = text;
    result.dataset.outcome = r.result;
  }

  const b64url = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  const uuidOf = (b) => { const h = hex(b); return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20); };

  // checkOffline verifies a payload with the cached public keys and looks
  // its secret's hash up in the cached list; a ticket it lets in is marked
  // so that a second scan on this device is refused.
  async function checkOffline(payload) {
    const list = store.get(listKey(), null);
    if (!list) return { result: 'not_found', note: 'no offline list' };
    const m = /^TK1\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(payload);
    if (!m) return { result: 'not_found' };
    const body = b64url(m[1]);
    const sig = b64url(m[2]);
    if (body.length !== 68 || sig.length !== 64) return { result: 'not_found' };
    const version = new DataView(body.buffer).getUint32(0);
    const key = list.keys[version];
    if (!key) return { result: 'not_found' };
    const pub = await crypto.subtle.importKey('raw', b64url(key), { name: 'Ed25519' }, false, ['verify']);
    const signed = new Uint8Array([...new TextEncoder().encode('ticketd ticket v1\0'), ...body]);
    if (!(await crypto.subtle.verify({ name: 'Ed25519' }, pub, sig, signed))) return { result: 'not_found' };
    if (uuidOf(body.slice(20, 36)) !== eventId()) return { result: 'wrong_event' };
    const secret = hex(body.slice(52, 68));
    const h = hex(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret))));
    const entry = list.hashes[h];
    if (!entry) return { result: 'not_found' };
    if (entry.status === 'void') return { result: 'void', ticket: entry };
    if (entry.status === 'checked_in') return { result: 'already_checked_in', ticket: entry };
    entry.status = 'checked_in';
    entry.checkedInAt = new Date().toISOString();
    entry.checkedInGate = scanner.elements.gate.value;
    store.set(listKey(), list);
    return { result: 'ok', ticket: entry };
  }

  async function upload() {
    const queue = store.get(queueKey(), []);
    if (!queue.length || !navigator.onLine) return;
    try {
      await api('POST', '/v1/checkins/batch', { eventId: eventId(), scans: queue.slice(0, 500) });
      store.set(queueKey(), queue.slice(500));
    } catch (e) { /* later */ }
    showInfo();
  }

  let busy = false;
  async function scan(payload) {
    if (busy) return;
    busy = true;
    const gate = scanner.elements.gate.value.trim();
    try {
      if (!navigator.onLine) throw new TypeError('offline');
      show(await api('POST', '/v1/checkins', { eventId: eventId(), payload, gate }), false);
      upload();
    } catch (err) {
      if (err instanceof TypeError) {
        const r = await checkOffline(payload);
        show(r, true);
        const queue = store.get(queueKey(), []);
        queue.push({ payload, gate, scannedAt: new Date().toISOString() });
        store.set(queueKey(), queue);
      } else {
        say(result, err.message, true);
      }
    } finally {
      busy = false;
      showInfo();
    }
  }

  const canvas = $('[data-canvas]', scanner);
  function decode(source, w, h) {
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(source, 0, 0, w, h);
    const code = window.jsQR(ctx.getImageData(0, 0, w, h).data, w, h);
    return code && code.data;
  }

  $('[data-image]', scanner).addEventListener('change', async (ev) => {
    const file = ev.target.files && ev.target.files[0];
    if (!file) return;
    const bitmap = await createImageBitmap(file);
    const payload = decode(bitmap, bitmap.width, bitmap.height);
    ev.target.value = '';
    if (payload) scan(payload); else say(result, 'No QR code found in that image.', true);
  });

  const video = $('[data-video]', scanner);
  $('[data-camera]', scanner).addEventListener('click', async () => {
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
    } catch (err) {
      say(result, 'The camera is not available: ' + err.message, true);
      return;
    }
    video.hidden = false;
    await video.play();
    let last = '';
    const tick = () => {
      if (video.readyState >= 2) {
        const payload = decode(video, video.videoWidth, video.videoHeight);
        if (payload && payload !== last) {
          last = payload;
          scan(payload);
          setTimeout(() => { last = ''; }, 3000);
        }
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });

  $('[data-offline-download]', scanner).addEventListener('click', async () => {
    say(info, 'Downloading the check-in list…');
    try {
      const keys = {};
      for (const k of (await api('GET', '/v1/checkin-keys')).data) if (k.active) keys[k.version] = k.publicKey;
      const hashes = {};
      let cursor = '';
      do {
        const page = await api('GET', '/v1/events/' + eventId() + '/checkin-list?limit=5000' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
        for (const e of page.data) hashes[e.secretHash] = e;
        cursor = page.nextCursor || '';
      } while (cursor);
      store.set(listKey(), { keys, hashes, at: Date.now() });
    } catch (err) {
      say(info, 'The list could not be downloaded: ' + err.message, true);
      return;
    }
    showInfo();
  });

  scanner.elements.event.addEventListener('change', showInfo);
  window.addEventListener('online', upload);
  window.addEventListener('offline', showInfo);
  showInfo();
  upload();
})();
