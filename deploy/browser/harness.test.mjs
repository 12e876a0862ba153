// The harness itself: guard and audit catch what they promise to, so that a clean browserTest means
// something. The pages are made up by Playwright on the platform's origin; ticketd never sees them.
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';

import { assertAccessible, audit, browser, env, guard, waitFor } from './lib.mjs';

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

const inaccessible = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>audit</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/audit.css"></head><body><main><h1>audit</h1><p class="faint">Hard to read</p>
<button type="button"></button><p class="fine">Easy to read</p></main></body></html>`;

test('audit reports serious violations under the pages\' content security policy, without breaking it', async () => {
  const context = await (await browser()).newContext();
  try {
    const watched = await guard(context, [env.baseURL]);
    const tab = await context.newPage();
    await tab.route(`${env.baseURL}/audit`, (route) => route.fulfill({
      contentType: 'text/html; charset=utf-8',
      headers: { 'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:" },
      body: inaccessible,
    }));
    await tab.route(`${env.baseURL}/audit.css`, (route) => route.fulfill({
      contentType: 'text/css', body: '.faint { color: #bbbbbb; } .fine { color: #1f2328; }',
    }));
    await tab.goto(`${env.baseURL}/audit`);
    const dir = path.join(env.artifacts, 'harness');
    await mkdir(dir, { recursive: true });
    const report = path.join(dir, 'audit.axe.json');
    const found = await audit(tab, 'made up', report);
    assert.deepEqual(found.map((v) => v.id).sort(), ['button-name', 'color-contrast']);
    assert.deepEqual(found.find((v) => v.id === 'color-contrast').nodes.map((n) => n.target), [['.faint']]);
    const written = JSON.parse(await readFile(report, 'utf8'));
    assert.equal(written.url, `${env.baseURL}/audit`);
    assert.deepEqual(written.violations.map((v) => v.id).sort(), ['button-name', 'color-contrast']);
    assert.throws(() => assertAccessible(found), (err) => {
      assert.match(err.message, /^2 serious or critical accessibility violation\(s\):\non "made up" \(http:/);
      assert.match(err.message, /\n {2}color-contrast \(serious\): Elements must meet minimum color contrast ratio thresholds <https:\/\/[^>]+>\n {4}\.faint$/m);
      assert.match(err.message, /\n {2}button-name \(critical\): Buttons must have discernible text/);
      return true;
    });
    await watched.settle(tab);
    assert.deepEqual(watched.problems, [], 'axe ran without a CSP violation or console error');
  } finally {
    await context.close();
  }
});
