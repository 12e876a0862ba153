// The API docs page (/api/docs): Swagger UI renders the OpenAPI document and calls the API under the
// page's strict content security policy (internal/httpapi/docs.go), loading nothing from elsewhere.
import assert from 'node:assert/strict';

import { browserTest, env } from './lib.mjs';

// Swagger UI's markup is its own, not ticketd's: its steps are not audited for accessibility.
browserTest('the API docs render, expand and try an operation within their CSP and origin', { audit: false }, async ({ page, step }) => {
  const response = await page.goto(`${env.baseURL}/api/docs`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-security-policy'] ?? '', /script-src 'self'/);

  // Swagger UI's ids: operations-<tag>-<operationId>.
  const book = page.locator('#operations-bookings-createBooking');
  await book.getByText('Book tickets of an event').waitFor();
  await step('operations');

  await book.locator('.opblock-summary-control').click();
  await book.locator('.opblock-body').getByText('Idempotency-Key').first().waitFor();
  assert.match(await book.getAttribute('class'), /\bis-open\b/);
  // The page is some 16,000 pixels long; the click scrolled the operation into view.
  await step('booking expanded', { fullPage: false });

  // "Try it out" fetches from the page's origin (connect-src 'self'); the readiness probe needs no
  // parameters or key.
  const ready = page.locator('#operations-system-getReadiness');
  await ready.locator('.opblock-summary-control').click();
  await ready.locator('.try-out__btn').click();
  await ready.locator('.btn.execute').click();
  const status = ready.locator('.live-responses-table .response-col_status').filter({ hasText: /^\s*\d{3}/ });
  await status.waitFor();
  assert.match(await status.innerText(), /^\s*200/);
  await status.scrollIntoViewIfNeeded();
  await step('readiness tried', { fullPage: false });
});
