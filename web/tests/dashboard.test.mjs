// The dashboard as a team uses it all day: the item list at 10,000 records, the editor, secret
// fields and the clipboard, import of every supported format and the export round trip, sessions,
// the recovery kit file, phone widths, delivery of the assets and the 404 page.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  setup, base, root, mailLink, shot, newPage, signUp, itemRow, signIn, newTeam, openInvitation,
} from './harness.mjs';

setup();

const fixtures = path.join(import.meta.dirname, 'fixtures');
const LONG = 15 * 60_000;

async function flashText(page, text) {
  await page.locator('#flash:not([hidden])', { hasText: text }).waitFor();
}

// Imports a file (path or { name, mimeType, buffer }) through the page; returns the preview heading.
async function importFile(page, file, { password, count } = {}) {
  const box = page.locator('details.transfer');
  if (!(await box.evaluate((d) => d.open))) await box.locator('summary').click();
  await page.getByLabel('File to import').setInputFiles(file);
  if (password) {
    await page.getByLabel('Password of the file').fill(password);
    await page.getByRole('button', { name: 'Open the file' }).click();
  }
  const heading = (await page.locator('#preview-h').textContent()).trim();
  if (count !== undefined) assert.match(heading, new RegExp(`: ${count.toLocaleString('en')} records$`), heading);
  return heading;
}

async function commitImport(page, n) {
  await page.getByRole('button', { name: `Import ${n.toLocaleString('en')} records` }).click();
  await page.locator('#flash:not([hidden])', { hasText: `Imported ${n.toLocaleString('en')} records` }).waitFor({ timeout: LONG });
}

function headersOf(p, accept) {
  return new Promise((resolve, reject) => {
    http.get(`${base}${p}`, { headers: accept ? { 'Accept-Encoding': accept } : {} }, (res) => {
      let bytes = 0;
      res.on('data', (c) => { bytes += c.length; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes }));
    }).on('error', reject);
  });
}

test('assets go out precompressed with immutable hashed names; unknown pages get the dashboard\'s 404', async () => {
  const html = await (await fetch(`${base}/`)).text();
  const app = html.match(/src="(\/assets\/app\.[0-9a-f]{12}\.js)"/);
  assert.ok(app, 'the page loads a content-hashed app.js');
  const js = await (await fetch(`${base}${app[1]}`)).text();
  const wasm = js.match(/\/assets\/[^'"]*vouchsafe_web_bg\.[0-9a-f]{12}\.wasm|vouchsafe_web_bg\.[0-9a-f]{12}\.wasm/);
  assert.ok(wasm || (await (await fetch(`${base}/assets/worker.js`)).text()).match(/vouchsafe_web_bg\.[0-9a-f]{12}\.wasm/), 'the engine is content-hashed');
  const sizes = {};
  for (const [enc, want] of [['br', 'br'], ['gzip', 'gzip'], ['gzip;q=0, br;q=0', undefined], [undefined, undefined]]) {
    const r = await headersOf(app[1], enc);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], want, `Accept-Encoding ${enc}`);
    assert.match(r.headers['cache-control'], /max-age=31536000, immutable/);
    assert.match(r.headers.vary || '', /accept-encoding/i);
    sizes[want || 'identity'] = r.bytes;
  }
  assert.ok(sizes.br < sizes.identity / 2 && sizes.gzip < sizes.identity / 2, JSON.stringify(sizes));
  console.log(`app.js bytes on the wire: ${JSON.stringify(sizes)}`);
  // The page itself and unhashed names are revalidated, never cached blindly.
  assert.match((await headersOf('/', 'br')).headers['cache-control'], /no-cache/);
  // An unknown page is the dashboard's own page, with a 404 status; the API and assets stay JSON.
  const missing = await fetch(`${base}/no/such/page`);
  assert.equal(missing.status, 404);
  assert.match(missing.headers.get('content-type'), /text\/html/);
  for (const p of ['/api/v1/nope', '/assets/nope.js']) {
    const r = await fetch(`${base}${p}`);
    assert.equal(r.status, 404, p);
    assert.equal((await r.json()).error.code, 'route.not_found', p);
  }
  const page = await newPage();
  await page.goto(`${base}/no/such/page`);
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  await page.getByRole('link', { name: 'Back to your teams' }).waitFor();
  await shot(page, '20-not-found');
  await page.context().close();
});

