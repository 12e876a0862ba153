// Steps on the demo organizer's shop that several browser tests take (deploy/browser/run.sh seeds it).
import { browser, env } from './lib.mjs';

/**
 * signIn opens next on the shop, is sent to sign in, signs in, and lands on next again; step, a
 * browserTest's, if given, records the filled sign-in form.
 */
export async function signIn(page, next, email = env.demoEmail, password = env.demoPassword, step = undefined) {
  await page.goto(env.storeURL + next);
  await page.waitForURL(/\/signin\?next=/);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  if (step) await step('sign in');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(env.storeURL + next);
}

/**
 * buyPaidTicket buys one general-admission ticket of the Afrobeats Festival as the demo buyer, in a
 * browser of its own, pays it on the simulator, and calls onConfirmed(page) on the confirmation page
 * before the browser closes; it returns what onConfirmed returns.
 */
export async function buyPaidTicket(onConfirmed) {
  const context = await (await browser()).newContext();
  try {
    const page = await context.newPage();
    await signIn(page, '/tickets', 'buyer@demo.test', 'demo-buyer-pass');
    await page.goto(env.storeURL + '/');
    await page.getByRole('link', { name: 'Afrobeats Festival' }).click();
    await page.getByRole('spinbutton').first().fill('1');
    await page.getByRole('button', { name: 'Book' }).click();
    await page.waitForURL(/\/checkout\//);
    await page.getByRole('button', { name: /^Pay/ }).click();
    await page.getByRole('button', { name: 'Pay (success)' }).click();
    await page.getByText('Booking confirmed').waitFor();
    return await onConfirmed(page);
  } finally {
    await context.close();
  }
}
