// The harness itself: guard catches what it promises to, so that a clean browserTest means something.
// The page is made up by Playwright on the platform's origin; ticketd never sees it.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { browser, env, guard, waitFor } from './lib.mjs';

const page = `<!doctype html><html><head><meta charset="utf-8"><title>guard</title><link rel="icon" href="data:,">
<script>document.title = "inline ran";</script>
</head><body><p>guard</p><img src="https://elsewhere.example/pixel.png"><script src="/guard.js"></script></body></html>`;

test('guard reports CSP violations, console errors, uncaught errors and requests to another origin', async () => {
  const context = await (await browser()).newContext();
  try {
    const watched = await guard(context, [env.baseURL]);
    const tab = await context.newPage();
    await tab.route(`${env.baseURL}/guard`, (route) => route.fulfill({
      contentType: 'text/html; charset=utf-8',
      headers: { 'Content-Security-Policy': "default-src 'none'; script-src 'self'; img-src * data:" },
      body: page,
    }));
    await tab.route(`${env.baseURL}/guard.js`, (route) => route.fulfill({
      contentType: 'text/javascript',
      body: 'console.error("guard: a console error"); setTimeout(() => { throw new Error("guard: uncaught"); });',
    }));
    await tab.goto(`${env.baseURL}/guard`);
    const expected = [/^CSP violation: script-src-elem blocked inline /, /^console error: .*Content Security Policy/,
      /^console error: guard: a console error/, /^uncaught error: .*guard: uncaught/,
      /^request to another origin: GET https:\/\/elsewhere\.example\/pixel\.png/];
    await waitFor('every kind of problem', async () => {
      await watched.settle(tab);
      return expected.every((re) => watched.problems.some((p) => re.test(p)));
    }).catch((err) => assert.fail(`${err.message}\nguard saw:\n  ${watched.problems.join('\n  ')}`));
    assert.notEqual(await tab.title(), 'inline ran');
  } finally {
    await context.close();
  }
});
