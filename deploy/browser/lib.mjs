// Helpers of the browser tests (README.md, "Tests"): Playwright's library driving Chromium against the
// `ticketd dev` that deploy/browser/run.sh starts, which also sets the variables read here. A test file
// is a *.test.mjs beside this one that calls browserTest; run.sh runs them all with node's test runner.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, test } from 'node:test';

import { chromium } from 'playwright-core';

/** How long any wait of a test may take: generous, so that a busy machine is slow, not failing. */
export const DEADLINE_MS = 30_000;

/**
 * What run.sh passes: baseURL is the platform host (http://localhost:PORT), storeURL the demo
 * organizer's storefront (http://demo.localhost:PORT), simURL the Paystack simulator (whose checkout
 * page the shop sends buyers to), demoEmail and demoPassword its admin's
 * sign-in, chromium the browser binary, artifacts the folder for screenshots.
 */
export const env = {
  baseURL: required('BASE_URL'),
  storeURL: required('STORE_URL'),
  simURL: required('SIM_URL'),
  demoEmail: required('DEMO_EMAIL'),
  demoPassword: required('DEMO_PASSWORD'),
  chromium: required('CHROMIUM'),
  artifacts: required('ARTIFACTS'),
};

function required(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run the browser tests with deploy/browser/run.sh (make browser-test)`);
  }
  return v;
}

// Chromium resolves localhost and *.localhost to loopback itself, but may try ::1 first, where
// ticketd does not listen; the rules send both straight to 127.0.0.1 (the Host header is unchanged,
// so a storefront's subdomain still names its organizer).
const chromiumArgs = [
  '--no-sandbox',
  '--disable-dev-shm-usage',
  '--host-resolver-rules=MAP localhost 127.0.0.1, MAP *.localhost 127.0.0.1',
];

let launched;

/** browser is this file's Chromium, launched headless on first use and closed after its tests. */
export function browser() {
  launched ??= chromium.launch({ executablePath: env.chromium, headless: true, args: chromiumArgs, timeout: DEADLINE_MS });
  return launched;
}

after(async () => {
  if (launched) await (await launched).close();
});

// The test file's name without .test.mjs: the first folder of its screenshots.
const fileName = path.basename(process.argv[1] ?? 'browser', '.test.mjs');

/** slug makes a file name of a label: lower case, words joined by hyphens. */
export function slug(label) {
  return label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'step';
}

/**
 * browserTest registers a test of node:test that gets a fresh browser context (its own cookies and
 * storage) and one page in it, watched by guard: the test fails on any console error, uncaught page
 * error, content security policy violation, or request to an origin outside options.origins.
 *
 *   browserTest(name, [options], async ({ page, context, step }) => { ... })
 *
 * options.origins: the origins the pages may reach (default [env.baseURL]); options.viewport
 * (default 1280×800); options.timezoneId, the device's time zone (default the machine's). step(label) saves a full-page screenshot as ARTIFACTS/<file>/<test>/NN-label.png
 * (step(label, { fullPage: false }) only the viewport: a long page takes seconds to capture whole) and
 * audits the page's accessibility (audit, below) into NN-label.axe.json beside it; the test fails,
 * once it has run to its end, on the serious or critical violations of any of its steps. A page that
 * is not ticketd's own (the Paystack simulator's, Swagger UI's) is left unaudited by
 * step(label, { audit: false }), or a whole test's by options.audit false. A failing test also saves
 * failed.png there.
 */
export function browserTest(name, options, fn) {
  if (typeof options === 'function') [options, fn] = [{}, options];
  const { origins = [env.baseURL], viewport = { width: 1280, height: 800 }, audit: audited = true, timezoneId } = options;
  test(name, async () => {
    const context = await (await browser()).newContext({ viewport, serviceWorkers: 'block', timezoneId });
    context.setDefaultTimeout(DEADLINE_MS);
    context.setDefaultNavigationTimeout(DEADLINE_MS);
    const watched = await guard(context, origins);
    const page = await context.newPage();
    const dir = path.join(env.artifacts, fileName, slug(name));
    await mkdir(dir, { recursive: true });
    let steps = 0;
    const violations = [];
    const step = async (label, { fullPage = true, audit: auditing = audited } = {}) => {
      steps++;
      const file = `${String(steps).padStart(2, '0')}-${slug(label)}`;
      await page.screenshot({ path: path.join(dir, file + '.png'), fullPage });
      if (auditing) violations.push(...await audit(page, label, path.join(dir, file + '.axe.json')));
    };
    try {
      await fn({ page, context, step });
      await watched.settle(page);
      assertClean(watched.problems);
      assertAccessible(violations);
    } catch (err) {
      await page.screenshot({ path: path.join(dir, 'failed.png'), fullPage: true }).catch(() => {});
      // What the browser saw often explains the failure (a navigation blocked as another origin's).
      if (watched.problems.length > 0 && !(err instanceof assert.AssertionError)) {
        const told = err.message;
        err.message += `\nthe browser also saw:\n  ${watched.problems.join('\n  ')}`;
        if (typeof err.stack === 'string') err.stack = err.stack.replace(told, err.message);
      }
      throw err;
    } finally {
      await context.close();
    }
  });
}

/** assertClean fails with every problem that guard collected, one a line. */
export function assertClean(problems) {
  assert.ok(problems.length === 0, `the browser saw ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
}

