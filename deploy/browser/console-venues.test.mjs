// The console's venues (README.md, "Organizer console"): the organizer builds a venue's seat layout
// in the editor (a section whose row is numbered by a count, a section whose row has seat labels),
// sees the preview's seat count, saves, and the venue's page shows the stored layout; an event on the
// venue then sells a section as a seated ticket type, after which a new layout is refused. A venue no
// event uses is deleted (after a confirmation) and the list says so; deleting the venue the event
// uses is refused, and the form says why.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';

import { signIn } from './demo.mjs';
import { browser, browserTest, env, guard, waitFor } from './lib.mjs';

let soldVenuePath = '';

const focused = (page) => page.evaluate(() => document.activeElement && document.activeElement.id);

browserTest('an organizer lays out a venue\'s seats and sells a section of it', { origins: [env.storeURL] }, async ({ page, step }) => {
  await signIn(page, '/admin/venues');
  await page.getByRole('link', { name: 'Main Hall' }).waitFor();
  await step('venues');
  await page.getByRole('link', { name: 'New venue' }).click();
  await page.waitForURL(/\/admin\/venues\/new$/);

  const name = `Browser Theatre ${Date.now()}`;
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Address', { exact: true }).fill('2 Broad Street');
  await page.getByLabel('City', { exact: true }).fill('Lagos');

  // Adding a section moves the focus to its name, adding a row to its label.
  await page.getByRole('button', { name: 'Add a section' }).click();
  assert.match(await focused(page), /-name$/);
  await page.keyboard.type('Stalls');
  const stalls = page.locator('[data-section]').nth(0);
  await stalls.getByLabel('Row label').fill('A');
  await stalls.getByLabel('Seats', { exact: true }).fill('10');

  await page.getByRole('button', { name: 'Add a section' }).click();
  await page.keyboard.type('Gallery');
  const gallery = page.locator('[data-section]').nth(1);
  await gallery.getByLabel('Row label').fill('G');
  await gallery.getByLabel('Seats given as').selectOption('labels');
  await gallery.getByLabel('Seats', { exact: true }).fill('1, 2, 3, 7');

  await stalls.getByRole('button', { name: 'Add a row' }).click();
  assert.match(await focused(page), /-label$/);
  assert.equal(await stalls.locator('[data-row]').count(), 2);
  await stalls.getByRole('button', { name: 'Remove this row' }).nth(1).click();
  assert.equal(await stalls.locator('[data-row]').count(), 1);

  await page.locator('[data-seat-count]', { hasText: '14 seats in 2 sections' }).waitFor();
  assert.equal(await page.locator('[data-preview] circle').count(), 14);
  await step('layout editor');

  await page.getByRole('button', { name: 'Create venue' }).click();
  await page.waitForURL(/\/admin\/venues\/[0-9a-f-]{36}\?saved=1$/);
  const venuePath = new URL(page.url()).pathname;
  await page.getByRole('heading', { name }).waitFor();
  const stored = page.locator('[data-stored-layout]');
  await stored.getByText('A-10').waitFor();
  await stored.getByText('G-7').waitFor();
  assert.equal(await stored.locator('[data-seat-id]').count(), 14);
  assert.equal(await page.locator('[data-section]').nth(0).getByLabel('Seats', { exact: true }).inputValue(), '10');
  assert.equal(await page.locator('[data-section]').nth(1).getByLabel('Seats', { exact: true }).inputValue(), '1, 2, 3, 7');
  await page.locator('[data-seat-count]', { hasText: '14 seats in 2 sections' }).waitFor();
  await step('stored layout');

  // An event on the venue sells the Stalls.
  await page.getByRole('link', { name: 'New event' }).click();
  await page.getByLabel('Title').fill(`Browser Recital ${Date.now()}`);
  await page.getByLabel('Venue').selectOption({ label: name });
  const inDays = (d, h) => {
    const t = new Date(Date.now() + d * 86400000);
    return `${t.getFullYear()}-${String(t.getMonth() + 1).padStart(2, '0')}-${String(t.getDate()).padStart(2, '0')}T${h}`;
  };
  await page.getByLabel('Starts (your time zone)').fill(inDays(20, '19:00'));
  await page.getByLabel('Ends').fill(inDays(20, '22:00'));
  await page.getByLabel('Sales open').fill(inDays(-1, '09:00'));
  await page.getByLabel('Sales close').fill(inDays(20, '18:00'));
  await page.getByRole('button', { name: 'Create draft' }).click();
  await page.waitForURL(/\/admin\/events\/[0-9a-f-]{36}$/);
  await page.getByLabel('Name').fill('Stalls seats');
  await page.getByLabel('Kind').selectOption('seated');
  await page.getByLabel(/^Price/).fill('3000');
  await page.getByLabel('Sections (seated, comma-separated)').fill('Stalls');
  await page.getByRole('button', { name: 'Add ticket type' }).click();
  const row = page.getByRole('row', { name: /Stalls seats/ });
  await row.waitFor();
  assert.match(await row.innerText(), /seated\s+NGN 3,000\.00\s+10\s+0/);
  // Published, so that the console's live sales (console.test.mjs) read its stock like any other's.
  await page.getByRole('button', { name: 'Publish' }).click();
  await page.locator('[data-event-status]', { hasText: 'published' }).waitFor();
  await step('seated ticket type');
  soldVenuePath = venuePath;
});

