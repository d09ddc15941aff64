// Whole-story browser tests of the dashboard: a real `vouchsafe serve` (SQLite, outbox mail), Debian's
// Chromium driven by playwright-core, and the links taken from the mail the server wrote.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  setup, base, dataDir, browser, mailLink, shot, newPage, signUp, itemRow, flashCode, signIn, noSecretsStored, newTeam,
  openInvitation,
} from './harness.mjs';

setup();

test('pages carry a strict CSP and no referrer; unknown paths stay JSON 404s', async () => {
  for (const p of ['/', '/invite', '/assets/app.js', '/assets/pkg/vouchsafe_web_bg.wasm']) {
    const r = await fetch(`${base}${p}`);
    assert.equal(r.status, 200, p);
    const csp = r.headers.get('content-security-policy');
    assert.match(csp, /default-src 'none'/, p);
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval';/, p);
    assert.doesNotMatch(csp, /unsafe-inline|https?:/, p);
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer', p);
  }
  const tag = (await fetch(`${base}/assets/app.js`)).headers.get('etag');
  assert.equal((await fetch(`${base}/assets/app.js`, { headers: { 'If-None-Match': tag } })).status, 304);
  const missing = await fetch(`${base}/assets/nope.js`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, 'route.not_found');
  const html = await (await fetch(`${base}/`)).text();
  assert.doesNotMatch(html, /<script>(?!<\/script>)|<script(?![^>]*src=)/, 'no inline script');
});

test('a long-open tab keeps working: the access token is refreshed before it expires', async () => {
  const page = await newPage();
  await signUp(page, 'carol@example.com', 'carol password one');
  await page.getByRole('button', { name: 'Skip for now' }).click();
  await page.getByRole('heading', { name: 'Teams' }).waitFor();
  // Past the token's whole lifetime (60 s): without a refresh, the next request would fail.
  await new Promise((r) => setTimeout(r, 62_000));
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { name: 'Sessions' }).waitFor();
  assert.equal(await page.getByRole('cell', { name: 'this tab' }).count(), 1);
  await page.getByRole('link', { name: 'Teams' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Carol Co');
  await page.getByRole('button', { name: 'Create team' }).click();
  await page.getByRole('heading', { name: 'Carol Co' }).waitFor();
  await page.context().close();
});

test('a server that rolls the team log back after a reload is refused (checkpoints outlive sign-ins)', async () => {
  const page = await newPage();
  const D = { email: 'dave@example.com', password: 'dave password one' };
  await newTeam(page, D.email, D.password, 'Rollback Co');
  // A policy change: the log now has two entries, and the browser keeps the verified head.
  await page.getByRole('link', { name: 'Recovery' }).click();
  await page.getByLabel('Vouches needed').first().fill('2');
  await page.getByRole('button', { name: 'Change policy' }).click();
  await page.getByText('Policy changed.').waitFor();
  await noSecretsStored(page, D.password);
  // The server forgets the policy change (serves the log as it was) — after a reload, which
  // clears every key and forces a new sign-in.
  await page.reload();
  await page.context().route('**/api/v1/accounts/*/log*', async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    body.entries = body.entries.slice(0, 1);
    body.log_len = 1;
    await route.fulfill({ response, json: body });
  });
  await signIn(page, D.email, D.password);
  await page.getByText(/log forked/).waitFor();
  await shot(page, '12-rollback-refused');
  await page.context().close();
});

test('a page that fails to load says why instead of going blank', async () => {
  const page = await newPage();
  await signUp(page, 'grace@example.com', 'grace password one');
  await page.getByRole('button', { name: 'Skip for now' }).click();
  await page.getByRole('heading', { name: 'Teams' }).waitFor();
  await page.context().route('**/api/v1/auth/sessions', (route) => route.fulfill({
    status: 503, contentType: 'application/json',
    body: JSON.stringify({ error: { code: 'service.unavailable', message: 'the database is not reachable' } }),
  }));
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { name: 'This page could not load' }).waitFor();
  await page.locator('#page-error', { hasText: 'the database is not reachable' }).waitFor();
  await page.context().close();
});

