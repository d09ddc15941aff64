// Second factors in the dashboard: an authenticator app set up from its QR code, sign-in with
// its code (a wrong one refused, the sign-in kept), a recovery code instead, removal after a
// fresh code; the codes are computed here from the setup key, as an app computes them (RFC 6238).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  setup, base, shot, newPage, signUp, signIn, noSecretsStored, mailSaying, mailLink, newTeam, openInvitation,
} from './harness.mjs';

setup();

function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/ /g, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const h = crypto.createHmac('sha1', secret).update(counter).digest();
  const o = h[h.length - 1] & 0x0f;
  return String(((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000)).padStart(6, '0');
}

// An app's next code the server has not seen: each step's code works once, and the server takes
// the steps either side of now, so this waits only when the next unused step is two ahead.
function authenticator(secret) {
  let last = 0;
  return async () => {
    for (;;) {
      const now = Math.floor(Date.now() / 30_000);
      const step = Math.max(now - 1, last + 1);
      if (step <= now + 1) {
        last = step;
        return totp(secret, step);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
}

async function flashText(page, text) {
  await page.locator('#flash:not([hidden])', { hasText: text }).waitFor();
}

test('an authenticator app: set up from its QR code, asked at sign-in, a recovery code instead, removed after a fresh code', async () => {
  const page = await newPage();
  const N = { email: 'nadia@example.com', password: 'nadia password one' };
  await signUp(page, N.email, N.password);
  await page.getByRole('button', { name: 'Skip for now' }).click();
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByText('No second factor').waitFor();
  await page.getByLabel('Your password, to confirm it is you').fill('not the password');
  await page.getByRole('button', { name: 'Set up' }).click();
  await flashText(page, 'the password is wrong');
  await page.getByLabel('Your password, to confirm it is you').fill(N.password);
  await page.getByRole('button', { name: 'Set up' }).click();
  const qr = page.locator('#totp-enrol svg.qr path');
  await qr.waitFor();
  assert.ok((await qr.getAttribute('d')).length > 1000, 'the QR code is drawn');
  const key = (await page.locator('#totp-secret').textContent()).trim();
  assert.match(key, /^[A-Z2-7]{32}$/);
  const app = authenticator(base32(key));
  await shot(page, '40-totp-enrol');
  await page.getByLabel('Code from your authenticator app').fill('000000');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await flashText(page, 'does not match');
  await page.getByLabel('Code from your authenticator app').fill(await app());
  await page.getByRole('button', { name: 'Confirm' }).click();
  await flashText(page, 'Authenticator app added');
  const codes = (await page.locator('#recovery-codes li').allTextContents()).map((c) => c.trim());
  assert.equal(codes.length, 10);
  for (const c of codes) assert.match(c, /^[a-z2-7]{5}-[a-z2-7]{5}$/);
  assert.equal(await page.locator('#factors tbody tr').count(), 1);
  await shot(page, '41-second-factors');
  await mailSaying(N.email, 'was added as a second factor');
  await noSecretsStored(page, key, ...codes);

  // A reload: the password, then the app's code (a wrong one keeps the sign-in waiting).
  await page.reload();
  await signIn(page, N.email, N.password);
  await page.getByRole('heading', { name: 'Second factor' }).waitFor();
  await shot(page, '42-second-factor-sign-in');
  const field = page.getByLabel('Code from your authenticator app, or a recovery code');
  await field.fill('123456');
  await page.getByRole('button', { name: 'Continue' }).click();
  await flashText(page, 'that code is wrong');
  await field.fill(await app());
  await page.getByRole('button', { name: 'Continue' }).click();
  // Back where the reload left it.
  await page.getByRole('heading', { name: 'Settings' }).waitFor();

  // Another reload with a recovery code (typed in capitals); it works once, and is e-mailed.
  await page.reload();
  await signIn(page, N.email, N.password);
  await page.getByRole('heading', { name: 'Second factor' }).waitFor();
  await page.getByLabel('Code from your authenticator app, or a recovery code').fill(codes[0].toUpperCase());
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Settings' }).waitFor();
  await mailSaying(N.email, '9 left');
  await page.locator('#codes-left', { hasText: '9 recovery codes left' }).waitFor();

  // Removal needs a fresh code; then the password alone signs in again.
  await page.locator('#factors').getByRole('button', { name: 'Remove' }).click();
  await page.getByLabel('Code from your authenticator app, or a recovery code').fill(codes[0]);
  await page.getByRole('button', { name: 'Remove' }).click();
  await flashText(page, 'that code is wrong');
  await page.getByLabel('Code from your authenticator app, or a recovery code').fill(await app());
  await page.getByRole('button', { name: 'Remove' }).click();
  await flashText(page, 'Removed');
  await page.getByText('No second factor').waitFor();
  await mailSaying(N.email, 'last second factor');
  await page.reload();
  await signIn(page, N.email, N.password);
  await page.getByRole('heading', { name: 'Settings' }).waitFor();
  assert.ok(page.url().startsWith(base));
  await page.context().close();
});

// Opens the team from the team list (in the page: no reload, the keys stay in the worker).
async function openTeam(page) {
  await page.getByRole('link', { name: 'Teams' }).click();
  await page.getByRole('link', { name: 'Strict Team' }).click();
}

// Sets up an authenticator app on the Settings page; returns its code source.
async function enrolApp(page, password) {
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByLabel('Your password, to confirm it is you').fill(password);
  await page.getByRole('button', { name: 'Set up' }).click();
  const key = (await page.locator('#totp-secret').textContent()).trim();
  const app = authenticator(base32(key));
  await page.getByLabel('Code from your authenticator app').fill(await app());
  await page.getByRole('button', { name: 'Confirm' }).click();
  await flashText(page, 'Authenticator app added');
  return app;
}

test('a team that requires a second factor: admins see who has none, and that member reads only after enrolling', async () => {
  const admin = await newPage();
  const Q = { email: 'quinn@example.com', password: 'quinn password one' };
  const R = { email: 'rosa@example.com', password: 'rosa password one' };
  await newTeam(admin, Q.email, Q.password, 'Strict Team');
  const adminApp = await enrolApp(admin, Q.password);
  await openTeam(admin);
  await admin.getByRole('heading', { name: 'Strict Team' }).waitFor();
  await admin.getByRole('link', { name: 'Members' }).click();
  await admin.getByLabel('Email').fill(R.email);
  await admin.getByRole('button', { name: 'Send invitation' }).click();
  const invite = await mailLink(R.email, '/invite');
  const member = await newPage();
  await signUp(member, R.email, R.password);
  await member.getByRole('button', { name: 'Skip for now' }).click();
  await openInvitation(member, invite, R.email, R.password);
  const code = (await member.locator('#my-code').textContent()).trim();
  await admin.reload();
  await signIn(admin, Q.email, Q.password);
  await admin.getByRole('heading', { name: 'Second factor' }).waitFor();
  // (the admin's own sign-in now asks for the app's code: enrolled above)
  await admin.getByLabel('Code from your authenticator app, or a recovery code').fill(await adminApp());
  await admin.getByRole('button', { name: 'Continue' }).click();
  const row = admin.locator(`tr[data-email="${R.email}"]`);
  await row.waitFor();
  await row.getByLabel(/reads to you/).fill(code);
  await row.getByRole('button', { name: 'Confirm' }).click();
  await flashText(admin, `${R.email} is confirmed`);

  // The admin requires a second factor (a signed entry), after a confirmation.
  await admin.getByRole('link', { name: 'Recovery' }).click();
  admin.once('dialog', (d) => d.accept());
  await admin.getByRole('button', { name: 'Require a second factor of every member' }).click();
  await flashText(admin, 'Second-factor policy changed');
  assert.equal((await admin.locator('#second-factor-policy').textContent()).trim(), 'required of every member');
  await admin.getByRole('link', { name: 'Members' }).click();
  await admin.locator('#not-compliant', { hasText: R.email }).waitFor();
  await shot(admin, '43-not-compliant');

  // The member without one is told what to do; after enrolling, the items open.
  await openTeam(member);
  await member.getByText('this team requires a second factor').first().waitFor();
  await shot(member, '44-second-factor-required');
  await enrolApp(member, R.password);
  await openTeam(member);
  await member.locator('#item-count', { hasText: 'No items yet' }).waitFor();
  await admin.reload();
  await signIn(admin, Q.email, Q.password);
  await admin.getByLabel('Code from your authenticator app, or a recovery code').fill(await adminApp());
  await admin.getByRole('button', { name: 'Continue' }).click();
  await admin.getByRole('link', { name: 'Members' }).click();
  await admin.locator(`tr[data-email="${R.email}"]`).waitFor();
  assert.equal(await admin.locator('#not-compliant').count(), 0, 'everyone has one now');
  await admin.context().close();
  await member.context().close();
});
