// The organizer console (README.md, "Organizer console"): the organizer creates and publishes an
// event, and scans a ticket at the check-in page, fed the ticket's QR image; a second scan is
// refused as already checked in, saying when in the venue's time zone (Lagos, WAT), though the
// device's is Los Angeles'.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { buyPaidTicket, signIn } from './demo.mjs';
import { browserTest, env } from './lib.mjs';

// qrFile saves the QR code of the first ticket on a confirmation page as a PNG file.
async function qrFile(page) {
  const src = await page.locator('img[src$="/qr.png"]').first().getAttribute('src');
  const png = await page.evaluate(async (url) => {
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  }, src);
  const file = path.join(env.artifacts, `ticket-${Date.now()}.png`);
  await writeFile(file, Buffer.from(png, 'base64'));
  return file;
}

browserTest('an organizer creates and publishes an event, then scans a ticket at the door', { origins: [env.storeURL], timezoneId: 'America/Los_Angeles' }, async ({ page, step }) => {
  await signIn(page, '/admin', env.demoEmail, env.demoPassword, step);
  await page.locator('td[data-sold]').filter({ hasText: '/' }).first().waitFor();
  await step('console');

  const title = `Browser Jazz Night ${Date.now()}`;
  await page.getByRole('link', { name: 'New event' }).click();
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('Venue').selectOption({ label: 'Open Grounds' });
  const inDays = (d, h) => {
    const t = new Date(Date.now() + d * 86400000);
    return `${t.getFullYear()}-${String(t.getMonth() + 1).padStart(2, '0')}-${String(t.getDate()).padStart(2, '0')}T${h}`;
  };
  await page.getByLabel('Starts (your time zone)').fill(inDays(30, '19:00'));
  await page.getByLabel('Ends').fill(inDays(30, '23:00'));
  await page.getByLabel('Sales open').fill(inDays(-1, '09:00'));
  await page.getByLabel('Sales close').fill(inDays(30, '18:00'));
  await step('new event');
  await page.getByRole('button', { name: 'Create draft' }).click();
  await page.waitForURL(/\/admin\/events\/[0-9a-f-]{36}$/);
  await page.getByLabel('Name').fill('Standing');
  await page.getByLabel(/^Price/).fill('2500');
  await page.getByLabel('Capacity (general admission)').fill('100');
  await page.getByRole('button', { name: 'Add ticket type' }).click();
  await page.getByRole('cell', { name: 'Standing' }).waitFor();
  await page.getByRole('button', { name: 'Publish' }).click();
  await page.locator('[data-event-status]', { hasText: 'published' }).waitFor();
  await step('published');
  await page.goto(env.storeURL + '/');
  await page.getByRole('link', { name: title }).waitFor();

  const ticket = await buyPaidTicket(qrFile);
  await page.goto(env.storeURL + '/admin/checkin');
  const value = await page.locator('#event option', { hasText: 'Afrobeats Festival' }).getAttribute('value');
  await page.getByLabel('Event').selectOption(value);
  await page.locator('input[data-image]').setInputFiles(ticket);
  await page.locator('[data-result][data-outcome="ok"]').waitFor();
  assert.match(await page.locator('[data-result]').innerText(), /Valid ticket: let them in/);
  await step('ticket scanned');
  await page.locator('input[data-image]').setInputFiles(ticket);
  await page.locator('[data-result][data-outcome="already_checked_in"]').waitFor();
  // The first scan's time, as the shop says times: in Lagos (UTC+1 all year), the zone named.
  const refused = await page.locator('[data-result]').innerText();
  const m = /^Already checked in at \w{3} \d{1,2} \w{3} \d{4}, (\d{2}):(\d{2}) WAT \(Main\): do not admit\./.exec(refused);
  assert.ok(m, `the refusal does not say when in the venue's time: ${refused}`);
  const lagos = new Date(Date.now() + 3600_000);
  const drift = (Number(m[1]) * 60 + Number(m[2]) - (lagos.getUTCHours() * 60 + lagos.getUTCMinutes()) + 1440) % 1440;
  assert.ok(drift <= 2 || drift >= 1438, `checked in at ${m[1]}:${m[2]} in Lagos, it is ${lagos.toISOString().slice(11, 16)} there`);
  await step('second scan refused');
});
