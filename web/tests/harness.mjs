// The browser suite's harness: a real `vouchsafe serve` (SQLite, outbox mail) per test file,
// Debian's Chromium driven by playwright-core, the links taken from the mail the server wrote,
// and axe-core run on every page a test photographs.
//
//   cd web/tests && npm ci && npm test       (VOUCHSAFE_BIN defaults to target/release/vouchsafe)
//
// Screenshots of each main page land in target/screenshots/.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const root = path.resolve(import.meta.dirname, '../..');
const bin = process.env.VOUCHSAFE_BIN || path.join(root, 'target/release/vouchsafe');
export const shots = path.join(root, 'target/screenshots');
export const TIMEOUT = 90_000;

let server;
export let base;
export let dataDir;
export let browser;
const seenMail = new Set();

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function waitFor(fn, what, ms = TIMEOUT) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// The next unseen message to `to` (oldest first) for which `pick(text)` gives a value; returns it.
function nextMail(to, pick, what) {
  const dir = path.join(dataDir, 'outbox');
  return waitFor(() => {
    if (!fs.existsSync(dir)) return null;
    // Oldest first (the names are random ids; the sender writes them in the order queued).
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.eml'))
      .map((f) => [fs.statSync(path.join(dir, f)).mtimeMs, f]).sort((a, b) => a[0] - b[0]).map(([, f]) => f);
    for (const f of files) {
      if (seenMail.has(f)) continue;
      // Undo quoted-printable (soft breaks, '=').
      const text = fs.readFileSync(path.join(dir, f), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      if (!text.includes(`To: ${to}`)) continue;
      const v = pick(text);
      if (!v) continue;
      seenMail.add(f);
      return v;
    }
    return null;
  }, what);
}

// The next unseen message to `to` whose link opens `linkPath`; returns the link.
export async function mailLink(to, linkPath) {
  const re = new RegExp(`https?://[^\\s"<>]+${linkPath.replace('/', '\\/')}#token=[A-Za-z0-9_-]+`);
  return nextMail(to, (text) => { const m = text.match(re); return m && m[0]; }, `mail to ${to} with ${linkPath}`);
}

// The next unseen message to `to` that says `words`; returns its text.
export async function mailSaying(to, words) {
  return nextMail(to, (text) => text.includes(words) && text, `mail to ${to} saying ${words}`);
}

const axeSource = fs.readFileSync(path.join(import.meta.dirname, 'node_modules/axe-core/axe.min.js'), 'utf8');

// axe-core (WCAG 2.x A and AA rules, and best practices) finds no violation on the page as it is.
// Injected through the DevTools protocol, so the page's own CSP stays as strict as it is.
export async function accessible(page, name) {
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
    .map((v) => ({ rule: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })));
  assert.deepEqual(found, [], `${name}: accessibility violations ${JSON.stringify(found, null, 1)}`);
}

// A screenshot of each main page, and the accessibility check on it.
export async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  if (!name.startsWith('failure')) await accessible(page, name);
}

export async function newPage(options = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 }, ...options });
  const page = await ctx.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (e) => console.error('page error:', e.message));
  return page;
}

