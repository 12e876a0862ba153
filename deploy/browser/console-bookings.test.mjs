// The console's bookings and accounts (README.md, "Organizer console"): the organizer refunds part of a
// booking a buyer paid for in the browser, from the booking's page, and sees the refund listed; puts it
// under review, finds it in the review queue, restores it, flags it again and closes it (refunding the
// rest); and changes the role of an account that signed up meanwhile.
import assert from 'node:assert/strict';

import { buyPaidTicket, signIn } from './demo.mjs';
import { browser, browserTest, env } from './lib.mjs';

// signUp makes a new buyer's account through the API, from a page of the shop in a browser of its own.
async function signUp(email) {
  const context = await (await browser()).newContext();
  try {
    const page = await context.newPage();
    await page.goto(env.storeURL + '/signin');
    const status = await page.evaluate(async (email) => (await fetch('/v1/auth/signup', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password: 'browser-pass-123', name: 'Browser Buyer' }),
    })).status, email);
    assert.equal(status, 201);
  } finally {
    await context.close();
  }
}

browserTest('an organizer refunds part of a paid booking, decides about it under review and changes an account\'s role', { origins: [env.storeURL] }, async ({ page, step }) => {
  const booking = await buyPaidTicket((confirmed) => new URL(confirmed.url()).pathname.split('/').pop());
  await signIn(page, '/admin/bookings', env.demoEmail, env.demoPassword);
  await page.getByLabel("Buyer's email").fill('buyer@demo');
  await page.getByRole('button', { name: 'Show bookings' }).click();
  await page.locator('[data-bookings]').waitFor();
  await step('bookings');
  await page.locator(`a[href="/admin/bookings/${booking}"]`).click();
  await page.waitForURL(env.storeURL + '/admin/bookings/' + booking);
  await page.getByRole('cell', { name: 'success' }).first().waitFor();
  await step('booking');

  await page.getByLabel(/^Amount/).fill('1');
  await page.getByLabel('Reason').fill('Browser partial refund');
  await page.getByRole('button', { name: 'Refund', exact: true }).click();
  const row = page.locator('tr[data-refund]', { hasText: 'Browser partial refund' });
  await row.waitFor();
  assert.match(await row.innerText(), /\b1\.00\b/);
  assert.equal(await page.locator('[data-booking-status]').innerText(), 'confirmed');
  await step('refund listed');

  // flag puts the booking under review from its page.
  const flag = async (note) => {
    await page.getByLabel('Note', { exact: true }).fill(note);
    await page.getByRole('button', { name: 'Put under review' }).click();
    await page.getByRole('button', { name: 'Close the booking' }).waitFor();
    assert.equal(await page.locator('[data-booking-status]').innerText(), 'review');
  };
  await flag('Browser dispute');
  await page.getByRole('link', { name: 'Review queue' }).click();
  await page.waitForURL(env.storeURL + '/admin/review');
  await page.getByRole('heading', { name: 'Failed refunds' }).waitFor();
  await step('review queue');
  await page.locator('tr[data-booking]', { hasText: 'Browser dispute' }).getByRole('link').click();
  await page.waitForURL(env.storeURL + '/admin/bookings/' + booking);
  await step('under review');

  await page.getByLabel('Reason for the decision').fill('Browser: the dispute was withdrawn');
  await page.getByRole('button', { name: 'Restore the booking' }).click();
  await page.locator('form[data-refund-form]').waitFor();
  assert.equal(await page.locator('[data-booking-status]').innerText(), 'confirmed');
  await step('restored');

  await flag('Browser chargeback');
  await page.getByLabel('Reason for the decision').fill('Browser close');
  page.once('dialog', (dialog) => dialog.accept());
  await page.getByRole('button', { name: 'Close the booking' }).click();
  await page.locator('tr[data-refund]', { hasText: 'Browser close' }).waitFor();
  assert.equal(await page.locator('[data-booking-status]').innerText(), 'refunded');
  await step('closed and refunded');

  const email = `browser-${Date.now()}@demo.test`;
  await signUp(email);
  await page.goto(env.storeURL + '/admin/users?email=' + encodeURIComponent(email));
  await page.getByLabel(`Role of ${email}`).selectOption('CHECKIN');
  await page.getByRole('button', { name: `Change role of ${email}` }).click();
  await page.getByRole('status').filter({ hasText: `${email} is now CHECKIN` }).waitFor();
  await page.reload();
  assert.equal(await page.getByLabel(`Role of ${email}`).inputValue(), 'CHECKIN');
  await step('role changed');
});