test('the editor keeps what was typed: order, one name per field, no empty item, limits in plain words', async () => {
  const page = await newPage();
  await newTeam(page, 'ivy@example.com', 'ivy password one', 'Ivy Editors');
  await page.locator('#new-item').click();
  const ed = page.locator('form.editor');
  await ed.getByRole('button', { name: 'Create item' }).click();
  await flashText(page, 'This item is empty: fill in at least one value.');
  const values = ed.locator('.fvalue');
  await values.nth(0).fill('Zed Corp');
  await values.nth(1).fill('zed@example.com');
  await ed.getByRole('button', { name: 'Add field' }).click();
  await ed.locator('.fname').nth(5).fill('email');
  await values.nth(5).fill('second@example.com');
  await ed.getByRole('button', { name: 'Create item' }).click();
  await flashText(page, 'Two fields are named “email”: give each field its own name.');
  await ed.locator('.fname').nth(5).fill('zeta');
  await ed.getByRole('button', { name: 'Add field' }).click();
  await ed.locator('.fname').nth(6).fill('alpha');
  await values.nth(6).fill('x'.repeat(70_000));
  await ed.getByRole('button', { name: 'Create item' }).click();
  await flashText(page, 'The value of “alpha” is too long: at most 65,536 bytes');
  assert.doesNotMatch(await page.locator('#flash').textContent(), /KiB|base64|client\./);
  await values.nth(6).fill('a1');
  await ed.getByRole('button', { name: 'Create item' }).click();
  await page.locator('.item-view').waitFor();
  assert.deepEqual(await page.locator('.item-view dt').allTextContents(), ['name', 'email', 'zeta', 'alpha'], 'the order entered, blanks left out');
  await itemRow(page, 'Zed Corp').waitFor();
  // Edited: a field added at the top stays on top.
  await page.getByRole('button', { name: 'Edit' }).click();
  await page.locator('form.editor .fname').first().waitFor();
  assert.deepEqual(await page.locator('form.editor .fname').evaluateAll((xs) => xs.map((x) => x.value)), ['name', 'email', 'zeta', 'alpha']);
  await page.locator('form.editor .fvalue').nth(3).fill('a2');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await flashText(page, 'Saved.');
  assert.deepEqual(await page.locator('.item-view dd .value').allTextContents(), ['Zed Corp', 'zed@example.com', 'second@example.com', 'a2']);
  await shot(page, '21-item-view');
  await page.context().close();
});

test('a secret field is masked, revealed on request, and the copied value leaves the clipboard after 30 s', async () => {
  const page = await newPage({ permissions: ['clipboard-read', 'clipboard-write'] });
  await page.clock.install();
  await newTeam(page, 'jon@example.com', 'jon password one', 'Jon Logins');
  await page.getByLabel('Template').selectOption('login');
  await page.locator('#new-item').click();
  const ed = page.locator('form.editor');
  await ed.locator('.fvalue').nth(0).fill('Mail admin');
  await ed.locator('.fvalue').nth(1).fill('root');
  assert.ok(await ed.locator('.fsecret').nth(2).isChecked(), 'the login template marks its password secret');
  await ed.locator('.field-row').nth(2).getByRole('button', { name: 'Generate' }).click();
  await waitUntil(async () => (await ed.locator('.fvalue').nth(2).inputValue()).length === 20, 'a generated password');
  const generated = await ed.locator('.fvalue').nth(2).inputValue();
  assert.equal(await ed.locator('.fvalue').nth(2).getAttribute('type'), 'password');
  await ed.getByRole('button', { name: 'Create item' }).click();
  const pw = page.locator('.item-view dd[data-field="password"]');
  await pw.waitFor();
  assert.equal(await pw.locator('.value').textContent(), '••••••••');
  assert.ok(!(await page.locator('main').innerHTML()).includes(generated), 'a secret is not in the page until revealed');
  assert.ok(!(await page.locator('#item-list').textContent()).includes(generated), 'nor in the list');
  const reveal = pw.getByRole('button', { name: 'Reveal password' });
  await reveal.click();
  assert.equal(await pw.locator('.value').textContent(), generated);
  assert.equal(await reveal.getAttribute('aria-pressed'), 'true');
  await reveal.click();
  assert.equal(await pw.locator('.value').textContent(), '••••••••');
  const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
  await pw.getByRole('button', { name: 'Copy' }).click();
  await flashText(page, 'password copied. The clipboard is cleared in 30 seconds.');
  assert.equal(await clipboard(), generated);
  await page.clock.fastForward(29_000);
  assert.equal(await clipboard(), generated, 'still there before 30 s');
  await page.clock.fastForward(2_000);
  await waitUntil(async () => (await clipboard()) === '', 'the clipboard cleared');
  // Something else copied meanwhile is left alone.
  await pw.getByRole('button', { name: 'Copy' }).click();
  await waitUntil(async () => (await clipboard()) === generated, 'copied again');
  await page.evaluate(() => navigator.clipboard.writeText('my own note'));
  await page.clock.fastForward(31_000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await clipboard(), 'my own note');
  await page.context().close();
});

