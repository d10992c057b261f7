// The user's browser for scripts/interop.sh: `$BROWSER` runs tests/interop/browser.sh with the
// authorization URL, which runs this script. It drives a real Chromium (Debian's package,
// headless) with playwright-core: open the URL, fill in whatever login form the authorization
// server shows (INTEROP_USER / INTEROP_PASSWORD), press its consent button, and stop once the
// browser has loaded the client's loopback redirect URI (RFC 8252 §7.3), i.e. the callback
// reached the CLI. Each page visited is appended to INTEROP_BROWSER_LOG.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const url = process.argv[2];
const redirect = new URL(new URL(url).searchParams.get('redirect_uri'));
const user = process.env.INTEROP_USER ?? 'alice';
const password = process.env.INTEROP_PASSWORD ?? 'interop-password';
const logFile = process.env.INTEROP_BROWSER_LOG;
const note = (s) => logFile && fs.appendFileSync(logFile, `${new Date().toISOString()} ${s}\n`);
const deadline = Date.now() + 60_000;

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.INTEROP_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let code = 1;
// Every wait below has its own bound; this one covers the whole run.
const watchdog = setTimeout(() => {
  note('error: gave up after 90 s');
  context.close().finally(() => process.exit(1));
}, 90_000);
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const atCallback = () => {
    const u = new URL(page.url());
    return u.origin === redirect.origin && u.pathname === redirect.pathname;
  };
  await page.goto(url, { waitUntil: 'load', timeout: 20_000 });
  for (let step = 0; step < 8 && !atCallback(); step++) {
    if (Date.now() > deadline) throw new Error('timed out');
    note(`page ${page.url().split('?')[0]}`);
    const password_ = page.locator('input[type=password]');
    let action;
    if (await password_.count()) {
      // A login form: the user name is the first visible text/email input.
      const name = page.locator('input[type=text]:visible, input[type=email]:visible, input:not([type]):visible').first();
      await name.fill(user);
      await password_.first().fill(password);
      action = 'login';
    } else {
      action = 'consent';
    }
    // Press the form's affirmative submit button (consent pages also have a deny button).
    const buttons = page.locator('button[type=submit]:visible, input[type=submit]:visible, button:not([type]):visible');
    const n = await buttons.count();
    let chosen = null;
    for (let i = 0; i < n; i++) {
      const b = buttons.nth(i);
      const label = `${await b.getAttribute('name')} ${await b.getAttribute('value')} ${await b.textContent()}`.toLowerCase();
      if (/cancel|deny|abort|reject/.test(label)) continue;
      chosen = b;
      break;
    }
    if (!chosen) throw new Error(`no submit button on ${page.url().split('?')[0]}`);
    note(`${action}: ${(await chosen.textContent()) || (await chosen.getAttribute('value'))}`);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load', timeout: 20_000 }), chosen.click()]);
  }
  if (!atCallback()) throw new Error(`never reached the redirect URI; last page ${page.url().split('?')[0]}`);
  // RFC 9207 §2: whether the authorization response carried `iss` (the suite reports it).
  const iss = new URL(page.url()).searchParams.has('iss') ? 'iss=yes' : 'iss=no';
  note(`callback reached (${iss}): ${(await page.textContent('body'))?.trim().slice(0, 80)}`);
  code = 0;
} catch (e) {
  note(`error: ${e.message.split('\n')[0]}`);
  console.error(`interop browser: ${e.message.split('\n')[0]}`);
} finally {
  clearTimeout(watchdog);
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