// axe-core's browser build, evaluated in each audited page (audit).
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The rules an audit runs: axe-core's for WCAG 2.0, 2.1 and 2.2, levels A and AA (2.2 adds AA rules only). */
export const AUDIT_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/** The impacts that fail a test; moderate and minor ones are only reported in the JSON file. */
const FAILING_IMPACTS = new Set(['serious', 'critical']);

/**
 * audit runs axe-core on page as it is now, with the rules of AUDIT_TAGS, writes its results to the
 * JSON file report (the page's URL and viewport, and every violation, and what axe could not decide,
 * with the elements concerned), and returns the serious or critical violations, each with label and
 * report, for assertAccessible.
 *
 * The pages' content security policy refuses inline scripts, so axe is not added as a script tag (it
 * would be blocked, and guard would report the violation): Playwright evaluates its source over the
 * DevTools protocol, which no policy governs, as it does its own bindings.
 */
export async function audit(page, label, report) {
  if (!await page.evaluate(() => typeof window.axe === 'object')) await page.evaluate(axeSource);
  const results = await page.evaluate((tags) => window.axe.run(document, {
    runOnly: { type: 'tag', values: tags },
    resultTypes: ['violations', 'incomplete'],
    // The shop's pages have no frames; the widget's page is audited at its own address.
    iframes: false,
  }), AUDIT_TAGS);
  const brief = (r) => ({
    id: r.id, impact: r.impact, help: r.help, helpUrl: r.helpUrl, tags: r.tags,
    nodes: r.nodes.map((n) => ({ target: n.target, html: n.html, summary: n.failureSummary })),
  });
  await writeFile(report, JSON.stringify({
    label, url: results.url, viewport: page.viewportSize(), testEngine: results.testEngine.version,
    tags: AUDIT_TAGS, violations: results.violations.map(brief), incomplete: results.incomplete.map(brief),
  }, null, 2) + '\n');
  return results.violations.filter((v) => FAILING_IMPACTS.has(v.impact))
    .map((v) => ({ ...brief(v), label, url: results.url, report }));
}

/**
 * assertAccessible fails with every violation that audit returned: per page, the rule, its impact and
 * help, and the selectors of the elements that break it (the first five; the JSON report has all).
 */
export function assertAccessible(violations) {
  if (violations.length === 0) return;
  const lines = [];
  let last;
  for (const v of violations) {
    if (v.report !== last) {
      last = v.report;
      lines.push(`on "${v.label}" (${v.url}; report ${path.relative(process.cwd(), v.report)}):`);
    }
    lines.push(`  ${v.id} (${v.impact}): ${v.help} <${v.helpUrl}>`);
    for (const n of v.nodes.slice(0, 5)) lines.push(`    ${n.target.join(' >>> ')}`);
    if (v.nodes.length > 5) lines.push(`    and ${v.nodes.length - 5} more`);
  }
  assert.fail(`${violations.length} serious or critical accessibility violation(s):\n${lines.join('\n')}`);
}

/**
 * guard watches every page of context and collects, as lines of text in problems: console errors
 * and messages about the Content Security Policy, uncaught page errors, securitypolicyviolation
 * events, and requests or WebSockets to an origin not in origins (which are aborted, so nothing
 * leaves the machine). settle(page) lets the page deliver what it has queued before problems is read.
 */
export async function guard(context, origins) {
  const allowed = new Set(origins.map((u) => new URL(u).origin));
  const problems = [];
  const foreign = (url) => {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'ws:' || u.protocol === 'wss:') &&
      !allowed.has(u.origin.replace(/^ws/, 'http'));
  };

  // The page reports its violations through a binding: Playwright installs bindings and init
  // scripts over the DevTools protocol, which no content security policy governs.
  await context.exposeBinding('__ticketdCSPViolation', (_source, v) => {
    problems.push(`CSP violation: ${v.directive} blocked ${v.blocked} at ${v.where}`);
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__ticketdCSPViolation({
        directive: e.effectiveDirective,
        blocked: e.blockedURI,
        where: `${e.sourceFile || e.documentURI}:${e.lineNumber}:${e.columnNumber}`,
      });
    });
  });
  context.on('console', (msg) => {
    if (msg.type() === 'error' || /content.security.policy/i.test(msg.text())) {
      const at = msg.location();
      problems.push(`console ${msg.type()}: ${msg.text()}${at.url ? ` (${at.url}:${at.lineNumber})` : ''}`);
    }
  });
  context.on('weberror', (err) => {
    // The stack's first frame is the page's; those after it are the test's own, added by Playwright.
    const e = err.error();
    problems.push(`uncaught error: ${e.stack?.split('\n').slice(0, 2).join(' ') ?? e}`);
  });
  context.on('page', (page) => {
    page.on('websocket', (ws) => {
      if (foreign(ws.url())) problems.push(`WebSocket to another origin: ${ws.url()}`);
    });
  });
  await context.route((url) => foreign(url.href), (route) => {
    const req = route.request();
    problems.push(`request to another origin: ${req.method()} ${req.url()}`);
    return route.abort('blockedbyclient');
  });
  return {
    problems,
    // A zero-delay timer runs after the tasks the page queued before it (violation events
    // included); evaluate returns after the binding calls those tasks made.
    settle: (page) => page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 0))),
  };
}

/**
 * waitFor polls check (sync or async) until it returns a truthy value, which it returns; it fails
 * after timeoutMs with what it was waiting for and the last error check threw. For state that no
 * Playwright locator expresses (a request's effect on the server, a value in storage).
 */
export async function waitFor(what, check, { timeoutMs = DEADLINE_MS, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`waited ${timeoutMs / 1000} s for ${what}${last ? `; last error: ${last.message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