async function waitUntil(fn, what) {
  const end = Date.now() + 10_000;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('imports Bitwarden JSON and CSV, 1Password CSV and plain CSV; exports encrypted and re-imports, or plain CSV after a warning', async () => {
  const page = await newPage({ acceptDownloads: true });
  await newTeam(page, 'kay@example.com', 'kay password one', 'Kay Imports');
  const cases = [
    ['bitwarden.json', /^Bitwarden \(JSON\)/, 3, 'Acme billing portal', 'finance@acme.example', null],
    ['bitwarden.csv', /^Bitwarden \(CSV\)/, 2, 'Globex CRM', 'ops@globex.example', 'Bw-Csv-Pass-33'],
    ['1password.csv', /^1Password \(CSV\)/, 2, 'Initech VPN', 'peter@initech.example', '1P-Pass-9090'],
    ['plain.csv', /CSV/, 2, 'Umbrella Corp', 'it@umbrella.example', null],
  ];
  let total = 0;
  for (const [file, format, n, title, visible, secret] of cases) {
    const heading = await importFile(page, path.join(fixtures, file), { count: n });
    assert.match(heading, format, file);
    const preview = await page.locator('#preview-table').textContent();
    assert.ok(preview.includes(visible), `${file}: preview shows ${visible}`);
    if (secret) assert.ok(!preview.includes(secret), `${file}: the preview masks secret values`);
    if (file === 'bitwarden.json') await shot(page, '22-import-preview');
    await commitImport(page, n);
    total += n;
    await page.locator('#item-count', { hasText: `${total} items` }).waitFor();
    await itemRow(page, title).waitFor();
  }
  // Each imported value is searchable, secret flags kept.
  await page.locator('#item-search').fill('initech');
  await page.locator('#item-count', { hasText: `1 of ${total} items match` }).waitFor();
  await itemRow(page, 'Initech VPN').click();
  await page.locator('.item-view dd[data-field="password"] .value', { hasText: '••••••••' }).waitFor();
  await page.locator('#item-search').fill('');

  // Encrypted export: the file holds no plaintext, and opens only with its password.
  await page.locator('#export-encrypted').click();
  await page.getByLabel('File password', { exact: true }).fill('export pass phrase');
  await page.getByLabel('Repeat the file password').fill('export pass phrase');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download encrypted file' }).click()]);
  const exported = fs.readFileSync(await download.path(), 'utf8');
  assert.match(download.suggestedFilename(), /^vouchsafe-Kay-Imports-\d{4}-\d{2}-\d{2}\.vouchsafe\.json$/);
  const file = JSON.parse(exported);
  assert.equal(file.vouchsafe_export, 1);
  for (const plain of ['Umbrella', 'Initech', 'AC-4471', '1P-Pass-9090', 'Kay Imports']) assert.ok(!exported.includes(plain), `${plain} in the encrypted export`);
  await flashText(page, `Exported ${total} items, encrypted.`);

  // Plain CSV: only after the warning.
  await page.locator('#export-csv').click();
  await page.getByText('A plain CSV file is NOT encrypted').waitFor();
  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'I understand: download plain CSV' }).click()]);
  const text = fs.readFileSync(await csv.path(), 'utf8');
  assert.ok(text.includes('Umbrella Corp') && text.includes('1P-Pass-9090'), 'the CSV holds every value');
  assert.equal(text.trim().split('\n').filter((l) => /Umbrella Corp|Initech VPN|Globex CRM/.test(l)).length, 3);

  // Re-import into a second team: a wrong password is refused, the right one gives the same items.
  await page.getByRole('link', { name: 'Teams' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Kay Restored');
  await page.getByRole('button', { name: 'Create team' }).click();
  await page.getByRole('heading', { name: 'Kay Restored' }).waitFor();
  const box = page.locator('details.transfer');
  await box.locator('summary').click();
  const restore = { name: download.suggestedFilename(), mimeType: 'application/json', buffer: Buffer.from(exported) };
  await page.getByLabel('File to import').setInputFiles(restore);
  await page.getByLabel('Password of the file').fill('not the password');
  await page.getByRole('button', { name: 'Open the file' }).click();
  await page.locator('#import-preview .bad').waitFor();
  await page.getByLabel('Password of the file').fill('export pass phrase');
  await page.getByRole('button', { name: 'Open the file' }).click();
  assert.match((await page.locator('#preview-h').textContent()).trim(), new RegExp(`^Vouchsafe.*: ${total} records$`));
  await commitImport(page, total);
  await page.locator('#item-count', { hasText: `${total} items` }).waitFor();
  await itemRow(page, 'Initech VPN').click();
  await page.locator('.item-view dd[data-field="password"] .value', { hasText: '••••••••' }).waitFor();
  await page.locator('.item-view dd[data-field="password"]').getByRole('button', { name: 'Reveal password' }).click();
  await page.locator('.item-view dd[data-field="password"] .value', { hasText: '1P-Pass-9090' }).waitFor();
  await page.context().close();
});

