// Passkeys in the dashboard, with Chromium's virtual authenticator (DevTools WebAuthn domain:
// CTAP2, resident keys, user verification, PRF): set one up (the keys wrapped for it in the
// engine), sign in with it as the second factor, reload and unlock with the passkey alone (no
// password), remove it after a passkey check — after which it unlocks nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setup, base, shot, newPage, signUp, signIn, noSecretsStored, mailSaying, flashCode } from './harness.mjs';

// WebAuthn wants a domain for its relying party; the server's public URL is http://localhost:PORT.
setup({}, 'localhost');

async function virtualAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', ctap2Version: 'ctap2_1', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, hasPrf: true, automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

async function flashText(page, text) {
  await page.locator('#flash:not([hidden])', { hasText: text }).waitFor();
}

test('a passkey: set up with PRF, the second factor at sign-in, unlocks alone after a reload, removed after a passkey check', async () => {
  const page = await newPage();
  const { cdp, authenticatorId } = await virtualAuthenticator(page);
  const P = { email: 'priya@example.com', password: 'priya password one' };
  await signUp(page, P.email, P.password);
  await page.getByRole('button', { name: 'Skip for now' }).click();
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByText('No second factor').waitFor();
  await page.getByLabel('Name (which device or key)').fill('Laptop');
  await page.getByLabel('Your password, to add a passkey').fill(P.password);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await flashText(page, 'it can unlock your keys alone');
  await page.locator('#factors tr', { hasText: 'Laptop' }).getByText('Passkey (also unlocks your keys)').waitFor();
  await page.locator('#recovery-codes').waitFor();
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].isResidentCredential, true, 'a discoverable credential');
  assert.equal(credentials[0].rpId, 'localhost');
  assert.ok((await mailSaying(P.email, 'can also unlock your keys')).includes('Laptop'));
  await shot(page, '45-passkey-enrolled');

  // Signing in with the password now asks for the passkey.
  await page.getByRole('button', { name: 'Sign out', exact: true }).first().click();
  await signIn(page, P.email, P.password);
  await page.getByRole('heading', { name: 'Second factor' }).waitFor();
  await page.getByRole('button', { name: 'Use your passkey' }).click();
  await page.getByRole('link', { name: 'Settings' }).waitFor();
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.locator('#factors tr', { hasText: 'Laptop' }).waitFor();

  // A reload drops the keys (they live in the worker); the passkey alone brings them back.
  await page.reload();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await shot(page, '46-passkey-sign-in');
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await page.getByRole('heading', { name: 'Settings' }).waitFor();
  await page.locator('#factors tr', { hasText: 'Laptop' }).waitFor();
  const after = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0];
  assert.ok(after.signCount > credentials[0].signCount, 'the passkey was used');
  await noSecretsStored(page, P.password);

  // Removal takes a fresh check, answered by the passkey.
  await page.locator('#factors').getByRole('button', { name: 'Remove' }).click();
  await page.getByRole('button', { name: 'Use your passkey' }).click();
  await flashText(page, 'Removed “Laptop”');
  await page.getByText('No second factor').waitFor();
  assert.ok(await mailSaying(P.email, 'was removed'));

  // The passkey still sits on the authenticator, but the server dropped it and its copy of the
  // keys: it unlocks nothing now.
  await page.reload();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await flashCode(page, 'auth.passkey_unknown');
  await signIn(page, P.email, P.password);
  await page.getByRole('link', { name: 'Settings' }).waitFor();
});
