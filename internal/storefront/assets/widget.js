// The ticket widget for an organizer's own site:
//
//   <script src="https://<organizer's shop>/widget.js" data-event="<event id>" async></script>
//
// puts the event's ticket picker (the shop's /embed/events/<id> page) in an
// iframe where the script tag is, and sizes it to its content. Buying opens
// the organizer's shop in a new tab, where the buyer signs in and pays.
'use strict';
(function () {
  const me = document.currentScript;
  if (!me || !me.dataset.event) return;
  const origin = new URL(me.src).origin;
  const frame = document.createElement('iframe');
  frame.src = origin + '/embed/events/' + encodeURIComponent(me.dataset.event);
  frame.title = me.dataset.title || 'Tickets';
  frame.loading = 'lazy';
  frame.style.border = '0';
  frame.style.width = '100%';
  frame.style.maxWidth = '32rem';
  frame.style.height = '16rem';
  me.insertAdjacentElement('afterend', frame);
  window.addEventListener('message', (ev) => {
    if (ev.origin !== origin || ev.source !== frame.contentWindow) return;
    const h = ev.data && ev.data.ticketdHeight;
    if (typeof h === 'number' && h > 0 && h < 5000) frame.style.height = Math.ceil(h) + 'px';
  });
})();
