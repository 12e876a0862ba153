// The organizer's shop (README.md, "Storefront"): a buyer signs up, picks two seats on the seat
// map, pays on the Paystack simulator's checkout page and lands on the confirmation with two QR
// tickets, while a second browser on the same event sees those seats taken without reloading; and
// the shop on a phone. Each step's page is audited for accessibility too (lib.mjs).
import assert from 'node:assert/strict';

import { browser, browserTest, env } from './lib.mjs';

const seats = ['Balcony, row D, seat 14', 'Balcony, row D, seat 15'];
const seat = (page, name) => page.getByRole('checkbox', { name: new RegExp('^' + name + ', ') });

browserTest('a buyer picks two seats, pays, and gets two QR tickets; another browser sees them taken', {
  origins: [env.baseURL, env.storeURL, env.simURL],
}, async ({ page, step }) => {
  await page.goto(env.storeURL + '/');
  await step('events');
  await page.getByRole('link', { name: 'Symphony Night' }).click();
  await page.getByRole('group', { name: 'Seat map' }).getByRole('checkbox').first().waitFor();
  const eventURL = page.url();
  await step('event page');

  // A second browser watches the same seat map.
  const watcherContext = await (await browser()).newContext();
  const watcher = await watcherContext.newPage();
  try {
    await watcher.goto(eventURL);
    for (const name of seats) {
      assert.equal(await seat(watcher, name).getAttribute('aria-disabled'), 'false', `${name} is on sale at first`);
    }

    await page.getByRole('link', { name: 'create an account' }).click();
    await page.getByLabel('Name').fill('Browser Buyer');
    await page.getByLabel('Email').fill(`buyer-${Date.now()}@example.com`);
    await page.getByLabel('Password (at least 8 characters)').fill('browser-buyer-pass');
    await step('sign up');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(eventURL);

    // The first seat by pointer, the next by keyboard.
    await seat(page, seats[0]).click();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Space');
    for (const name of seats) {
      assert.equal(await seat(page, name).getAttribute('aria-checked'), 'true', `${name} is chosen`);
    }
    assert.match(await page.locator('[data-selected]').innerText(), /Balcony D-14, Balcony D-15/);
    // The map is one tab stop, just before Book, and keeps the seat last focused.
    await page.getByRole('button', { name: 'Book' }).focus();
    await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), await seat(page, seats[1]).getAttribute('aria-label'));
    await step('two seats chosen');
    await page.getByRole('button', { name: 'Book' }).click();
    await page.waitForURL(/\/checkout\//);
    assert.match(await page.locator('[data-countdown]').innerText(), /held for \d\d:\d\d/);
    await step('checkout');

    // The watcher's map shows both seats taken, without a reload.
    for (const name of seats) {
      await watcher.getByRole('checkbox', { name: new RegExp('^' + name + ', .*, taken$') }).waitFor();
    }
    await watcher.screenshot({ path: `${env.artifacts}/shop/watcher-sees-the-seats-taken.png` });

    await page.getByRole('button', { name: /^Pay NGN 10,000\.00$/ }).click();
    await page.waitForURL((u) => u.origin === new URL(env.simURL).origin);
    // The simulator's page stands in for Paystack's: not ticketd's to audit.
    await step('paystack checkout', { audit: false });
    await page.getByRole('button', { name: 'Pay (success)' }).click();
    await page.waitForURL(/\/bookings\/[0-9a-f-]{36}\?payment=success$/);
    await page.getByText('Booking confirmed').waitFor();
    const qr = page.locator('img[src$="/qr.png"]');
    assert.equal(await qr.count(), 2, 'two QR tickets');
    await page.waitForFunction(() => [...document.querySelectorAll('img[src$="/qr.png"]')].every((i) => i.complete && i.naturalWidth > 0));
    await step('confirmed with two QR tickets');
    await page.getByRole('link', { name: 'My tickets' }).click();
    await page.getByRole('img', { name: /^QR code of ticket/ }).nth(1).waitFor();
    await step('my tickets');
  } finally {
    await watcherContext.close();
  }
});

// On a phone a buyer signs up from an event page, holds a ticket, and cancels it at the checkout;
// the event's widget fits the phone too.
browserTest('the shop works on a phone', { origins: [env.storeURL], viewport: { width: 390, height: 844 } }, async ({ page, step }) => {
  const fits = async (what) => {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${what} is ${overflow}px wider than the phone`);
  };
  await page.goto(env.storeURL + '/');
  await page.getByRole('link', { name: 'Afrobeats Festival' }).click();
  await page.getByRole('spinbutton').first().waitFor();
  const eventURL = page.url();
  await fits('the event page');
  await step('event on a phone');

  await page.goto(env.storeURL + '/embed/events/' + eventURL.split('/').pop());
  await page.getByRole('link', { name: 'Get tickets' }).waitFor();
  await fits('the widget');
  await step('widget on a phone');

  await page.goto(eventURL);
  await page.getByRole('link', { name: 'create an account' }).click();
  await page.getByLabel('Name').fill('Phone Buyer');
  await page.getByLabel('Email').fill(`phone-${Date.now()}@example.com`);
  await page.getByLabel('Password (at least 8 characters)').fill('phone-buyer-pass');
  await step('sign up on a phone');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(eventURL);
  await page.getByRole('spinbutton').first().fill('1');
  await page.getByRole('button', { name: 'Book' }).click();
  await page.waitForURL(/\/checkout\//);
  await page.locator('[data-countdown]', { hasText: /held for/ }).waitFor();
  await fits('the checkout');
  await step('checkout on a phone');
  await page.getByRole('button', { name: 'Cancel booking' }).click();
  await page.getByText('This booking is cancelled').waitFor();
});