test('two admins: a policy change proposed in one browser is co-signed in another; one the server alters is refused', async () => {
  const erin = await newPage();
  const frank = await newPage();
  const E = { email: 'erin@example.com', password: 'erin password one' };
  const F = { email: 'frank@example.com', password: 'frank password one' };
  await newTeam(erin, E.email, E.password, 'Two Admins Co');
  const accountPath = new URL(erin.url()).pathname.replace(/\/(items|members|recovery)$/, '');
  await erin.getByRole('link', { name: 'Members' }).click();
  await erin.getByLabel('Email').fill(F.email);
  await erin.locator('select[name=role]').selectOption('admin');
  await erin.getByRole('button', { name: 'Send invitation' }).click();
  await erin.getByText(`Invitation sent to ${F.email}`).waitFor();
  await signUp(frank, F.email, F.password);
  await frank.getByRole('button', { name: 'Skip for now' }).click();
  await openInvitation(frank, await mailLink(F.email, '/invite'), F.email, F.password);
  const frankCode = (await frank.locator('#my-code').textContent()).trim();
  // Accepted, not yet confirmed: the team page says so (not the reset message, no stray "null").
  await frank.getByRole('link', { name: 'go to the team' }).click();
  await frank.locator('#not-confirmed').waitFor();
  const text = await frank.locator('main').textContent();
  assert.ok(!text.includes('null') && !text.includes('must vouch'), text);
  await erin.reload();
  await signIn(erin, E.email, E.password);
  const row = erin.locator(`tr[data-email="${F.email}"]`);
  await row.locator('select[name=role]').selectOption('admin');
  await row.getByLabel(/reads to you/).fill(frankCode);
  await row.getByRole('button', { name: 'Confirm' }).click();
  await erin.getByText(`${F.email} is confirmed`).waitFor();

  // Two admins must sign from now on; Erin's next change becomes a proposal.
  await erin.getByRole('link', { name: 'Recovery' }).click();
  await erin.getByLabel('Admins to sign a change').fill('2');
  await erin.getByRole('button', { name: 'Change policy' }).click();
  await erin.getByText('Policy changed.').waitFor();
  await erin.getByLabel('Vouches needed').first().fill('2');
  await erin.getByRole('button', { name: 'Change policy' }).click();
  await erin.getByText(/Proposed \(1 of 2 admin signatures\)/).waitFor();

  // Frank's browser shows what it does, decoded from the signed entry, and he co-signs it.
  await frank.goto(`${base}${accountPath}/recovery`);
  await signIn(frank, F.email, F.password);
  const card = frank.locator('section.proposal');
  await card.getByText('policy change: vouches needed 1 → 2').waitFor();
  await shot(frank, '12-proposal');
  await card.getByRole('button', { name: 'Co-sign' }).click();
  await frank.getByText('Co-signed: the change is applied.').waitFor();
  await frank.locator('dt:has-text("Vouches needed") + dd', { hasText: '2' }).waitFor();

  // A proposal the server alters after Erin signed it: Frank's browser refuses it, offers no co-sign.
  await erin.reload();
  await signIn(erin, E.email, E.password);
  await erin.getByRole('link', { name: 'Recovery' }).click();
  await erin.getByLabel('Waiting period (hours)').fill('24');
  await erin.getByRole('button', { name: 'Change policy' }).click();
  await erin.getByText(/Proposed \(1 of 2/).waitFor();
  await frank.context().route('**/api/v1/accounts/*/proposals', async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    for (const p of body) {
      // Flip a bit of the waiting period in the encoded entry: body ‖ 0 co-signatures ‖ signature[64].
      const bytes = Buffer.from(p.entry, 'base64url');
      bytes[bytes.length - 70] ^= 1;
      p.entry = bytes.toString('base64url');
    }
    await route.fulfill({ response, json: body });
  });
  let cosigned = false;
  await frank.context().route('**/cosign', (route) => { cosigned = true; return route.abort(); });
  await frank.reload();
  await signIn(frank, F.email, F.password);
  const altered = frank.locator('section.proposal');
  await altered.getByText(/This browser refuses it/).waitFor();
  assert.equal(await altered.getByRole('button', { name: 'Co-sign' }).count(), 0);
  assert.ok(!cosigned, 'no co-signature was sent');
  await erin.context().close();
  await frank.context().close();
});