function rendererRssMiB() {
  try {
    const out = execFileSync('ps', ['-eo', 'rss=,args='], { encoding: 'utf8' });
    const rss = out.split('\n').filter((l) => /chrom/.test(l) && l.includes('--type=renderer')).map((l) => Number(l.trim().split(/\s+/)[0]));
    return rss.length ? Math.round(Math.max(...rss) / 1024) : null;
  } catch {
    return null;
  }
}

test('ten thousand records: imported with progress, decrypted and searchable in the tab (timings reported, not asserted)', { timeout: 30 * 60_000 }, async () => {
  const N = 10_000;
  const page = await newPage();
  page.setDefaultTimeout(LONG);
  const K = { email: 'lou@example.com', password: 'lou password one' };
  await newTeam(page, K.email, K.password, 'Lou Ten Thousand');
  const managers = ['Ada', 'Grace', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Radia'];
  const lines = ['Customer,Email,Phone,Notes'];
  for (let i = 0; i < N; i += 1) lines.push(`Customer ${String(i).padStart(5, '0')},c${i}@example.com,+1 555 ${String(i).padStart(4, '0')},Account manager ${managers[i % 8]}; tier ${i % 3}`);
  await importFile(page, { name: 'customers.csv', mimeType: 'text/csv', buffer: Buffer.from(lines.join('\n')) }, { count: N });
  const t0 = Date.now();
  await page.getByRole('button', { name: `Import ${N.toLocaleString('en')} records` }).click();
  await page.locator('#busy-progress').waitFor({ state: 'visible' });
  await page.locator('#flash:not([hidden])', { hasText: `Imported ${N.toLocaleString('en')} records` }).waitFor({ timeout: LONG });
  const importS = (Date.now() - t0) / 1000;

  // Opened fresh: sign in again (a reload drops the keys) and open the team.
  await page.reload();
  await signIn(page, K.email, K.password);
  await page.getByRole('heading', { name: 'Lou Ten Thousand' }).waitFor();
  await page.getByRole('link', { name: 'Teams' }).click();
  const opened = Date.now();
  await page.getByRole('link', { name: 'Lou Ten Thousand' }).click();
  await page.locator('#item-count', { hasText: `${N.toLocaleString('en')} items` }).waitFor();
  const openMs = Date.now() - opened;
  const timings = await page.evaluate(() => ({ ...window.vouchsafeTimings }));
  assert.equal(timings.items, N);
  assert.ok(await page.locator('#item-list .vrow').count() < 60, 'the list is virtualised');

  // A keystroke at a time, as a person types; each search runs over all 10,000 in the worker.
  const search = [];
  const box = page.locator('#item-search');
  let typed = '';
  for (const ch of 'grace tier 2') {
    typed += ch;
    await box.press(ch === ' ' ? 'Space' : ch);
    await page.waitForFunction((q) => window.vouchsafeTimings.query === q, typed);
    search.push(await page.evaluate(() => window.vouchsafeTimings.search_ms));
  }
  await page.locator('#item-count', { hasText: `of ${N.toLocaleString('en')} items match` }).waitFor();
  const matched = (await page.locator('#item-count').textContent()).trim();
  // Every word of the query, anywhere in a field's name or value (case-folded), as the engine
  // searches: counted here from the rows themselves.
  const words = typed.toLowerCase().split(/\s+/).filter(Boolean);
  const header = lines[0].split(',');
  const want = lines.slice(1).filter((l) => {
    const hay = l.split(',').map((v, i) => `${header[i]}\u0001${v}`).join('\u0001').toLowerCase();
    return words.every((w) => hay.includes(w));
  }).length;
  assert.ok(want > 0 && want < N, `${want}`);
  assert.equal(matched, `${want.toLocaleString('en')} of ${N.toLocaleString('en')} items match`);
  await box.fill('c9999@example.com');
  await page.locator('#item-count', { hasText: `1 of ${N.toLocaleString('en')} items match` }).waitFor();
  await itemRow(page, 'Customer 09999').waitFor();
  await box.fill('');
  // Scrolled to the end: the last record is drawn.
  await page.locator('#item-list').evaluate((l) => { l.scrollTop = l.scrollHeight; });
  await page.getByRole('combobox', { name: 'Sort' }).selectOption('title');
  await page.locator('#item-list').evaluate((l) => { l.scrollTop = l.scrollHeight; });
  await itemRow(page, 'Customer 09999').waitFor();
  const rss = rendererRssMiB();
  const sorted = [...search].sort((a, b) => a - b);
  const figures = {
    items: N, import_s: importS, open_ms: openMs, load_ms: Math.round(timings.load_ms),
    search_ms_median: Math.round(sorted[Math.floor(sorted.length / 2)] * 10) / 10, search_ms_max: Math.round(sorted[sorted.length - 1] * 10) / 10,
    renderer_rss_mib: rss,
  };
  console.log(`BENCH dashboard-10k ${JSON.stringify(figures)}`);
  fs.mkdirSync(path.join(root, 'target'), { recursive: true });
  fs.writeFileSync(path.join(root, 'target/dashboard-bench.json'), `${JSON.stringify(figures, null, 2)}\n`);
  await shot(page, '23-ten-thousand');
  await page.context().close();
});

test('sessions are named by browser and system, a reload replaces its session, and the list follows sign-outs', async () => {
  const page = await newPage();
  const M = { email: 'mia@example.com', password: 'mia password one' };
  await signUp(page, M.email, M.password);
  await page.getByRole('button', { name: 'Skip for now' }).click();
  const sessions = async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.locator('#sessions').waitFor();
    return page.locator('#sessions tbody tr').count();
  };
  assert.equal(await sessions(), 1);
  assert.match((await page.locator('#sessions td.device').first().textContent()).trim(), /^Chrome \d+ on Linux$/);
  for (let i = 0; i < 2; i += 1) {
    await page.reload();
    await signIn(page, M.email, M.password);
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    assert.equal(await sessions(), 1, 'a reload does not pile up sessions');
  }
  const other = await newPage();
  await other.goto(`${base}/signin`);
  await signIn(other, M.email, M.password);
  await other.getByRole('heading', { name: 'Teams' }).waitFor();
  await page.getByRole('link', { name: 'Teams' }).click();
  assert.equal(await sessions(), 2, 'another tab is another session');
  await shot(page, '24-sessions');
  await page.getByRole('button', { name: 'Sign out all other sessions' }).click();
  await flashText(page, 'Every other session is signed out.');
  assert.equal(await page.locator('#sessions tbody tr').count(), 1, 'the list is refreshed');
  assert.equal(await page.getByRole('button', { name: 'Sign out all other sessions' }).count(), 0);
  await other.getByRole('link', { name: 'Settings' }).click();
  await other.getByText('Your session ended. Please sign in again.').first().waitFor();
  await other.context().close();
  await page.context().close();
});

