// The console's pages of bookings, payments, refunds and accounts: each
// change (verify a payment, refund, retry a refund, review, decide about a
// booking under review, change a role) is a call of the JSON API with the
// access cookie, so the API's rules hold; its answer is said in the page's
// status region and the page reloaded to show what is stored now.
'use strict';

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // The shop's script (store.js, loaded first) makes the calls.
  const { api, say } = window.ticketd;
  const status = $('[data-status]');
  const newKey = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());

  // run disables button while call runs; an error is said in the status
  // region and the button given back, success says done and reloads the
  // page.
  async function run(button, busy, call, done) {
    button.disabled = true;
    say(status, busy);
    try {
      await call();
      say(status, done);
      location.reload();
    } catch (err) {
      say(status, err.message + (err.code ? ' (' + err.code + ')' : ''), true);
      button.disabled = false;
    }
  }

  // Verifying says what Paystack answered before the page shows it stored.
  $$('[data-verify]').forEach((b) => b.addEventListener('click', async () => {
    const ref = b.dataset.verify;
    b.disabled = true;
    say(status, 'Asking Paystack about ' + ref + '…');
    try {
      const out = await api('POST', '/v1/payments/' + encodeURIComponent(ref) + '/verify', {});
      say(status, ref + ': ' + out.payment.status + (out.final ? '' : ', not final yet: ask again later') +
        '; the booking is ' + out.booking.status + '.');
      setTimeout(() => location.reload(), 1500);
    } catch (err) {
      say(status, err.message + (err.code ? ' (' + err.code + ')' : ''), true);
      b.disabled = false;
    }
  }));

  $$('[data-retry-refund]').forEach((b) => b.addEventListener('click', () => {
    run(b, 'Retrying the refund…', () => api('POST', '/v1/refunds/' + b.dataset.retryRefund + '/retry', {}), 'Refund queued again.');
  }));

  // Refunds send an Idempotency-Key per attempt: a retry after a lost
  // answer gets the same refund instead of a second one.
  const refund = $('form[data-refund-form]');
  if (refund) {
    let key = null;
    refund.addEventListener('input', () => { key = null; });
    refund.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const f = refund.elements;
      const body = { reason: f.reason.value.trim() };
      if (!body.reason) {
        say(status, 'Give a reason for the refund.', true);
        f.reason.focus();
        return;
      }
      if (f.amount.value !== '') {
        body.amount = Math.round(parseFloat(f.amount.value) * 100);
        if (!(body.amount > 0)) {
          say(status, 'The amount must be more than 0, or empty to refund all that is left.', true);
          f.amount.focus();
          return;
        }
      }
      key = key || newKey();
      const question = body.amount === undefined ? 'Refund all that is left of this booking? Its tickets become void.' : null;
      if (question && !window.confirm(question)) return;
      run($('button[type=submit]', refund), 'Asking for the refund…',
        () => api('POST', '/v1/bookings/' + refund.dataset.booking + '/refunds', body, { 'Idempotency-Key': key }), 'Refund queued.');
    });
  }

  const review = $('form[data-review-form]');
  if (review) {
    review.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const note = review.elements.note.value.trim();
      if (!note) {
        say(status, 'Write a note for the review.', true);
        review.elements.note.focus();
        return;
      }
      run($('button[type=submit]', review), 'Saving the review…',
        () => api('POST', '/v1/bookings/' + review.dataset.booking + '/review', { note }), 'Under review.');
    });
  }

  // A decision about a booking under review: the button pressed says
  // which. Another admin deciding first makes it an INVALID_STATE refusal.
  const resolve = $('form[data-resolve-form]');
  if (resolve) {
    resolve.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const button = ev.submitter;
      const decision = button && button.value;
      const note = resolve.elements.note.value.trim();
      if (!note) {
        say(status, 'Give a reason for the decision.', true);
        resolve.elements.note.focus();
        return;
      }
      if (decision === 'close' && !window.confirm('Close this booking? What it was charged and not refunded yet is refunded, and its tickets (if any) become void.')) return;
      run(button, decision === 'close' ? 'Closing the booking…' : 'Restoring the booking…',
        () => api('POST', '/v1/bookings/' + resolve.dataset.booking + '/resolve', { decision, note }),
        decision === 'close' ? 'Closed.' : 'Restored.');
    });
  }

  // Roles: the version read with the page makes a change made meanwhile a
  // STALE_VERSION refusal instead of a silent overwrite.
  const reasons = {
    LAST_ADMIN: 'is the organizer\'s last ADMIN: make another account ADMIN first.',
    STALE_VERSION: 'was changed meanwhile: reload the page and try again.',
  };
  $$('form[data-role-form]').forEach((form) => form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const role = form.elements.role.value;
    const button = $('button[type=submit]', form);
    button.disabled = true;
    say(status, 'Changing the role of ' + form.dataset.email + '…');
    api('PATCH', '/v1/users/' + form.dataset.user, { role, version: parseInt(form.dataset.version, 10) }).then((u) => {
      form.dataset.version = String(u.version);
      say(status, form.dataset.email + ' is now ' + u.role + '; their sessions were ended.');
      button.disabled = false;
    }, (err) => {
      const why = reasons[err.code];
      say(status, why ? 'Not changed: ' + form.dataset.email + ' ' + why : err.message, true);
      button.disabled = false;
    });
  }));
})();