export async function signUp(page, email, password) {
  await page.goto(`${base}/signup`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Repeat the password').fill(password);
  await page.getByRole('button', { name: 'Create login' }).click();
  await page.getByRole('heading', { name: 'Your recovery kit' }).waitFor();
}

// A new login (no kit for now) with one team of its own, open on its page.
export async function newTeam(page, email, password, team) {
  await signUp(page, email, password);
  await page.getByRole('button', { name: 'Skip for now' }).click();
  await page.getByLabel('Name', { exact: true }).fill(team);
  await page.getByRole('button', { name: 'Create team' }).click();
  await page.getByRole('heading', { name: team }).waitFor();
}

// Opens an invitation link in a fresh page load, signs in and accepts (the caller checks how
// that went: the code to read out, or a refusal).
export async function openInvitation(page, link, email, password) {
  await page.goto('about:blank'); // a new page load, not a same-document fragment change
  await page.goto(link);
  await page.getByRole('link', { name: 'Sign in', exact: true }).last().click();
  await signIn(page, email, password);
  await page.getByRole('button', { name: 'Accept invitation' }).click();
}

// An item's row in the (virtualised) list, by text of its title or summary.
export function itemRow(page, text) {
  return page.locator('#item-list .item-open', { hasText: text });
}

// A refusal's error code sits under "Details" in the flash (present, folded).
export async function flashCode(page, code) {
  await page.locator('#flash:not([hidden]) details code', { hasText: code }).waitFor({ state: 'attached' });
}

export async function signIn(page, email, password) {
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

// Browser storage holds nothing but `vouchsafe.trust` — verified log heads per user id (account
// id → [sequence number, hash]) — and `vouchsafe.teams` — per user id the account ids verified
// with their admin, rejected, or seen forked — and, in session storage, the tab's session id (so a reload
// replaces its session): no key, password, token or plaintext.
export async function noSecretsStored(page, ...secrets) {
  const stored = await page.evaluate(async () => ({
    keys: Object.keys(localStorage).sort(),
    trust: localStorage.getItem('vouchsafe.trust'),
    teams: localStorage.getItem('vouchsafe.teams') || '{}',
    session: Object.keys(sessionStorage).filter((k) => k !== 'vouchsafe.session').length,
    sessionId: sessionStorage.getItem('vouchsafe.session'),
    idb: (await indexedDB.databases()).length,
    cookies: document.cookie,
  }));
  // The tab's session id (a name for the session, not a credential) may sit in session storage.
  assert.ok(stored.sessionId === null || /^[A-Za-z0-9_-]{16,64}$/.test(stored.sessionId), stored.sessionId);
  delete stored.sessionId;
  assert.deepEqual({ ...stored, trust: undefined, teams: undefined, keys: stored.keys.filter((k) => k !== 'vouchsafe.teams') },
    { keys: ['vouchsafe.trust'], trust: undefined, teams: undefined, session: 0, idb: 0, cookies: '' });
  const trust = JSON.parse(stored.trust);
  for (const heads of Object.values(trust)) {
    for (const [account, head] of Object.entries(heads)) {
      assert.match(account, /^[A-Za-z0-9_-]+$/);
      assert.ok(Array.isArray(head) && head.length === 2 && Number.isInteger(head[0]) && /^[A-Za-z0-9_-]{43}$/.test(head[1]), JSON.stringify(head));
    }
  }
  for (const marks of Object.values(JSON.parse(stored.teams))) {
    assert.deepEqual(Object.keys(marks).sort(), ['forks', 'rejected', 'verified']);
    for (const id of [...marks.verified, ...marks.rejected, ...Object.keys(marks.forks)]) assert.match(id, /^[A-Za-z0-9_-]+$/);
  }
  for (const s of secrets) assert.ok(!stored.trust.includes(s) && !stored.teams.includes(s), 'a secret reached browser storage');
}

// Starts the server and the browser for the test file that calls it. `host` names the origin
// the pages are opened at (WebAuthn needs a domain: `localhost`, not an IP address).
export function setup(extraEnv = {}, host = '127.0.0.1') {
  before(async () => {
    assert.ok(fs.existsSync(bin), `build the server first (cargo build --release): ${bin}`);
    fs.mkdirSync(shots, { recursive: true });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vouchsafe-browser-'));
    const port = await freePort();
    base = `http://${host}:${port}`;
    const probe = `http://127.0.0.1:${port}`;
    server = spawn(bin, ['serve'], {
      env: { ...process.env, VOUCHSAFE_BIND: `127.0.0.1:${port}`, VOUCHSAFE_PUBLIC_URL: base, VOUCHSAFE_DATA_DIR: dataDir, VOUCHSAFE_LOG: 'warn',
        // The shortest access-token lifetime: the dashboard must refresh on its own.
        VOUCHSAFE_ACCESS_TOKEN_TTL_SECS: '60', ...extraEnv },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    await waitFor(async () => {
      try {
        return (await fetch(`${probe}/readyz`)).ok;
      } catch {
        return false;
      }
    }, 'the server');
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run'],
    });
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) server.kill('SIGTERM');
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });
}