test('the recovery kit downloads as a file, and a new kit is made only after a confirmation', async () => {
  const page = await newPage({ acceptDownloads: true });
  const N = { email: 'ned@example.com', password: 'ned password one' };
  await signUp(page, N.email, N.password);
  await page.getByRole('button', { name: 'Create recovery kit' }).click();
  const code = (await page.locator('#kit-code').textContent()).trim();
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download as a file' }).click()]);
  const text = fs.readFileSync(await file.path(), 'utf8');
  assert.ok(text.includes(`Recovery code: ${code}`) && text.includes(N.email), text);
  assert.equal(file.suggestedFilename(), 'vouchsafe-recovery-kit-ned@example.com.txt');
  await page.getByRole('button', { name: 'I have written it down' }).click();
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('link', { name: 'Make a new kit' }).click();
  let asked = 0;
  page.once('dialog', (d) => { asked += 1; d.dismiss(); });
  await page.getByRole('button', { name: 'Create recovery kit' }).click();
  await waitUntil(async () => asked === 1, 'the confirmation');
  assert.equal(await page.locator('#kit-code').count(), 0, 'declined: no new kit');
  page.once('dialog', (d) => { asked += 1; d.accept(); });
  await page.getByRole('button', { name: 'Create recovery kit' }).click();
  const second = (await page.locator('#kit-code').textContent()).trim();
  assert.notEqual(second, code);
  await page.context().close();
});

