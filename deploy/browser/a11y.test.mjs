// Accessibility whatever the organizer's colour (README.md, "Tests"). Every step of every browserTest
// is audited with axe-core (lib.mjs); this test audits the shop and the console in a light accent
// colour, which the organizer may choose (PATCH /v1/settings): links and button labels stay readable
// (internal/storefront/contrast.go). The demo organizer takes a pale yellow and gets its own colour
// back after. A test file run meanwhile (node runs files in parallel on a machine with more cores)
// sees the yellow too, and its audits must hold all the same.
import assert from 'node:assert/strict';

import { signIn } from './demo.mjs';
import { browserTest, env } from './lib.mjs';

const light = '#ffd54f';

// accent sets the organizer's accent colour through the API, from page (signed in as its ADMIN), and
// returns the one it had.
async function accent(page, color) {
  const { status, before } = await page.evaluate(async (color) => {
    const before = (await (await fetch('/v1/settings')).json()).accentColor;
    const res = await fetch('/v1/settings', {
      method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ accentColor: color }),
    });
    return { status: res.status, before };
  }, color);
  assert.equal(status, 200, `PATCH /v1/settings {"accentColor": "${color}"}`);
  return before;
}

browserTest('a light accent colour leaves the shop and the console readable', { origins: [env.storeURL] }, async ({ page, step }) => {
  await signIn(page, '/admin');
  const own = await accent(page, light);
  try {
    await page.goto(env.storeURL + '/');
    await page.getByRole('link', { name: 'Symphony Night' }).click();
    const map = page.getByRole('group', { name: 'Seat map' });
    await map.getByRole('checkbox', { checked: false, disabled: false }).first().click();
    await map.getByRole('checkbox', { checked: true }).waitFor();
    // Dark text on the light button, which the server chose for this accent.
    const book = page.getByRole('button', { name: 'Book' });
    assert.equal(await book.evaluate((b) => getComputedStyle(b).backgroundColor), 'rgb(255, 213, 79)');
    assert.equal(await book.evaluate((b) => getComputedStyle(b).color), 'rgb(0, 0, 0)');
    await step('event in a light accent');
    await page.goto(env.storeURL + '/admin/events/new');
    await step('console in a light accent');
  } finally {
    await accent(page, own);
  }
});