test('the whole story: invite and confirm, reset and vouch, kits with code and with a guardian, removal with rotation', async () => {
  try {
    await story();
  } catch (e) {
    for (const [i, ctx] of browser.contexts().entries()) {
      for (const [j, p] of ctx.pages().entries()) await shot(p, `failure-${i}-${j}`).catch(() => {});
    }
    throw e;
  }
});

async function story() {
  const alice = await newPage();
  const bob = await newPage();
  const A = { email: 'alice@example.com', password: 'correct horse battery' };
  const B = { email: 'bob@example.com', password: 'bob password one' };

  // Alice signs up and makes a recovery kit right away; the code is shown once.
  await signUp(alice, A.email, A.password);
  await shot(alice, '01-kit-offer');
  await alice.getByRole('button', { name: 'Create recovery kit' }).click();
  const aliceKit = (await alice.locator('#kit-code').textContent()).trim();
  assert.match(aliceKit, /^[0-9A-Z-]{20,}$/);
  await shot(alice, '02-kit-code');
  await alice.getByRole('button', { name: 'I have written it down' }).click();
  await alice.getByRole('heading', { name: 'Teams' }).waitFor();
  await noSecretsStored(alice, A.password, aliceKit);

  // Bob signs up and skips the kit for now: the accounts page keeps reminding him.
  await signUp(bob, B.email, B.password);
  await bob.getByRole('button', { name: 'Skip for now' }).click();
  await bob.getByText('You have no recovery kit.').waitFor();

  // Alice creates an account and invites Bob.
  await alice.getByLabel('Name', { exact: true }).fill('Acme Support');
  await alice.getByRole('button', { name: 'Create team' }).click();
  await alice.getByRole('heading', { name: 'Acme Support' }).waitFor();
  await alice.getByRole('link', { name: 'Members' }).click();
  await alice.getByLabel('Email').fill(B.email);
  await alice.getByRole('button', { name: 'Send invitation' }).click();
  await alice.getByText(`Invitation sent to ${B.email}`).waitFor();
  await shot(alice, '03-members-invite');

  // Bob opens the link from the mail: the token leaves the address bar at once.
  const invite = await mailLink(B.email, '/invite');
  await bob.goto(invite);
  assert.ok(!bob.url().includes('token'), bob.url());
  await bob.getByRole('link', { name: 'Sign in', exact: true }).last().click();
  await signIn(bob, B.email, B.password);
  await bob.getByRole('button', { name: 'Accept invitation' }).click();
  const bobCode = (await bob.locator('#my-code').textContent()).trim();
  assert.match(bobCode, /^\d{5}( \d{5}){5}$/);
  await shot(bob, '04-invite-accepted');

  // Alice confirms Bob after he reads his code out; a wrong code is refused first.
  // (A reload forgets the keys: sign in again, and land back on the same page.)
  await alice.reload();
  await signIn(alice, A.email, A.password);
  await alice.getByRole('heading', { name: 'Acme Support' }).waitFor();
  const row = alice.locator(`tr[data-email="${B.email}"]`);
  await row.getByLabel(/reads to you/).fill('11111 11111 11111 11111 11111 11111');
  await row.getByRole('button', { name: 'Confirm' }).click();
  await flashCode(alice, 'client.refused');
  await row.getByLabel(/reads to you/).fill(bobCode);
  await row.getByRole('button', { name: 'Confirm' }).click();
  await alice.getByText(`${B.email} is confirmed`).waitFor();
  await alice.locator(`tr[data-email="${B.email}"] td.status`, { hasText: 'active' }).waitFor();
  // The ceremony is mutual: Alice reads back her code and the team history code.
  const confirmed = await alice.locator('#flash').textContent();
  const [, aliceCode, historyCode] = confirmed.match(/your code ([\d ]+) and the team history code ([\d ]+):/);
  assert.match(historyCode.trim(), /^\d{5} \d{5} \d{5}$/);

  // Alice stores a record; both see it decrypted.
  await alice.getByRole('link', { name: 'Items' }).click();
  await alice.getByRole('button', { name: 'New item' }).click();
  await alice.getByLabel('Value').first().fill('Ada Lovelace');
  await alice.getByLabel('Value').nth(1).fill('ada@example.com');
  await alice.getByRole('button', { name: 'Create item' }).click();
  await itemRow(alice, 'Ada Lovelace').waitFor();
  await shot(alice, '05-items');
  await bob.getByRole('link', { name: 'go to the team' }).click();
  await itemRow(bob, 'Ada Lovelace').waitFor();
  // Bob's browser marks the team unverified until he types the codes Alice reads out.
  await bob.locator('#verify-team').waitFor();
  await shot(bob, '05b-verify-team');
  await bob.getByLabel('Their verification code').fill(aliceCode.trim());
  await bob.getByLabel('Team history code').fill(historyCode.trim());
  await bob.getByRole('button', { name: 'Verify team' }).click();
  await bob.getByText('Team verified').waitFor();
  await bob.locator('#verify-team').waitFor({ state: 'detached' });
  await itemRow(bob, 'Ada Lovelace').click();
  const values = await bob.locator('.item-view dd .value').allTextContents();
  assert.deepEqual(values, ['Ada Lovelace', 'ada@example.com'], 'fields in the order entered, empty ones left out');
  await noSecretsStored(bob, B.password, "Ada Lovelace");

  // The server only ever saw ciphertext.
  const db = fs.readFileSync(path.join(dataDir, 'vouchsafe.db')).toString('latin1')
    + (fs.existsSync(path.join(dataDir, 'vouchsafe.db-wal')) ? fs.readFileSync(path.join(dataDir, 'vouchsafe.db-wal')).toString('latin1') : '');
  assert.ok(!db.includes('Ada Lovelace') && !db.includes(A.password), 'plaintext reached the server');

  // Bob forgets his password: reset by the emailed link, on a fresh device.
  const bob2 = await newPage();
  await bob2.goto(`${base}/signin`);
  await bob2.getByRole('link', { name: 'Forgot your password?' }).click();
  await bob2.getByLabel('Email').fill(B.email);
  await bob2.getByRole('button', { name: 'Send reset link' }).click();
  await bob2.getByText('a reset link is on its way').waitFor();
  const reset = await mailLink(B.email, '/reset');
  await bob2.goto(reset);
  await bob2.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  assert.ok(!bob2.url().includes('token'), bob2.url());
  const B2 = 'bob password two';
  await bob2.getByLabel('New password', { exact: true }).fill(B2);
  await bob2.getByLabel('Repeat the new password').fill(B2);
  await bob2.getByRole('button', { name: 'Reset password' }).click();
  const bobNewCode = (await bob2.locator('#my-code').textContent()).trim();
  const bobHistoryCode = (await bob2.locator('#history-codes .code').first().textContent()).trim();
  assert.notEqual(bobNewCode, bobCode, 'a reset makes new keys');
  await shot(bob2, '06-reset-done');

  // The old password no longer works; the new one signs in, but the account waits for vouches.
  await bob2.getByRole('link', { name: 'Sign in with your new password' }).click();
  await signIn(bob2, B.email, B.password);
  await flashCode(bob2, /auth\./);
  await signIn(bob2, B.email, B2);
  await bob2.getByRole('link', { name: 'Acme Support' }).click();
  await bob2.getByText('colleagues must vouch for your new key').waitFor();

  // Alice's team list says someone waits for a vouch, and takes her to the Recovery tab.
  await alice.getByRole('link', { name: 'Teams' }).click();
  await alice.locator('.vouch-banner', { hasText: 'Acme Support: 1 member waits for colleagues to vouch' }).waitFor();
  await shot(alice, '06b-teams-banner');
  await alice.getByRole('link', { name: 'Compare codes and vouch' }).click();
  // Alice compares the code Bob reads out with the key the team log announced, and vouches.
  const pending = alice.locator(`section[data-email="${B.email}"]`);
  await pending.getByLabel('Code the member read to you').waitFor();
  // On a 390 px phone the card keeps its inputs and the button on screen.
  await alice.setViewportSize({ width: 390, height: 844 });
  for (const el of [pending.getByLabel('Code the member read to you'), pending.getByRole('button', { name: 'Vouch' })]) {
    const b = await el.boundingBox();
    assert.ok(b && b.x >= 0 && b.x + b.width <= 390, `on screen at 390 px: ${JSON.stringify(b)}`);
  }
  assert.ok(await alice.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling');
  await shot(alice, '07b-recovery-vouch-phone');
  await alice.setViewportSize({ width: 1200, height: 900 });
  // The vouch screen never shows the code to expect: Alice types what Bob reads out.
  assert.ok(!(await pending.textContent()).includes(bobNewCode), 'the expected code is not on the voucher\'s screen');
  await shot(alice, '07-recovery-vouch');
  await pending.getByLabel('Code the member read to you').fill(bobNewCode);
  // A history code that is not the one her log shows is refused before anything is sent.
  await pending.getByLabel('Team history code they read').fill('11111 11111 11111');
  await pending.getByRole('button', { name: 'Vouch' }).click();
  await flashCode(alice, 'client.refused');
  await pending.getByLabel('Team history code they read').fill(bobHistoryCode);
  await pending.getByRole('button', { name: 'Vouch' }).click();
  await alice.getByText(`${B.email} has access again.`).waitFor();

  // Bob reads the record again with his new keys.
  await bob2.reload();
  await signIn(bob2, B.email, B2);
  await itemRow(bob2, 'Ada Lovelace').waitFor();

  // Bob makes a kit with Alice as guardian, then recovers without his code: the server share
  // plus Alice's share, released after she compares the code on Bob's recovering screen.
  await bob2.getByRole('link', { name: 'Settings' }).click();
  await bob2.getByRole('link', { name: 'Make a kit' }).click();
  await bob2.getByLabel(`${A.email} (Acme Support)`).check();
  await bob2.getByRole('button', { name: 'Create recovery kit' }).click();
  await bob2.locator('#kit-code').waitFor();
  await bob2.getByRole('button', { name: 'I have written it down' }).click();
  const bob3 = await newPage();
  await bob3.goto(`${base}/recover`);
  await bob3.getByLabel('Email').fill(B.email);
  await bob3.getByRole('button', { name: 'Send recovery link' }).click();
  await bob3.goto(await mailLink(B.email, '/recover'));
  await bob3.getByRole('heading', { name: 'Recover your keys' }).waitFor();
  const deviceCode = (await bob3.locator('#device-code').textContent()).trim();
  await alice.getByRole('link', { name: 'Settings' }).click();
  const ask = alice.locator(`section[data-email="${B.email}"]`);
  // Without his recovery code, Bob's device checks the keys it recovers against the code Alice
  // reads to him from her verified team log.
  const bobCodeInAlicesLog = (await ask.locator('.owner-code').textContent()).trim();
  assert.equal(bobCodeInAlicesLog, bobNewCode);
  await ask.getByLabel('Code on their screen').fill(deviceCode);
  await ask.getByRole('button', { name: 'Release my share' }).click();
  await alice.getByText(`Share released to ${B.email}'s device.`).waitFor();
  await bob3.getByRole('button', { name: 'Check for released shares' }).click();
  await bob3.locator('#released', { hasText: '2' }).waitFor();
  await bob3.getByLabel(/as a guardian reads it/).fill(bobCodeInAlicesLog);
  const B3 = 'bob password three';
  await bob3.getByLabel('New password', { exact: true }).fill(B3);
  await bob3.getByLabel('Repeat the new password').fill(B3);
  await bob3.getByRole('button', { name: 'Recover my keys' }).click();
  await bob3.getByRole('heading', { name: 'Keys recovered' }).waitFor();
  await bob3.getByRole('link', { name: 'Sign in' }).last().click();
  await signIn(bob3, B.email, B3);
  await bob3.getByRole('link', { name: 'Acme Support' }).click();
  await itemRow(bob3, 'Ada Lovelace').waitFor();

  // Alice forgets her password too, but has her kit: same keys, nothing resealed.
  const alice2 = await newPage();
  await alice2.goto(`${base}/recover`);
  await alice2.getByLabel('Email').fill(A.email);
  await alice2.getByRole('button', { name: 'Send recovery link' }).click();
  await alice2.getByText('a link is on its way').waitFor();
  const recover = await mailLink(A.email, '/recover');
  await alice2.goto(recover);
  await alice2.getByRole('heading', { name: 'Recover your keys' }).waitFor();
  assert.ok(!alice2.url().includes('token'), alice2.url());
  await shot(alice2, '08-recover');
  const A2 = 'a brand new passphrase';
  // One typo in the code first: refused with a message, and the recovery goes on with the
  // right code (no new link needed).
  const last = aliceKit[aliceKit.length - 1];
  const typo = aliceKit.slice(0, -1) + (last === 'A' ? 'B' : 'A');
  await alice2.getByLabel(/Recovery code/).fill(typo);
  await alice2.getByLabel('New password', { exact: true }).fill(A2);
  await alice2.getByLabel('Repeat the new password').fill(A2);
  await alice2.getByRole('button', { name: 'Recover my keys' }).click();
  await alice2.locator('#flash:not([hidden])').waitFor();
  assert.ok(!(await alice2.locator('#flash').textContent()).includes('recovery.none'));
  await alice2.getByLabel(/Recovery code/).fill(aliceKit);
  await alice2.getByRole('button', { name: 'Recover my keys' }).click();
  await alice2.getByRole('heading', { name: 'Keys recovered' }).waitFor();
  await alice2.getByRole('link', { name: 'Sign in' }).last().click();
  await signIn(alice2, A.email, A2);
  await alice2.getByRole('link', { name: 'Acme Support' }).click();
  await itemRow(alice2, 'Ada Lovelace').waitFor();

  // Settings: password change keeps the keys; sessions are listed.
  await alice2.getByRole('link', { name: 'Settings' }).click();
  await alice2.getByRole('heading', { name: 'Sessions' }).waitFor();
  await shot(alice2, '09-settings');
  const A3 = 'third time lucky pass';
  await alice2.getByLabel('Current password').fill(A2);
  await alice2.getByLabel('New password', { exact: true }).fill(A3);
  await alice2.getByLabel('Repeat the new password').fill(A3);
  await alice2.getByRole('button', { name: 'Change password' }).click();
  await alice2.getByText('Password changed.').waitFor();

  // Alice removes Bob: the key rotates and the record is re-encrypted; Bob loses access.
  await alice2.getByRole('link', { name: 'Teams' }).click();
  await alice2.getByRole('link', { name: 'Acme Support' }).click();
  await alice2.getByRole('link', { name: 'Members' }).click();
  alice2.once('dialog', (d) => d.accept());
  await alice2.locator(`tr[data-email="${B.email}"]`).getByRole('button', { name: 'Remove' }).click();
  await alice2.getByText(`${B.email} removed; key version 2, 1 items re-encrypted.`).waitFor();
  await alice2.getByRole('link', { name: 'Items' }).click();
  await itemRow(alice2, 'Ada Lovelace').click();
  await alice2.locator('.item-view', { hasText: 'key version 2' }).waitFor();

  await alice2.setViewportSize({ width: 390, height: 844 });
  await shot(alice2, '11-items-phone');

  // Signing out clears the keys: the next visit asks for the password again.
  await alice2.getByRole('button', { name: 'Sign out' }).click();
  await alice2.getByText('Your keys were cleared').waitFor();
  await alice2.goto(`${base}/`);
  await alice2.getByRole('heading', { name: 'Sign in' }).waitFor();
  await shot(alice2, '10-signed-out');
}