// The venue's seats are sold now: a new layout is refused, and the form says why. The API's 409 is
// logged by Chromium as a failed resource, which a browserTest counts as a problem: this test
// watches the page itself and expects that one line alone.
test('a venue whose seats are sold keeps its layout, and the form says why', async () => {
  assert.ok(soldVenuePath, 'the previous test made a venue with seats on sale');
  const context = await (await browser()).newContext();
  try {
    const watched = await guard(context, [env.storeURL]);
    const page = await context.newPage();
    await signIn(page, soldVenuePath);
    await page.locator('[data-section]').nth(0).getByLabel('Seats', { exact: true }).fill('12');
    await page.locator('[data-seat-count]', { hasText: '16 seats in 2 sections' }).waitFor();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('[data-status]', { hasText: 'LAYOUT_IN_USE' }).waitFor();
    await mkdir(path.join(env.artifacts, 'console-venues'), { recursive: true });
    await page.screenshot({ path: path.join(env.artifacts, 'console-venues', 'layout-in-use.png') });
    await watched.settle(page);
    assert.equal(watched.problems.length, 1, watched.problems.join('\n'));
    assert.match(watched.problems[0], /status of 409 \(Conflict\).*\/v1\/venues\//);
  } finally {
    await context.close();
  }
});

browserTest('an organizer deletes a venue that no event uses', { origins: [env.storeURL] }, async ({ page, step }) => {
  await signIn(page, '/admin/venues/new');
  const name = `Browser Yard ${Date.now()}`;
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('City', { exact: true }).fill('Lagos');
  await page.getByLabel(/^Capacity/).fill('300');
  await page.getByRole('button', { name: 'Create venue' }).click();
  await page.waitForURL(/\/admin\/venues\/[0-9a-f-]{36}\?saved=1$/);
  const venuePath = new URL(page.url()).pathname;

  // Dismissing the confirmation keeps the venue.
  const questions = [];
  page.once('dialog', (d) => { questions.push(d.message()); return d.dismiss(); });
  await page.getByRole('button', { name: 'Delete venue' }).click();
  await waitFor('the confirmation', () => questions.length === 1);
  assert.match(questions[0], new RegExp(`^Delete the venue “${name}”\\?`));
  assert.equal(new URL(page.url()).pathname, venuePath);
  assert.equal(await page.locator('[data-status]').innerText(), 'Saved.');

  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Delete venue' }).click();
  await page.waitForURL(env.storeURL + '/admin/venues?deleted=1');
  await page.getByRole('status').filter({ hasText: 'The venue was deleted.' }).waitFor();
  assert.equal(await page.getByRole('link', { name }).count(), 0);
  await page.getByRole('link', { name: 'Main Hall' }).waitFor();
  await step('venue deleted');
});

// The API's 409 is logged by Chromium as a failed resource: as above, this test watches the page
// itself and expects that one line alone.
test('a venue that an event uses is not deleted, and the form says why', async () => {
  assert.ok(soldVenuePath, 'the first test made a venue that an event uses');
  const context = await (await browser()).newContext();
  try {
    const watched = await guard(context, [env.storeURL]);
    const page = await context.newPage();
    await signIn(page, soldVenuePath);
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: 'Delete venue' }).click();
    await page.locator('[data-status]', { hasText: 'VENUE_IN_USE' }).waitFor();
    assert.equal(new URL(page.url()).pathname, soldVenuePath);
    assert.equal(await page.getByRole('button', { name: 'Delete venue' }).isEnabled(), true);
    await mkdir(path.join(env.artifacts, 'console-venues'), { recursive: true });
    await page.screenshot({ path: path.join(env.artifacts, 'console-venues', 'venue-in-use.png') });
    await watched.settle(page);
    assert.equal(watched.problems.length, 1, watched.problems.join('\n'));
    assert.match(watched.problems[0], /status of 409 \(Conflict\).*\/v1\/venues\//);
  } finally {
    await context.close();
  }
});
