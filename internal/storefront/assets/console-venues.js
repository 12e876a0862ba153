// The console's venue form (/admin/venues/new, /admin/venues/{id}): the
// seat-layout editor (sections and rows added and removed from the page's
// <template>s), a preview of the seats drawn as the shop draws its seat map,
// and saving through POST /v1/venues or PATCH /v1/venues/{id}. A stored
// layout is sent again only when it changed: the API refuses a new layout
// while ticket types sell its seats (LAYOUT_IN_USE), and says so. Deleting,
// after a confirmation, goes through DELETE /v1/venues/{id} with the version
// read with the page; the API's refusal (VENUE_IN_USE while events use the
// venue, STALE_VERSION) is said in the same status.
'use strict';

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const { api, say } = window.ticketd;
  const SVGNS = 'http://www.w3.org/2000/svg';

  const form = $('form[data-venue-form]');
  if (!form) return;
  const sections = $('[data-sections]', form);
  const status = $('[data-status]', form);
  const count = $('[data-seat-count]', form);
  const preview = $('[data-preview]', form);

  // fresh copies a <template>'s markup with "__K__" in its ids and labels'
  // targets replaced by a key no control of the page has.
  let keys = 0;
  function fresh(sel) {
    const key = 'n' + (++keys);
    const node = $(sel).content.firstElementChild.cloneNode(true);
    for (const el of [node, ...$$('*', node)]) {
      for (const attr of ['id', 'for', 'list']) {
        if (el.hasAttribute(attr)) el.setAttribute(attr, el.getAttribute(attr).replace('__K__', key));
      }
    }
    return node;
  }

  // seatsOf is a row's seat labels (numbers) as the API will build them.
  function seatsOf(row) {
    const v = $('[data-row-seats]', row).value.trim();
    if ($('[data-row-by]', row).value === 'labels') return v.split(',').map((s) => s.trim()).filter(Boolean);
    const n = /^\d+$/.test(v) ? Math.min(parseInt(v, 10), 1000) : 0;
    return Array.from({ length: n }, (_, i) => String(i + 1));
  }

  // layout is the editor's layout in the API's compact form.
  function layout() {
    return {
      sections: $$('[data-section]', sections).map((s) => ({
        name: $('[data-section-name]', s).value.trim(),
        rows: $$('[data-row]', s).map((r) => {
          const by = $('[data-row-by]', r).value;
          const v = $('[data-row-seats]', r).value.trim();
          return { label: $('[data-row-label]', r).value.trim(), seats: by === 'labels' ? seatsOf(r) : (/^\d+$/.test(v) ? parseInt(v, 10) : v) };
        }),
      })),
    };
  }

  // draw shows the layout's seats as the shop's seat map does (a label per
  // section, one line of circles per row), with the total count.
  function draw() {
    $$('[data-section]', sections).forEach((s, i) => {
      $('legend', s).textContent = 'Section ' + (i + 1) + ($('[data-section-name]', s).value.trim() ? ': ' + $('[data-section-name]', s).value.trim() : '');
      $$('[data-row]', s).forEach((r, j) => { $('legend', r).textContent = 'Row ' + (j + 1) + ' of section ' + (i + 1); });
    });
    const gap = 28;
    const svg = document.createElementNS(SVGNS, 'svg');
    let y = 10;
    let total = 0;
    let widest = 1;
    $$('[data-section]', sections).forEach((s, i) => {
      y += i === 0 ? 24 : 40;
      const t = document.createElementNS(SVGNS, 'text');
      t.setAttribute('x', '4');
      t.setAttribute('y', String(y));
      t.setAttribute('class', 'section');
      t.textContent = $('[data-section-name]', s).value.trim() || 'Section ' + (i + 1);
      svg.appendChild(t);
      y += 10;
      for (const r of $$('[data-row]', s)) {
        const seats = seatsOf(r);
        y += gap;
        const label = document.createElementNS(SVGNS, 'text');
        label.setAttribute('x', '4');
        label.setAttribute('y', String(y + 5));
        label.setAttribute('class', 'row');
        label.textContent = $('[data-row-label]', r).value.trim();
        svg.appendChild(label);
        seats.forEach((_, k) => {
          const c = document.createElementNS(SVGNS, 'circle');
          c.setAttribute('cx', String(44 + k * gap));
          c.setAttribute('cy', String(y));
          c.setAttribute('r', '11');
          c.setAttribute('class', 'seat p' + (i % 5));
          svg.appendChild(c);
        });
        total += seats.length;
        widest = Math.max(widest, seats.length);
      }
    });
    const n = $$('[data-section]', sections).length;
    const width = 60 + gap * widest;
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + (y + 20));
    svg.setAttribute('width', String(width));
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'Preview of the seat layout: ' + total + ' seats in ' + n + ' sections');
    preview.replaceChildren(...(n ? [svg] : []));
    count.dataset.seats = String(total);
    count.textContent = n ? total + (total === 1 ? ' seat' : ' seats') + ' in ' + n + (n === 1 ? ' section' : ' sections') : 'No seat layout: a standing venue with a capacity.';
  }

  function addRow(section) {
    const row = fresh('template[data-new-row]');
    $('[data-rows]', section).appendChild(row);
    draw();
    $('[data-row-label]', row).focus();
  }

  form.addEventListener('click', (ev) => {
    const b = ev.target.closest('button');
    if (!b) return;
    if (b.matches('[data-add-section]')) {
      const s = fresh('template[data-new-section]');
      sections.appendChild(s);
      draw();
      $('[data-section-name]', s).focus();
    } else if (b.matches('[data-add-row]')) {
      addRow(b.closest('[data-section]'));
    } else if (b.matches('[data-remove-row]')) {
      const s = b.closest('[data-section]');
      b.closest('[data-row]').remove();
      draw();
      ($('[data-remove-row]', s) || $('[data-add-row]', s)).focus();
    } else if (b.matches('[data-remove-section]')) {
      b.closest('[data-section]').remove();
      draw();
      ($('[data-remove-section]', sections) || $('[data-add-section]', form)).focus();
    }
  });
  form.addEventListener('input', draw);
  form.addEventListener('change', draw);

  const stored = JSON.stringify(layout());
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const body = { name: f.name.value.trim(), address: f.address.value.trim(), city: f.city.value.trim(), timezone: f.timezone.value.trim() };
    const l = layout();
    if (l.sections.length) {
      if (!form.dataset.id || JSON.stringify(l) !== stored) body.layout = l;
    } else if (form.dataset.id && form.hasAttribute('data-has-layout')) {
      say(status, 'A venue with a seat layout keeps one: add a section, or create a standing venue.', true);
      return;
    } else {
      body.capacity = parseInt(f.capacity.value, 10) || 0;
    }
    const button = $('button[type=submit]', form);
    button.disabled = true;
    say(status, 'Saving…');
    try {
      let v;
      if (form.dataset.id) {
        body.version = parseInt(form.dataset.version, 10);
        v = await api('PATCH', '/v1/venues/' + form.dataset.id, body);
      } else {
        v = await api('POST', '/v1/venues', body);
      }
      location.assign('/admin/venues/' + v.id + '?saved=1');
    } catch (err) {
      say(status, err.message + (err.code ? ' (' + err.code + ')' : ''), true);
      button.disabled = false;
    }
  });

  const remove = $('[data-delete-venue]', form);
  if (remove) {
    remove.addEventListener('click', async () => {
      if (!window.confirm(remove.dataset.confirm)) return;
      remove.disabled = true;
      say(status, 'Deleting…');
      try {
        // No body, but the Content-Type a change authenticated by the
        // cookie must carry (the API's guard against forged requests).
        await api('DELETE', '/v1/venues/' + form.dataset.id + '?version=' + encodeURIComponent(form.dataset.version), undefined,
          { 'Content-Type': 'application/json' });
        location.assign('/admin/venues?deleted=1');
      } catch (err) {
        say(status, err.message + (err.code ? ' (' + err.code + ')' : ''), true);
        remove.disabled = false;
        remove.focus();
      }
    });
  }

  if (new URLSearchParams(location.search).has('saved')) say(status, 'Saved.');
  draw();
})();