test('on a 390 px phone the members table keeps codes and Confirm on screen; inviting twice leaves one invitation', async () => {
  const admin = await newPage();
  const O = { email: 'olga@example.com', password: 'olga password one' };
  const P = { email: 'pat@example.com', password: 'pat password one' };
  await newTeam(admin, O.email, O.password, 'Olga Phones');
  await admin.getByRole('link', { name: 'Members' }).click();
  const links = [];
  for (let i = 0; i < 2; i += 1) {
    await admin.getByLabel('Email').fill(P.email);
    await admin.getByRole('button', { name: 'Send invitation' }).click();
    await flashText(admin, `Invitation sent to ${P.email}`);
    links.push(await mailLink(P.email, '/invite'));
    await admin.locator(`tr[data-invitation="${P.email}"]`).first().waitFor();
  }
  const [first, second] = links;
  assert.equal(await admin.locator(`tr[data-invitation="${P.email}"]`).count(), 1, 'one open invitation per address');
  const member = await newPage();
  await signUp(member, P.email, P.password);
  await member.getByRole('button', { name: 'Skip for now' }).click();
  // The first link was replaced by the second: it is refused.
  await openInvitation(member, first, P.email, P.password);
  await member.locator('#flash:not([hidden])').waitFor();
  assert.equal(await member.locator('#my-code').count(), 0, 'the replaced invitation is refused');
  await openInvitation(member, second, P.email, P.password);
  const code = (await member.locator('#my-code').textContent()).trim();
  await admin.setViewportSize({ width: 390, height: 844 });
  await admin.reload();
  await signIn(admin, O.email, O.password);
  const row = admin.locator(`tr[data-email="${P.email}"]`);
  await row.waitFor();
  assert.equal(await admin.locator(`tr[data-invitation="${P.email}"]`).count(), 0, 'accepted: no invitation left open');
  for (const el of [row.locator('.code'), row.getByLabel(/reads to you/), row.getByRole('button', { name: 'Confirm' })]) {
    const b = await el.boundingBox();
    assert.ok(b && b.x >= 0 && b.x + b.width <= 390, `on screen at 390 px: ${JSON.stringify(b)}`);
  }
  assert.ok(await admin.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling');
  await shot(admin, '25-members-phone');
  await row.getByLabel(/reads to you/).fill(code);
  await row.getByRole('button', { name: 'Confirm' }).click();
  await flashText(admin, `${P.email} is confirmed`);
  await admin.context().close();
  await member.context().close();
});

test('a member deprovisioned by an API token: the team list asks for the rotation, and the dashboard finishes it', async () => {
  const admin = await newPage();
  const Q = { email: 'quinn@example.com', password: 'quinn password one' };
  const R = { email: 'rex@example.com', password: 'rex password one' };
  await newTeam(admin, Q.email, Q.password, 'Quinn Rotations');
  const account = new URL(admin.url()).pathname.split('/')[2];
  await admin.getByRole('link', { name: 'Members' }).click();
  await admin.getByLabel('Email').fill(R.email);
  await admin.getByRole('button', { name: 'Send invitation' }).click();
  const link = await mailLink(R.email, '/invite');
  const member = await newPage();
  await signUp(member, R.email, R.password);
  await member.getByRole('button', { name: 'Skip for now' }).click();
  await openInvitation(member, link, R.email, R.password);
  const code = (await member.locator('#my-code').textContent()).trim();
  await admin.reload();
  await signIn(admin, Q.email, Q.password);
  const row = admin.locator(`tr[data-email="${R.email}"]`);
  await row.getByLabel(/reads to you/).fill(code);
  await row.getByRole('button', { name: 'Confirm' }).click();
  await flashText(admin, `${R.email} is confirmed`);

  // The HR system's token (made with the CLI, as an admin would) deprovisions Rex.
  const cliHome = fs.mkdtempSync(path.join(root, 'target/cli-'));
  const cli = (...args) => execFileSync(process.env.VOUCHSAFE_BIN || path.join(root, 'target/release/vouchsafe'), args, {
    encoding: 'utf8', env: { ...process.env, VOUCHSAFE_PROFILE: path.join(cliHome, 'profile.json'), VOUCHSAFE_PASSWORD: Q.password, VOUCHSAFE_SERVER: base },
  }).trim();
  try {
    cli('login', '--email', Q.email);
    const token = cli('token', 'create', account, '--name', 'HR sync', '--scope', 'members:read', '--scope', 'members:deprovision').split('\n').pop().trim();
    const auth = { Authorization: `Bearer ${token}` };
    const members = await (await fetch(`${base}/api/v1/accounts/${account}/members`, { headers: auth })).json();
    const rex = members.find((m) => m.email === R.email);
    assert.ok(rex, JSON.stringify(members));
    const gone = await fetch(`${base}/api/v1/accounts/${account}/members/${rex.user_id}`, { method: 'DELETE', headers: auth });
    assert.ok(gone.ok, `${gone.status}`);
  } finally {
    fs.rmSync(cliHome, { recursive: true, force: true });
  }

  await admin.getByRole('link', { name: 'Teams' }).click();
  const banner = admin.locator(`.rotation-banner[data-team="${account}"]`);
  await banner.getByText('Quinn Rotations: someone left the team and its key has not been rotated yet.').waitFor();
  await shot(admin, '26-rotation-banner');
  await banner.getByRole('link', { name: 'Finish the rotation' }).click();
  await admin.getByText(/Key rotation unfinished/).waitFor();
  await admin.getByRole('button', { name: 'Finish rotation' }).click();
  await flashText(admin, 'Rotation finished.');
  await admin.locator('p.muted', { hasText: 'key version 2' }).waitFor();
  await admin.getByRole('link', { name: 'Teams' }).click();
  await admin.getByRole('link', { name: 'Quinn Rotations' }).waitFor();
  assert.equal(await admin.locator('.rotation-banner').count(), 0, 'rotated: no banner');
  await admin.context().close();
  await member.context().close();
});

test('the inbox: an admin makes the key, a provider deposits with the CLI pinned to its code, the record is opened and filed', async () => {
  const I = { email: 'ines@example.com', password: 'ines inbox password 1' };
  const page = await newPage();
  await newTeam(page, I.email, I.password, 'Intake desk');
  const account = new URL(page.url()).pathname.split('/')[2];
  await page.getByRole('link', { name: 'Inbox' }).click();
  await page.locator('#no-inbox').waitFor();
  await page.getByRole('button', { name: 'Create the inbox key' }).click();
  await flashText(page, 'Inbox key 1 created');
  const code = (await page.locator('#inbox-code').textContent()).trim();
  assert.match(code, /^[0-9 ]{30,}$/, code);

  // The admin sets up the provider with the CLI; the provider deposits, pinned to the code.
  const cliHome = fs.mkdtempSync(path.join(root, 'target/cli-'));
  const bin = process.env.VOUCHSAFE_BIN || path.join(root, 'target/release/vouchsafe');
  const env = { ...process.env, VOUCHSAFE_PROFILE: path.join(cliHome, 'profile.json'), VOUCHSAFE_PASSWORD: I.password, VOUCHSAFE_SERVER: base };
  const cli = (extra, ...args) => execFileSync(bin, args, { encoding: 'utf8', env: { ...env, ...extra } }).trim();
  try {
    cli({}, 'login', '--email', I.email);
    const token = cli({}, 'provider', 'add', account, 'Credit bureau').split('\n').pop().trim();
    assert.match(token, /^vst_/);
    const wrong = code.replace(/[0-9]$/, (d) => String((Number(d) + 1) % 10));
    assert.throws(() => cli({ VOUCHSAFE_PROVIDER_TOKEN: token }, 'deposit', '--server', base, '--account', account, '--code', wrong, '--id', 'r0', 'name=Nobody'));
    cli({ VOUCHSAFE_PROVIDER_TOKEN: token }, 'deposit', '--server', base, '--account', account, '--code', code,
      '--id', 'report-1', 'name=Jane Roe', 'score=712');
  } finally {
    fs.rmSync(cliHome, { recursive: true, force: true });
  }

  await page.reload();
  await signIn(page, I.email, I.password);
  await page.locator('#inbox-count', { hasText: '1 deposit waiting.' }).waitFor();
  const row = page.locator('tr[data-deposit="report-1"]');
  await row.getByText('Credit bureau').waitFor();
  await row.getByRole('button', { name: 'Open' }).click();
  await page.locator('#deposit dd', { hasText: 'Jane Roe' }).waitFor();
  assert.ok(!(await page.locator('#deposit').textContent()).includes('null'), 'nothing but the record is shown');
  await shot(page, '27-inbox');
  await row.getByRole('button', { name: 'File as item' }).click();
  await flashText(page, 'Filed as item');
  await page.locator('#inbox-count', { hasText: '0 deposits waiting.' }).waitFor();
  await page.getByRole('link', { name: 'Items' }).click();
  await itemRow(page, 'Jane Roe').waitFor();
  await page.context().close();
});

test('the pages no other test photographs pass axe-core too', async () => {
  const page = await newPage();
  for (const [p, heading] of [['/signup', 'Create a login'], ['/signin', 'Sign in'], ['/reset', 'Forgot your password?'], ['/recover', 'Recover with your kit'],
    ['/invite', 'Invitation'], ['/reset/cancel', null]]) {
    await page.goto(`${base}${p}`);
    if (heading) await page.getByRole('heading', { name: heading }).first().waitFor();
    else await page.locator('main h1').waitFor();
    await shot(page, `27-page${p.replaceAll('/', '-')}`);
  }
  await signUp(page, 'sam@example.com', 'sam password one');
  await shot(page, '27-kit-offer-signed-in');
  await page.getByRole('button', { name: 'Skip for now' }).click();
  await page.goto(`${base}/guardian`);
  await signIn(page, 'sam@example.com', 'sam password one');
  await page.locator('main h1').waitFor();
  await shot(page, '27-page-guardian');
  await page.context().close();
});
