// Vouchsafe dashboard. This page never holds a key: every operation goes to the engine in a Web
// Worker (worker.js → web/src, WebAssembly), which talks to the API and does the cryptography.
// Keys, passwords and plaintext are never written to browser storage. What is kept in
// localStorage is public data: `vouchsafe.trust`, per user id the last verified team-log head of
// each account (sequence number and hash), so that a server cannot roll a team's history back
// across reloads and sign-ins; and `vouchsafe.teams`, per user id the teams verified with the
// admin who added them, the teams whose codes did not match, and forks seen (those stay frozen). Tokens from email links are read from the URL fragment, kept in
// memory and removed from the address bar at once.

'use strict';

// ---------- small DOM helpers (text only: user data never goes through innerHTML) ----------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const main = () => document.getElementById('main');
const when = (secs) => (secs ? new Date(secs * 1000).toLocaleString() : '—');
let uid = 0;
const nextId = (p) => `${p}-${++uid}`;

// Error codes are for support and bug reports: they sit under "Details", never in the sentence.
function details(code) {
  return code ? h('details', { class: 'err-details' }, h('summary', {}, 'Details'), h('code', {}, code)) : null;
}
function flash(message, kind = 'error', code = null) {
  const f = document.getElementById('flash');
  f.replaceChildren(message);
  const more = details(code);
  if (more) f.append(' ', more);
  f.className = kind === 'info' ? 'flash info' : 'flash';
  f.hidden = false;
}
function clearFlash() {
  document.getElementById('flash').hidden = true;
}
function errorText(e) {
  if (e && e.code === 'client.signed_out') return 'Your session ended. Please sign in again.';
  if (e && e.code === 'request.too_large') return 'This is too large for the server to accept. Make it shorter, or split it.';
  if (e && e.code === 'client.network') return 'The server cannot be reached. Check your connection and try again.';
  return e && e.message ? e.message : String(e);
}
function showError(e) {
  if (e && e.shown) return;
  if (e && e.code === 'client.signed_out' && me) {
    // The engine dropped the keys (the session ended elsewhere): back to the sign-in page,
    // which returns here afterwards.
    me = null;
    needSignIn();
  }
  flash(errorText(e), 'error', e && e.code);
}

// ---------- the engine (Web Worker) ----------

let worker = null;
let seq = 0;
const waiting = new Map();
let busyCount = 0;

function setBusy(label, progress) {
  const box = document.getElementById('busy');
  const bar = document.getElementById('busy-progress');
  if (busyCount === 0) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  if (label) document.getElementById('busy-text').textContent = label;
  if (progress && progress.total > 0) {
    bar.hidden = false;
    bar.max = progress.total;
    bar.value = progress.done;
    document.getElementById('busy-text').textContent = `${label || 'Working…'} ${progress.done} / ${progress.total}`;
  } else if (progress && progress.done > 0) {
    bar.hidden = true;
    document.getElementById('busy-text').textContent = `${label || 'Working…'} ${progress.done.toLocaleString('en')}`;
  } else if (!progress) {
    bar.hidden = true;
  }
}

const TRUST_KEY = 'vouchsafe.trust';

function loadTrust() {
  try {
    const t = JSON.parse(localStorage.getItem(TRUST_KEY) || '{}');
    return t && typeof t === 'object' ? t : {};
  } catch {
    return {};
  }
}

// Heads only move forward in the engine (it refuses a log that does not extend them).
function saveTrust(t) {
  if (!t || !t.user_id || !t.checkpoints) return;
  const all = loadTrust();
  all[t.user_id] = { ...(all[t.user_id] || {}), ...t.checkpoints };
  localStorage.setItem(TRUST_KEY, JSON.stringify(all));
  if (t.teams) saveTeams(t.user_id, t.teams);
}

const TEAMS_KEY = 'vouchsafe.teams';

function loadTeams() {
  try {
    const t = JSON.parse(localStorage.getItem(TEAMS_KEY) || '{}');
    return t && typeof t === 'object' ? t : {};
  } catch {
    return {};
  }
}

// Marks only accumulate: a team once verified, rejected or seen forked stays so in this browser.
function saveTeams(userId, teams) {
  const all = loadTeams();
  const had = all[userId] || { verified: [], rejected: [], forks: {} };
  const union = (a, b) => [...new Set([...(a || []), ...(b || [])])];
  all[userId] = {
    verified: union(had.verified, teams.verified),
    rejected: union(had.rejected, teams.rejected),
    forks: { ...(teams.forks || {}), ...(had.forks || {}) },
  };
  localStorage.setItem(TEAMS_KEY, JSON.stringify(all));
}

function startWorker() {
  worker = new Worker('/assets/worker.js', { type: 'module' });
  worker.onmessage = (event) => {
    const m = event.data;
    const w = waiting.get(m.id);
    if (!w) return;
    if (m.progress) {
      setBusy(w.label, m.progress);
      return;
    }
    waiting.delete(m.id);
    busyCount -= 1;
    setBusy();
    if (m.trust) saveTrust(m.trust);
    if (m.error) w.reject(Object.assign(new Error(m.error.message), m.error));
    else w.resolve(m.ok);
  };
  worker.onerror = () => flash('The encryption engine failed to load. Reload the page.');
}

function stopWorker() {
  // Terminating the worker frees every key it held.
  if (worker) worker.terminate();
  for (const w of waiting.values()) w.reject(Object.assign(new Error('signed out'), { code: 'client.signed_out' }));
  waiting.clear();
  busyCount = 0;
  setBusy();
  startWorker();
}

function api(request, label = 'Working…') {
  busyCount += 1;
  setBusy(label);
  return new Promise((resolve, reject) => {
    const id = ++seq;
    waiting.set(id, { resolve, reject, label });
    worker.postMessage({ id, request });
  });
}

// ---------- forms ----------

function field(f) {
  const id = nextId('f');
  if (f.type === 'select') {
    return h('label', { for: id }, f.label,
      h('select', { id, name: f.name }, f.options.map((o) => h('option', { value: o, selected: o === f.value }, o))));
  }
  if (f.type === 'checkbox') {
    return h('label', { class: 'check', for: id }, h('input', { id, type: 'checkbox', name: f.name, checked: !!f.value }), f.label);
  }
  return h('label', { for: id }, f.label, h('input', {
    id, name: f.name, type: f.type || 'text', required: f.required !== false, value: f.value,
    autocomplete: f.autocomplete || 'off', min: f.min, max: f.max, inputmode: f.inputmode,
    placeholder: f.placeholder, spellcheck: 'false',
  }));
}

// Runs `action` for a control: disabled while it runs, any error shown in the flash.
async function guarded(control, action) {
  control.disabled = true;
  clearFlash();
  try {
    await action();
  } catch (e) {
    showError(e);
  } finally {
    control.disabled = false;
  }
}

function form({ fields, submit, onSubmit, cls = 'stack', danger = false }) {
  const el = h('form', { class: cls });
  for (const f of fields) el.append(field(f));
  const button = h('button', { type: 'submit', class: danger ? 'danger' : null }, submit);
  el.append(button);
  el.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(el));
    for (const c of el.querySelectorAll('input[type=checkbox]')) data[c.name] = c.checked;
    guarded(button, () => onSubmit(data, el));
  });
  return el;
}

function button(label, onClick, cls) {
  const b = h('button', { type: 'button', class: cls }, label);
  b.addEventListener('click', () => guarded(b, onClick));
  return b;
}

// A new password and its repetition (checked by `samePasswords`).
function newPasswordFields(label) {
  return [
    { name: 'password', label, type: 'password', autocomplete: 'new-password' },
    { name: 'repeat', label: `Repeat the ${label.toLowerCase()}`, type: 'password', autocomplete: 'new-password' },
  ];
}

// Asks the server to email a link (reset, recovery); the answer never says whether the address exists.
function emailLinkForm(submit, op, sent) {
  return h('div', { class: 'card' }, form({
    fields: [{ name: 'email', label: 'Email', type: 'email', autocomplete: 'username' }],
    submit,
    onSubmit: async (d) => {
      await api({ op, email: d.email }, 'Sending…');
      flash(sent, 'info');
    },
  }));
}

function samePasswords(d) {
  if (d.password !== d.repeat) throw Object.assign(new Error('The two passwords differ.'), { code: 'password.mismatch' });
}

// ---------- session and routing ----------

let me = null; // { user_id, email, generation, code, kit }
let afterSignIn = null;
let link = null; // { path, token } from an email link's fragment, memory only

function captureLinkToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (token) link = { path: location.pathname, token };
  if (location.hash) history.replaceState(null, '', location.pathname);
}

function navigate(path) {
  if (path !== location.pathname) history.pushState(null, '', path);
  render();
}

function renderNav() {
  const nav = document.getElementById('nav');
  nav.replaceChildren();
  if (me) {
    nav.append(
      h('a', { href: '/' }, 'Teams'),
      h('a', { href: '/settings' }, 'Settings'),
      h('span', { class: 'who' }, me.email),
      button('Sign out', signOut, 'secondary'),
    );
  } else {
    nav.append(h('a', { href: '/signin' }, 'Sign in'), h('a', { href: '/signup' }, 'Create a login'));
  }
}

async function signOut() {
  try {
    await api({ op: 'logout' }, 'Signing out…');
  } catch {
    // The keys go with the worker either way.
  }
  me = null;
  sessionStorage.removeItem(SESSION_KEY);
  stopWorker();
  navigate('/signin');
  flash('Signed out. Your keys were cleared from this tab.', 'info');
}

function page(title, ...children) {
  const m = main();
  m.replaceChildren(h('h1', {}, title), ...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  document.title = `${title} · Vouchsafe`;
  m.focus();
}

function needSignIn() {
  afterSignIn = location.pathname;
  navigate('/signin');
}

async function render() {
  renderNav();
  const path = location.pathname;
  const acct = path.match(/^\/(?:teams|accounts)\/([A-Za-z0-9_-]+)(?:\/(items|inbox|members|recovery))?$/);
  // Every view is awaited here, so a view that fails (a refused answer, an unreachable server)
  // lands in the catch below and says why, instead of leaving a blank page.
  try {
    if (path === '/signin') return await signInView();
    if (path === '/signup') return await signUpView();
    if (path === '/invite') return await inviteView();
    if (path === '/reset') return await resetView();
    if (path === '/reset/cancel') return await resetCancelView();
    if (path === '/recover') return await recoverView();
    const known = ['/', '/kit', '/settings', '/guardian'].includes(path) || acct;
    if (!known) return notFound();
    if (!me) return await needSignIn();
    if (path === '/') return await accountsView();
    if (path === '/kit') return await kitView();
    if (path === '/settings') return await settingsView();
    if (path === '/guardian') return await guardianView();
    if (acct) return await accountView(acct[1], acct[2] || 'items');
    notFound();
  } catch (e) {
    if (e && e.code === 'client.signed_out' && me) return showError(e);
    page('This page could not load', h('p', { class: 'flash', role: 'alert', id: 'page-error' }, errorText(e), ' ', details(e.code)),
      h('p', {}, h('a', { href: location.pathname }, 'Try again'), ' · ', h('a', { href: '/' }, 'Back to your teams')));
    showError(e);
  }
}

function notFound() {
  page('Page not found', h('p', { id: 'not-found' }, `There is no page at ${location.pathname}. The link may be mistyped or out of date.`),
    h('p', {}, h('a', { href: '/' }, 'Back to your teams')));
}

// The tab's server session id (not a credential) outlives a reload in session storage, so the
// next sign-in in this tab ends it instead of piling up sessions.
const SESSION_KEY = 'vouchsafe.session';

function keepSession(who) {
  sessionStorage.setItem(SESSION_KEY, who.session_id);
  return who;
}

function signedIn(who) {
  me = keepSession(who);
  const next = afterSignIn || (link ? link.path : '/');
  afterSignIn = null;
  navigate(next);
}

// ---------- passkeys (WebAuthn, with PRF) ----------
// The engine makes the ceremonies and keeps their tokens; the page only talks to the
// authenticator. The PRF output goes to the engine (this tab's worker), never to the server.

function b64uEncode(buf) {
  let s = '';
  for (const x of new Uint8Array(buf)) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
function b64uDecode(str) {
  const s = atob(str.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((str.length + 3) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

const passkeysHere = () => typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;

function prfExtension(prfInput) {
  return { prf: { eval: { first: b64uDecode(prfInput) } } };
}

// The credential's JSON form (as `PublicKeyCredential.toJSON()` gives it), without extension results.
function credentialJSON(cred) {
  const r = cred.response;
  const response = r.attestationObject
    ? { clientDataJSON: b64uEncode(r.clientDataJSON), attestationObject: b64uEncode(r.attestationObject),
      transports: typeof r.getTransports === 'function' ? r.getTransports() : [] }
    : { clientDataJSON: b64uEncode(r.clientDataJSON), authenticatorData: b64uEncode(r.authenticatorData),
      signature: b64uEncode(r.signature), userHandle: r.userHandle ? b64uEncode(r.userHandle) : null };
  return { id: cred.id, rawId: b64uEncode(cred.rawId), type: cred.type, response, clientExtensionResults: {} };
}

function prfOutput(cred) {
  const prf = cred.getClientExtensionResults().prf;
  return prf && prf.results && prf.results.first ? b64uEncode(prf.results.first) : null;
}

function passkeyFailure(e) {
  if (e && e.code) return e;
  const name = e && e.name;
  if (name === 'NotAllowedError') return { code: 'client.passkey_cancelled', message: 'The passkey was not used (cancelled, timed out, or not one this browser has).' };
  if (name === 'InvalidStateError') return { code: 'client.passkey_exists', message: 'This passkey is already set up for this login.' };
  return { code: 'client.passkey_failed', message: `The passkey could not be used: ${(e && e.message) || e}` };
}

// navigator.credentials.get for an engine ceremony (`login`, `check` or `unlock`): the answer and PRF output.
async function passkeyAnswer(purpose) {
  const r = await api({ op: 'passkey_options', purpose }, 'Asking your passkey…');
  const pk = r.options.publicKey;
  const publicKey = { ...pk, challenge: b64uDecode(pk.challenge),
    allowCredentials: (pk.allowCredentials || []).map((c) => ({ ...c, id: b64uDecode(c.id) })),
    extensions: { ...(pk.extensions || {}), ...prfExtension(r.prf_input) } };
  let cred;
  try {
    cred = await navigator.credentials.get({ publicKey });
  } catch (e) {
    throw passkeyFailure(e);
  }
  return { credential: credentialJSON(cred), prf: prfOutput(cred) };
}

// Creates a passkey for the engine's enrolment `e`; reads its PRF output with a local
// assertion when the authenticator gives none at creation.
async function createPasskey(e) {
  const pk = e.options.publicKey;
  const publicKey = { ...pk, challenge: b64uDecode(pk.challenge), user: { ...pk.user, id: b64uDecode(pk.user.id) },
    excludeCredentials: (pk.excludeCredentials || []).map((c) => ({ ...c, id: b64uDecode(c.id) })),
    authenticatorSelection: { ...(pk.authenticatorSelection || {}), residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
    extensions: { ...(pk.extensions || {}), ...prfExtension(e.prf_input) } };
  try {
    const cred = await navigator.credentials.create({ publicKey });
    let prf = prfOutput(cred);
    const ext = cred.getClientExtensionResults().prf;
    if (!prf && ext && ext.enabled) {
      const local = await navigator.credentials.get({ publicKey: {
        challenge: crypto.getRandomValues(new Uint8Array(32)), rpId: pk.rp.id, userVerification: 'required',
        allowCredentials: [{ type: 'public-key', id: cred.rawId }], extensions: prfExtension(e.prf_input) } });
      prf = prfOutput(local);
    }
    return { credential: credentialJSON(cred), prf };
  } catch (err) {
    throw passkeyFailure(err);
  }
}

function passkeySignIn() {
  if (!passkeysHere()) return null;
  return h('div', { class: 'card', id: 'passkey-signin' },
    h('p', {}, 'Set up a passkey that unlocks your keys? Then touch it instead of typing the password.'),
    button('Sign in with a passkey', async () => {
      const a = await passkeyAnswer('unlock');
      signedIn(await api({ op: 'passkey_login', credential: a.credential, prf: a.prf, trust: loadTrust(), teams: loadTeams(),
        replaces: sessionStorage.getItem(SESSION_KEY) }, 'Unlocking your keys…'));
    }));
}

// ---------- sign in, sign up, kit ----------

function signInView() {
  page('Sign in',
    link && link.path === '/invite' ? h('p', {}, 'Sign in to accept your invitation.') : null,
    h('div', { class: 'card' }, form({
      fields: [
        { name: 'email', label: 'Email', type: 'email', autocomplete: 'username' },
        { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' },
      ],
      submit: 'Sign in',
      onSubmit: async (d) => {
        const r = await api({ op: 'login', email: d.email, password: d.password, trust: loadTrust(), teams: loadTeams(),
          replaces: sessionStorage.getItem(SESSION_KEY) }, 'Deriving your keys…');
        if (r.second_factor) secondFactorView(r.second_factor.methods);
        else signedIn(r);
      },
    })),
    passkeySignIn(),
    h('p', {}, h('a', { href: '/signup' }, 'Create a login'), ' · ', h('a', { href: '/reset' }, 'Forgot your password?'),
      ' · ', h('a', { href: '/recover' }, 'Recover with your recovery kit')));
}

// A six-digit code from the app, or one of the recovery codes: which field of the answer it fills.
function factorAnswer(typed) {
  const t = (typed || '').trim();
  if (!t) return {};
  return /^[0-9 ]{6,7}$/.test(t) ? { totp: t.replace(/ /g, '') } : { recovery_code: t };
}

function factorField(label = 'Code from your authenticator app') {
  return { name: 'factor', label, autocomplete: 'one-time-code', inputmode: 'text', placeholder: '123456' };
}

// The sign-in's second step: the password was right; the keys come after the factor.
function secondFactorView(methods) {
  const app = methods.includes('totp');
  const passkey = methods.includes('webauthn') && passkeysHere();
  page('Second factor',
    passkey ? h('div', { class: 'card' }, h('p', {}, 'Touch your passkey to finish signing in.'),
      button('Use your passkey', async () => {
        const a = await passkeyAnswer('login');
        signedIn(await api({ op: 'login_second_factor', passkey: a.credential }, 'Checking the passkey…'));
      })) : null,
    h('p', {}, app ? 'Enter the 6-digit code your authenticator app shows for Vouchsafe.' : '',
      methods.includes('recovery_code') ? ' No device at hand? Enter one of your recovery codes instead (each works once).' : ''),
    h('div', { class: 'card' }, form({
      fields: [factorField(app ? 'Code from your authenticator app, or a recovery code' : 'A recovery code')],
      submit: 'Continue',
      onSubmit: async (d) => signedIn(await api({ op: 'login_second_factor', ...factorAnswer(d.factor) }, 'Checking the code…')),
    })),
    h('p', {}, h('a', { href: '/signin' }, 'Start again')));
  const input = main().querySelector('input[name=factor]');
  if (input) input.focus();
}

function signUpView() {
  page('Create a login',
    h('p', { class: 'muted' }, 'Your password never leaves this tab: it unlocks keys made here. Use at least 10 characters.'),
    h('div', { class: 'card' }, form({
      fields: [
        { name: 'email', label: 'Email', type: 'email', autocomplete: 'username' },
        ...newPasswordFields('Password'),
      ],
      submit: 'Create login',
      onSubmit: async (d) => {
        samePasswords(d);
        me = keepSession(await api({ op: 'register', email: d.email, password: d.password }, 'Creating your keys…'));
        afterSignIn = link ? link.path : '/';
        navigate('/kit');
      },
    })),
    h('p', {}, 'Already have a login? ', h('a', { href: '/signin' }, 'Sign in')));
}

async function guardianChoices() {
  const box = h('fieldset', { class: 'card' }, h('legend', {}, 'Guardians (optional)'),
    h('p', { class: 'muted' }, 'Each guardian gets one share, sealed to their keys. With guardians, any two of: your code, the server share (released by email), a guardian share.'));
  const accounts = await api({ op: 'accounts' }, 'Loading colleagues…');
  const seen = new Set();
  for (const a of accounts.filter((x) => x.status === 'active')) {
    const detail = await api({ op: 'account', account_id: a.id }, 'Verifying the team log…');
    for (const m of detail.members) {
      if (m.me || m.status !== 'active' || seen.has(m.user_id)) continue;
      seen.add(m.user_id);
      const id = nextId('g');
      box.append(h('label', { class: 'check', for: id },
        h('input', { id, type: 'checkbox', name: 'guardian', value: JSON.stringify({ account_id: a.id, user_id: m.user_id }) }),
        `${m.email} (${a.name})`));
    }
  }
  if (seen.size === 0) box.append(h('p', { class: 'muted' }, 'No colleagues yet.'));
  return box;
}

async function kitView() {
  const status = me.kit && me.kit.exists
    ? h('p', {}, `You have a recovery kit (${me.kit.threshold} of ${me.kit.share_count} shares, made ${when(me.kit.created_at)}). Making a new one replaces it.`)
    : h('p', {}, 'A recovery kit restores your own keys if you forget your password — no colleague has to vouch. Make one now: the code is shown once.');
  const guardians = await guardianChoices();
  const codeOnly = nextId('c');
  const out = h('div');
  page('Your recovery kit', status, guardians,
    h('p', {}, h('label', { class: 'check', for: codeOnly }, h('input', { id: codeOnly, type: 'checkbox', name: 'code_only' }),
      'Code only (no server share and no guardians: the code alone restores your keys)')),
    h('div', { class: 'actions' },
      button('Create recovery kit', async () => {
        if (me.kit && me.kit.exists && !window.confirm('Replace your recovery kit? The code you wrote down for the old kit, and its shares, stop working.')) return;
        const picks = [...guardians.querySelectorAll('input[name=guardian]:checked')].map((c) => JSON.parse(c.value));
        const only = document.getElementById(codeOnly).checked;
        const kit = await api({ op: 'create_kit', guardians: only ? [] : picks, code_only: only }, 'Making your kit…');
        me.kit = kit.status;
        const codeBox = h('div', { class: 'bigcode', id: 'kit-code' }, kit.code);
        out.replaceChildren(h('section', { class: 'card print-kit', 'aria-labelledby': 'kit-h' },
          h('h2', { id: 'kit-h' }, 'Your recovery code'),
          h('p', {}, `Vouchsafe recovery kit for ${me.email}. Write this code down or print it, and keep it somewhere safe. It is shown only once.`),
          codeBox,
          h('p', { class: 'muted' }, `Needs ${kit.status.threshold} of ${kit.status.share_count} shares${kit.status.server_share ? ': this code plus the server share sent by email' : ''}.`),
          h('div', { class: 'actions' },
            button('Print', () => window.print(), 'secondary'),
            button('Download as a file', () => download(`vouchsafe-recovery-kit-${me.email.replace(/[^A-Za-z0-9.@_-]/g, '_')}.txt`,
              `Vouchsafe recovery kit\n\nLogin: ${me.email}\nServer: ${location.origin}\nMade: ${new Date().toISOString().slice(0, 10)}\n\nRecovery code: ${kit.code}\n\n`
              + `It needs ${kit.status.threshold} of ${kit.status.share_count} shares${kit.status.server_share ? ': this code plus the server share sent by email to the login\'s address' : ''}.\n`
              + 'Keep this file offline (a USB stick in a drawer, or printed), never next to your password.\n', 'text/plain'), 'secondary'),
            button('I have written it down', () => {
              codeBox.textContent = '';
              kit.code = '';
              navigate(afterSignIn || '/');
              afterSignIn = null;
            }))));
      }),
      button('Skip for now', () => {
        navigate(afterSignIn || '/');
        afterSignIn = null;
      }, 'secondary')),
    out);
}

// ---------- accounts ----------

async function accountsView() {
  const accounts = await api({ op: 'accounts' }, 'Loading teams…');
  const rows = accounts.map((a) => h('tr', {},
    h('td', {}, h('a', { href: `/teams/${a.id}` }, a.name)), h('td', {}, a.role), h('td', {}, a.status.replace('_', ' ')),
    h('td', {}, `v${a.key_version}`)));
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  const banners = accounts.flatMap((a) => {
    const admin = a.role === 'owner' || a.role === 'admin';
    const out = [];
    if (a.status === 'active' && a.awaiting_vouch > 0) {
      out.push(h('p', { class: 'flash banner vouch-banner', 'data-team': a.id }, `${a.name}: ${plural(a.awaiting_vouch, 'member waits', 'members wait')} for colleagues to vouch for a new key. `,
        h('a', { href: `/teams/${a.id}/recovery` }, 'Compare codes and vouch')));
    }
    if (a.status === 'active' && admin && a.rotation_required) {
      out.push(h('p', { class: 'flash banner rotation-banner', 'data-team': a.id }, `${a.name}: someone left the team and its key has not been rotated yet. `,
        h('a', { href: `/teams/${a.id}` }, 'Finish the rotation')));
    }
    if (a.status === 'awaiting_vouch') {
      out.push(h('p', { class: 'flash banner', 'data-team': a.id }, `${a.name}: your access waits for colleagues to vouch for your new key.`));
    }
    return out;
  });
  page('Teams',
    me.kit && me.kit.exists ? null : h('p', { class: 'flash' }, 'You have no recovery kit. ', h('a', { href: '/kit' }, 'Make one now')),
    banners,
    accounts.length
      ? h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Teams' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Team'), h('th', {}, 'Your role'), h('th', {}, 'Status'), h('th', {}, 'Key'))), h('tbody', {}, rows)))
      : h('p', { class: 'muted' }, 'No teams yet. Create one, or accept an invitation from your email.'),
    h('h2', {}, 'New team'),
    form({
      cls: 'row',
      fields: [{ name: 'name', label: 'Name' }],
      submit: 'Create team',
      onSubmit: async (d) => {
        const a = await api({ op: 'create_account', name: d.name }, 'Creating the team key…');
        navigate(`/teams/${a.id}`);
      },
    }));
}

async function accountView(id, tab) {
  let detail;
  try {
    detail = await api({ op: 'account', account_id: id }, 'Verifying the team log…');
  } catch (e) {
    if (e.code === 'client.refused') {
      // What the server sent contradicts what this browser verified before: say so plainly.
      page('Team', h('p', { class: 'flash', role: 'alert' }, 'This browser refused what the server sent for this team: ', e.message),
        h('p', {}, 'Nothing was changed. Tell your team\'s admins: the server (or someone controlling it) shows a history that does not match the one verified here.'));
      return;
    }
    page('Team', h('p', {}, e.message),
      e.status === 404
        ? h('p', {}, 'This team does not exist, or you are no longer a member of it. ', h('a', { href: '/' }, 'Back to your teams'))
        : h('p', {}, 'If an admin has not confirmed you yet, read them your verification code: ', h('span', { class: 'code', id: 'my-code' }, me.code)));
    return;
  }
  const a = detail.account;
  const admin = a.role === 'owner' || a.role === 'admin';
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Team' },
    ['items', 'inbox', 'members', 'recovery'].map((t) => h('a', { href: `/teams/${id}/${t}`, 'aria-current': t === tab ? 'page' : null }, t[0].toUpperCase() + t.slice(1))));
  const body = h('div');
  const inLog = detail.members.filter((m) => m.in_log).length;
  const waiting = detail.pending.filter((p) => !p.vetoed && p.user_id !== me.user_id);
  page(a.name,
    a.status === 'active'
      ? h('p', { class: 'muted' }, `Your role: ${detail.log.role} · key version ${detail.log.key_version} · ${inLog} members · team log verified (${detail.log_len} entries) · the name is as the server stores it`)
      : null,
    detail.first_view
      ? h('p', { class: 'muted', id: 'first-view' }, 'First view of this team\'s history in this browser: there is no earlier checkpoint to compare it with. From now on, a rewrite or rollback is refused.')
      : null,
    detail.unverified && a.status === 'active' ? verifyTeamCard(id, detail) : null,
    (detail.stale || []).map((w) => h('p', { class: 'flash stale' },
      `${memberEmail(detail, w.user_id)} ${w.days === null ? 'has never confirmed the history' : `has not confirmed the history for ${w.days} days`} while active: the server may be showing the two of you different histories. Compare team history codes with them (yours: ${detail.history_code}).`)),
    detail.reset_not_mine
      ? h('p', { class: 'flash', id: 'reset-not-mine' }, 'The team log shows a password reset for YOU, with keys this browser did not make. If you did not reset your password, veto it now. ',
        button('Veto this reset', async () => {
          await api({ op: 'veto', account_id: id, user_id: me.user_id }, 'Vetoing…');
          flash('Reset vetoed.', 'info');
          render();
        }, 'danger'))
      : null,
    a.status === 'active' && tab !== 'recovery' && waiting.length
      ? h('p', { class: 'flash banner vouch-banner' }, `${waiting.length === 1 ? `${memberEmail(detail, waiting[0].user_id)} waits` : `${waiting.length} members wait`} for colleagues to vouch for a new key. `,
        h('a', { href: `/teams/${id}/recovery` }, 'Compare codes and vouch'))
      : null,
    a.status === 'awaiting_vouch' ? h('p', { class: 'flash' }, 'Your access is waiting: colleagues must vouch for your new key. Read them your code: ', h('span', { class: 'code', id: 'my-code' }, me.code)) : null,
    a.status === 'accepted' ? h('p', { class: 'flash', id: 'not-confirmed' }, 'An admin has not confirmed you yet. Read them your verification code (by phone or in person): ', h('span', { class: 'code', id: 'my-code' }, me.code)) : null,
    a.rotation_required || a.items_to_rotate > 0
      ? h('p', { class: 'flash' }, `Key rotation unfinished (${a.items_to_rotate} items still under an older key). `,
        button('Finish rotation', async () => {
          await api({ op: 'rotate', account_id: id, force: false }, 'Re-encrypting items…');
          flash('Rotation finished.', 'info');
          render();
        }))
      : null,
    tabs, body);
  if (tab === 'items') await itemsTab(id, body, a);
  if (tab === 'inbox') await inboxTab(id, body, admin);
  if (tab === 'members') membersTab(id, body, detail, admin);
  if (tab === 'recovery') recoveryTab(id, body, detail, admin);
}

function memberEmail(detail, userId) {
  return (detail.members.find((m) => m.user_id === userId) || { email: userId }).email;
}

// The joiner's half of the ceremony: the admin who added us reads out their code and the team
// history code; the engine compares both with the log this browser was served.
function verifyTeamCard(id, detail) {
  const who = detail.added_by ? memberEmail(detail, detail.added_by) : 'the admin who added you';
  return h('section', { class: 'card flash', id: 'verify-team' },
    h('p', {}, `This team is not verified in this browser yet. Call ${who} (a number you already know) and ask them to read out their verification code and the team history code they saw when they confirmed you.`),
    form({
      cls: 'row',
      fields: [
        { name: 'admin_code', label: 'Their verification code', inputmode: 'numeric', autocomplete: 'off' },
        { name: 'history_code', label: 'Team history code', inputmode: 'numeric', autocomplete: 'off' },
      ],
      submit: 'Verify team',
      onSubmit: async (d) => {
        await api({ op: 'verify_team', account_id: id, admin_code: d.admin_code, history_code: d.history_code }, 'Comparing…');
        await render();
        flash('Team verified: this browser sees the same history as the admin who added you.', 'info');
      },
    }));
}

// ---------- items ----------

// Templates: the fields a new item starts with (names, and which are secret). All of it —
// names, values, which are secret, the template's name — is encrypted with the item.
const TEMPLATES = {
  customer: { label: 'Customer record', title: 'name', fields: [['name'], ['email'], ['phone'], ['address'], ['notes']] },
  login: { label: 'Login', title: 'title', fields: [['title'], ['username'], ['password', true], ['url'], ['notes']] },
  note: { label: 'Secure note', title: 'title', fields: [['title'], ['note']] },
};
const ROW = 56; // px per row of the (virtualised) item list
const CLIPBOARD_CLEAR_MS = 30000;
const SORTS = [['updated', 'Last changed'], ['created', 'Newest'], ['title', 'Title A–Z'], ['title_desc', 'Title Z–A']];
// Timings of the last load and search (read by the browser suite's benchmark; never sent anywhere).
const timings = { load_ms: null, search_ms: null, query: null, items: 0 };
window.vouchsafeTimings = timings;

// Copies a value; after 30 s the clipboard is cleared if it still holds it (or if this page may
// not read the clipboard to check: a secret is not left behind).
async function copyValue(value, what) {
  await navigator.clipboard.writeText(value);
  flash(`${what} copied. The clipboard is cleared in 30 seconds.`, 'info');
  setTimeout(async () => {
    let current = value;
    try {
      current = await navigator.clipboard.readText();
    } catch {
      // Unreadable: clear it anyway.
    }
    if (current === value) await navigator.clipboard.writeText('').catch(() => {});
  }, CLIPBOARD_CLEAR_MS);
}

function editor(accountId, item, template, onSaved, onCancel) {
  const rows = h('div', { class: 'fields' });
  const titleSelect = h('select', { name: 'title_field' });
  const titleId = nextId('t');
  titleSelect.id = titleId;
  const wanted = item ? item.title_field : (TEMPLATES[template] || {}).title;
  const refreshTitles = () => {
    const keep = titleSelect.value || wanted || '';
    const names = [...rows.querySelectorAll('.fname')].map((i) => i.value.trim()).filter((n) => n);
    titleSelect.replaceChildren(h('option', { value: '' }, '(first field with a value)'),
      ...[...new Set(names)].map((n) => h('option', { value: n, selected: n === keep }, n)));
  };
  const addRow = (name = '', value = '', secret = false) => {
    const n = nextId('n');
    const v = nextId('v');
    const s = nextId('s');
    const valueInput = h('input', { id: v, class: 'fvalue', value, type: secret ? 'password' : 'text', autocomplete: 'off', spellcheck: 'false' });
    const secretBox = h('input', { id: s, type: 'checkbox', class: 'fsecret', checked: secret });
    secretBox.addEventListener('change', () => { valueInput.type = secretBox.checked ? 'password' : 'text'; });
    const nameInput = h('input', { id: n, class: 'fname', value: name, required: true, autocomplete: 'off' });
    nameInput.addEventListener('change', refreshTitles);
    const row = h('div', { class: 'field-row' },
      h('label', { for: n }, 'Field', nameInput),
      h('label', { for: v }, 'Value', valueInput),
      h('div', { class: 'field-tools' },
        h('label', { class: 'check', for: s }, secretBox, 'Secret'),
        button('Generate', async () => {
          const g = await api({ op: 'generate', length: 20, digits: true, symbols: true }, 'Generating…');
          valueInput.value = g.password;
          secretBox.checked = true;
          valueInput.type = 'password';
        }, 'secondary gen'),
        h('button', { type: 'button', class: 'secondary', 'aria-label': `Remove field ${name || ''}`.trim(), onclick: () => { row.remove(); refreshTitles(); } }, '×')));
    rows.append(row);
  };
  const start = item ? item.fields.map((f) => [f.name, f.value, f.secret]) : (TEMPLATES[template] || TEMPLATES.customer).fields.map(([n, s]) => [n, '', !!s]);
  for (const [k, v, s] of start) addRow(k, v, s);
  refreshTitles();
  const save = h('button', { type: 'submit' }, item ? 'Save changes' : 'Create item');
  const el = h('form', { class: 'card editor', 'aria-label': item ? 'Edit item' : 'New item' },
    h('h2', {}, item ? 'Edit item' : `New item: ${(TEMPLATES[template] || TEMPLATES.customer).label.toLowerCase()}`), rows,
    h('label', { for: titleId, class: 'title-pick' }, 'Title shown in the list', titleSelect),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => addRow() }, 'Add field'), save,
      h('button', { type: 'button', class: 'secondary', onclick: onCancel }, 'Cancel')));
  el.addEventListener('submit', (event) => {
    event.preventDefault();
    const fields = [...rows.children].map((r) => ({
      name: r.querySelector('.fname').value, value: r.querySelector('.fvalue').value, secret: r.querySelector('.fsecret').checked,
    }));
    guarded(save, async () => {
      const r = await api({
        op: 'save_item', account_id: accountId, item_id: item ? item.id : null, revision: item ? item.revision : null,
        fields, title: titleSelect.value || null, template: item ? item.template : template,
      }, 'Encrypting…');
      onSaved(r.id);
    });
  });
  return el;
}

// One item, as the engine decrypted it: secret values masked until revealed.
function itemCard(accountId, it, actions) {
  const list = h('dl', { class: 'kv item-fields' });
  for (const f of it.fields) {
    const shown = h('span', { class: f.secret ? 'value masked' : 'value' }, f.secret ? '••••••••' : f.value);
    const tools = h('span', { class: 'actions inline' });
    if (f.secret) {
      const reveal = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false', 'aria-label': `Reveal ${f.name}` }, 'Reveal');
      reveal.addEventListener('click', () => {
        const on = reveal.getAttribute('aria-pressed') !== 'true';
        reveal.setAttribute('aria-pressed', String(on));
        reveal.textContent = on ? 'Hide' : 'Reveal';
        shown.textContent = on ? f.value : '••••••••';
        shown.className = on ? 'value' : 'value masked';
      });
      tools.append(reveal);
    }
    if (f.value) tools.append(button('Copy', () => copyValue(f.value, f.name), 'secondary copy'));
    list.append(h('dt', {}, f.name), h('dd', { 'data-field': f.name }, shown, ' ', tools));
  }
  return h('section', { class: 'card item-view', 'aria-labelledby': 'item-title', 'data-item': it.id },
    h('h2', { id: 'item-title' }, it.title),
    list,
    h('p', { class: 'muted' }, `Changed ${when(it.updated_at)} · key version ${it.key_version}`,
      it.legacy ? ' · older format (its set of fields is checked from the next key rotation on)' : ''),
    h('div', { class: 'actions' }, actions));
}

async function itemsTab(id, body, account) {
  if (account.status !== 'active') return;
  const started = performance.now();
  const loaded = await api({ op: 'load_items', account_id: id }, 'Decrypting items…');
  const search = h('input', { type: 'search', id: 'item-search', 'aria-label': 'Search items', placeholder: 'Search names and values', autocomplete: 'off', spellcheck: 'false' });
  const sortId = nextId('s');
  const sort = h('select', { id: sortId, name: 'sort' }, SORTS.map(([v, l]) => h('option', { value: v }, l)));
  const tmplId = nextId('tp');
  const tmpl = h('select', { id: tmplId, name: 'template' }, Object.entries(TEMPLATES).map(([k, t]) => h('option', { value: k }, t.label)));
  const count = h('p', { class: 'muted', id: 'item-count', role: 'status' });
  const spacer = h('div', { class: 'vspacer' });
  const list = h('div', { class: 'vlist', id: 'item-list', role: 'list', tabindex: '0', 'aria-label': 'Items' }, spacer);
  const slot = h('div', { id: 'item-slot' });
  let total = 0;
  let asked = 0; // drops answers to searches overtaken by a newer one
  const drawRows = (answer) => {
    spacer.style.height = `${answer.total * ROW}px`;
    spacer.replaceChildren(...answer.rows.map((r, i) => h('div', { role: 'listitem', class: 'vrow', style: null, 'data-top': (answer.offset + i) * ROW },
      h('button', { type: 'button', class: 'item-open', 'data-id': r.id, onclick: () => openItem(r.id) },
        h('span', { class: 'item-title' }, r.title), h('span', { class: 'item-sum muted' }, r.summary || (r.legacy ? 'older format' : ''))))));
    // Positions through CSSOM (the policy allows no inline style attribute).
    for (const row of spacer.children) row.style.top = `${row.dataset.top}px`;
  };
  const refresh = async (fromInput) => {
    const mine = ++asked;
    const t0 = performance.now();
    const first = Math.max(0, Math.floor(list.scrollTop / ROW) - 5);
    const n = Math.ceil((list.clientHeight || 480) / ROW) + 10;
    const query = search.value;
    const answer = { ...await api({ op: 'find_items', account_id: id, query, sort: sort.value, offset: first, limit: n }, 'Searching…'), query };
    if (mine !== asked) return;
    total = answer.count;
    drawRows(answer);
    count.textContent = search.value.trim()
      ? `${answer.total.toLocaleString('en')} of ${answer.count.toLocaleString('en')} items match`
      : `${answer.count.toLocaleString('en')} items`;
    if (fromInput) {
      timings.search_ms = performance.now() - t0;
      timings.query = answer.query;
    }
  };
  let scrolling = false;
  list.addEventListener('scroll', () => {
    if (scrolling) return;
    scrolling = true;
    requestAnimationFrame(() => { scrolling = false; refresh(false).catch(showError); });
  });
  search.addEventListener('input', () => { list.scrollTop = 0; refresh(true).catch(showError); });
  sort.addEventListener('change', () => { list.scrollTop = 0; refresh(false).catch(showError); });
  const openItem = async (itemId) => {
    const it = await api({ op: 'get_item', account_id: id, item_id: itemId }, 'Opening…');
    slot.replaceChildren(itemCard(id, it, [
      h('button', { type: 'button', onclick: () => slot.replaceChildren(editor(id, it, it.template, saved, () => openItem(itemId))) }, 'Edit'),
      button('Delete', async () => {
        if (!window.confirm('Delete this item? This cannot be undone.')) return;
        await api({ op: 'delete_item', account_id: id, item_id: itemId }, 'Deleting…');
        slot.replaceChildren();
        await refresh(false);
        flash('Item deleted.', 'info');
      }, 'danger'),
      h('button', { type: 'button', class: 'secondary', onclick: () => slot.replaceChildren() }, 'Close')]));
    slot.scrollIntoView({ block: 'nearest' });
  };
  const saved = async (itemId) => {
    await refresh(false);
    await openItem(itemId);
    flash('Saved.', 'info');
  };
  body.append(
    h('div', { class: 'toolbar' },
      search,
      h('label', { for: sortId, class: 'inline' }, 'Sort', sort),
      h('span', { class: 'actions' },
        h('label', { for: tmplId, class: 'inline' }, 'Template', tmpl),
        h('button', { type: 'button', id: 'new-item', onclick: () => slot.replaceChildren(editor(id, null, tmpl.value, saved, () => slot.replaceChildren())) }, 'New item'))),
    slot, count, list,
    transferSection(id, account, () => refresh(false)));
  await refresh(false);
  timings.load_ms = performance.now() - started;
  timings.items = loaded.count;
  if (total === 0) count.textContent = 'No items yet: create one, or import a file.';
}

// ---------- import and export ----------

const MAX_IMPORT_BYTES = 64 * 1024 * 1024;

function download(name, content, type) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function fileName(team, ext) {
  const safe = team.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-|-$/g, '') || 'team';
  return `vouchsafe-${safe}-${new Date().toISOString().slice(0, 10)}.${ext}`;
}

// Import (Bitwarden JSON/CSV, 1Password CSV, plain CSV, a Vouchsafe export) with a preview,
// and export, in a section of the items tab. Files are read and parsed in the engine.
function transferSection(id, account, onImported) {
  const fileId = nextId('file');
  const file = h('input', { type: 'file', id: fileId, name: 'import', accept: '.json,.csv,text/csv,application/json' });
  const out = h('div', { id: 'import-preview', 'aria-live': 'polite' });
  const parse = async (password) => {
    const f = file.files[0];
    if (!f) return;
    if (f.size > MAX_IMPORT_BYTES) throw Object.assign(new Error('This file is too large: at most 64 MiB.'), { code: 'import.too_large' });
    const text = await f.text();
    try {
      showPreview(await api({ op: 'import_parse', text, password: password || null }, 'Reading the file…'));
    } catch (e) {
      if (e.code !== 'import.password_needed' && e.code !== 'import.wrong_password') throw e;
      out.replaceChildren(h('div', { class: 'card' },
        h('p', { class: e.code === 'import.wrong_password' ? 'bad' : null }, e.message),
        form({
          cls: 'row',
          fields: [{ name: 'password', label: 'Password of the file', type: 'password', autocomplete: 'off' }],
          submit: 'Open the file',
          onSubmit: async (d) => parse(d.password),
        })));
    }
  };
  const showPreview = (pv) => {
    const names = [...new Set(pv.sample.flat().map((f) => f.name))].slice(0, 8);
    out.replaceChildren(h('section', { class: 'card', 'aria-labelledby': 'preview-h' },
      h('h3', { id: 'preview-h' }, `${pv.format}: ${pv.count.toLocaleString('en')} records`),
      pv.skipped ? h('p', { class: 'muted' }, `${pv.skipped} empty records will be skipped.`) : null,
      h('p', { class: 'muted' }, 'The first records, as they will be stored (secret values masked):'),
      h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Preview of the import' }, h('table', { id: 'preview-table' },
        h('thead', {}, h('tr', {}, names.map((n) => h('th', { scope: 'col' }, n)))),
        h('tbody', {}, pv.sample.map((rec) => h('tr', {}, names.map((n) => {
          const f = rec.find((x) => x.name === n);
          return h('td', {}, f ? f.value : '');
        })))))),
      h('div', { class: 'actions' },
        button(`Import ${pv.count.toLocaleString('en')} records`, async () => {
          const r = await api({ op: 'import_commit', account_id: id }, 'Encrypting and importing…');
          out.replaceChildren();
          file.value = '';
          await onImported();
          flash(`Imported ${r.imported.toLocaleString('en')} records. Delete the file you imported from: it is not encrypted.`, 'info');
        }, 'import-go'),
        button('Cancel', async () => {
          await api({ op: 'import_cancel' }, 'Cancelling…');
          out.replaceChildren();
          file.value = '';
        }, 'secondary'))));
  };
  file.addEventListener('change', () => {
    clearFlash();
    parse(null).catch(showError);
  });
  const exportOut = h('div', { id: 'export-box' });
  const encrypted = () => exportOut.replaceChildren(h('div', { class: 'card' },
    h('p', {}, 'The file is encrypted with a password you choose now (Argon2id and XChaCha20-Poly1305; its format is in PROTOCOL.md §4.2). Without that password nobody can open it — not even you.'),
    form({
      fields: newPasswordFields('File password'),
      submit: 'Download encrypted file',
      onSubmit: async (d) => {
        samePasswords(d);
        const r = await api({ op: 'export_items', account_id: id, team: account.name, format: 'encrypted', password: d.password }, 'Encrypting the export…');
        download(fileName(account.name, 'vouchsafe.json'), r.content, 'application/json');
        exportOut.replaceChildren();
        flash(`Exported ${r.count.toLocaleString('en')} items, encrypted.`, 'info');
      },
    })));
  const plain = () => exportOut.replaceChildren(h('div', { class: 'card flash', role: 'alertdialog', 'aria-labelledby': 'plain-warn' },
    h('p', { id: 'plain-warn' }, 'A plain CSV file is NOT encrypted: anyone who gets the file reads every value, secrets included. Keep it off shared drives and e-mail, and delete it when done.'),
    h('div', { class: 'actions' },
      button('I understand: download plain CSV', async () => {
        const r = await api({ op: 'export_items', account_id: id, team: account.name, format: 'csv' }, 'Writing CSV…');
        download(fileName(account.name, 'csv'), r.content, 'text/csv');
        exportOut.replaceChildren();
        flash(`Exported ${r.count.toLocaleString('en')} items as plain CSV.`, 'info');
      }, 'danger'),
      button('Cancel', () => exportOut.replaceChildren(), 'secondary'))));
  return h('details', { class: 'card transfer' }, h('summary', {}, 'Import and export'),
    h('h2', {}, 'Import'),
    h('p', { class: 'muted' }, 'From Bitwarden (unencrypted .json or .csv), 1Password (.csv), any CSV with a header row, or a Vouchsafe export. The file is read in this tab; each record is encrypted before it is sent.'),
    h('label', { for: fileId }, 'File to import', file), out,
    h('h2', {}, 'Export'),
    h('div', { class: 'actions' },
      h('button', { type: 'button', id: 'export-encrypted', onclick: encrypted }, 'Export encrypted file'),
      h('button', { type: 'button', class: 'secondary', id: 'export-csv', onclick: plain }, 'Export plain CSV…')),
    exportOut);
}

// ---------- members ----------

// ---------- inbox ----------

// What third parties deposited, sealed to the team's inbox key. The key shown (and its code, for
// providers) is the one the verified team log endorses; contents open here, in the engine.
async function inboxTab(id, body, admin) {
  const inbox = await api({ op: 'inbox', account_id: id }, 'Reading the inbox…');
  if (!inbox.key) {
    body.append(h('p', { id: 'no-inbox' }, 'This team has no inbox yet. With one, partner systems deposit records here, sealed to a key only the team holds.'),
      admin ? button('Create the inbox key', async () => {
        const k = await api({ op: 'create_inbox', account_id: id }, 'Making the inbox key…');
        await render();
        flash(`Inbox key ${k.version} created. Give providers its code with their token: ${k.code}`, 'info');
      }) : h('p', { class: 'muted' }, 'An admin can create it.'));
    return;
  }
  const opened = h('section', { id: 'deposit', 'aria-live': 'polite' });
  const rows = inbox.deposits.map((d) => {
    const args = { account_id: id, provider_id: d.provider_id, deposit_id: d.id };
    const actions = h('td', { class: 'actions', 'data-label': 'Actions' },
      button('Open', async () => {
        const r = await api({ op: 'open_deposit', ...args }, 'Opening…');
        opened.replaceChildren(...[h('h2', {}, `Deposit ${d.id}`),
          d.sealed_by_server ? h('p', { class: 'flash' }, 'Sent in plaintext: the server saw it in transit before sealing it.') : null,
          h('dl', { class: 'fields' }, Object.entries(r.fields).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))].filter(Boolean));
      }),
      button('File as item', async () => {
        const r = await api({ op: 'file_deposit', ...args }, 'Filing as an item…');
        await render();
        flash(`Filed as item ${r.item_id}.`, 'info');
      }),
      button('Discard', async () => {
        if (!window.confirm(`Discard deposit ${d.id}? Its content is deleted.`)) return;
        await api({ op: 'discard_deposit', ...args }, 'Discarding…');
        await render();
      }, 'danger'));
    return h('tr', { 'data-deposit': d.id },
      h('td', { 'data-label': 'Deposit' }, d.id), h('td', { 'data-label': 'From' }, d.provider_name || d.provider_id),
      h('td', { 'data-label': 'Arrived' }, new Date(d.created_at * 1000).toISOString().slice(0, 16).replace('T', ' ')),
      h('td', { 'data-label': 'Size' }, `${d.size} bytes`), actions);
  });
  body.append(
    h('p', {}, `Inbox key ${inbox.key.version}, code for providers: `, h('span', { class: 'code', id: 'inbox-code' }, inbox.key.code)),
    h('p', { id: 'inbox-count' }, inbox.count === 1 ? '1 deposit waiting.' : `${inbox.count} deposits waiting.`),
    rows.length
      ? h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Deposits' }, h('table', { class: 'stack', id: 'deposits' },
        h('thead', {}, h('tr', {}, ['Deposit', 'From', 'Arrived (UTC)', 'Size', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows)))
      : null,
    opened);
}

function membersTab(id, body, detail, admin) {
  const rows = detail.members.map((m) => {
    const actions = h('td', { class: 'actions' });
    if (admin && m.status === 'accepted') {
      // The role signed into the log is the one chosen here; the server's invitation only suggests it.
      actions.append(form({
        cls: 'row',
        fields: [
          { name: 'role', label: 'Role to grant', type: 'select', options: ['member', 'admin', 'owner'], value: m.invited_as || 'member' },
          { name: 'code', label: `Code ${m.email} reads to you`, inputmode: 'numeric', autocomplete: 'off' },
        ],
        submit: 'Confirm',
        onSubmit: async (d) => {
          const r = await api({ op: 'confirm', account_id: id, user_id: m.user_id, role: d.role, code: d.code }, 'Verifying and sealing the account key…');
          await render();
          flash(`${m.email} is confirmed and can now read the team's items. Now read them your code ${r.admin_code} and the team history code ${r.history_code}: they type both on their team page.`, 'info');
        },
      }));
    } else if (admin && !m.me && m.in_log) {
      actions.append(button('Remove', async () => {
        if (!window.confirm(`Remove ${m.email}? The team key is then rotated and every item re-encrypted.`)) return;
        const r = await api({ op: 'remove', account_id: id, user_id: m.user_id }, 'Removing and rotating keys…');
        flash(`${m.email} removed; key version ${r.key_version}, ${r.items_reencrypted} items re-encrypted.`, 'info');
        render();
      }, 'danger'));
    }
    actions.dataset.label = 'Actions';
    return h('tr', { 'data-email': m.email },
      h('td', { 'data-label': 'Member' }, m.email, m.me ? ' (you)' : ''), h('td', { 'data-label': 'Role' }, m.role || (m.invited_as ? `invited as ${m.invited_as}` : '—')),
      h('td', { class: 'status', 'data-label': 'Status' }, m.status === 'not_in_log' ? 'not in the team log' : m.status.replace('_', ' ')),
      h('td', { 'data-label': 'Verification code' }, m.code ? h('span', { class: 'code' }, m.code) : '—'), actions);
  });
  const missing = detail.policy && detail.policy.second_factor_required
    ? detail.members.filter((m) => m.in_log && m.second_factor === false) : [];
  body.append(
    missing.length ? h('p', { class: 'flash', id: 'not-compliant' }, `This team requires a second factor. Not set up yet (they cannot read items until they do): ${missing.map((m) => m.email).join(', ')}.`) : null,
    h('p', {}, 'Compare verification codes in person or by phone before confirming anyone. Your code: ', h('span', { class: 'code', id: 'my-code' }, me.code)),
    h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Members' }, h('table', { class: 'stack', id: 'members' },
      h('thead', {}, h('tr', {}, ['Member', 'Role', 'Status', 'Verification code', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows))));
  if (!admin) return;
  body.append(h('h2', {}, 'Invite'), form({
    cls: 'row',
    fields: [
      { name: 'email', label: 'Email', type: 'email' },
      { name: 'role', label: 'Role', type: 'select', options: ['member', 'admin'], value: 'member' },
    ],
    submit: 'Send invitation',
    onSubmit: async (d) => {
      await api({ op: 'invite', account_id: id, email: d.email, role: d.role }, 'Inviting…');
      flash(`Invitation sent to ${d.email}. When they accept, confirm them here after comparing codes.`, 'info');
      render();
    },
  }));
  const open = detail.invitations.filter((i) => i.status === 'pending');
  if (open.length) {
    body.append(h('h2', {}, 'Open invitations'), h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Open invitations' }, h('table', {},
      h('tbody', {}, open.map((i) => h('tr', { 'data-invitation': i.email }, h('td', {}, i.email), h('td', {}, i.role), h('td', {}, `expires ${when(i.expires_at)}`),
        h('td', {}, button('Revoke', async () => {
          await api({ op: 'revoke_invitation', account_id: id, invitation_id: i.id }, 'Revoking…');
          render();
        }, 'secondary'))))))));
  }
}

// ---------- recovery (vouching) ----------

function recoveryTab(id, body, detail, admin) {
  const email = (uid2) => (detail.members.find((m) => m.user_id === uid2) || { email: uid2 }).email;
  const now = Date.now() / 1000;
  body.append(h('h2', {}, 'Members waiting for vouches'));
  if (!detail.pending.length) body.append(h('p', { class: 'muted' }, 'Nobody is waiting.'));
  for (const p of detail.pending) {
    const ready = p.vouchers.length >= p.needed && now >= p.resealable_at && !p.vetoed;
    body.append(h('section', { class: 'card', 'data-email': email(p.user_id) },
      h('h3', {}, email(p.user_id)),
      p.unconfirmed ? h('p', { class: 'flash unconfirmed' }, `Announced by the server on behalf of ${email(p.user_id)}: nobody has compared codes yet. Call them on a number you already know and ask them.`) : null,
      h('p', {}, `The team log announces a new key for ${email(p.user_id)}. Call them on a number you already know and ask them to read out the verification code on their screen${p.has_history_code ? ' and the team history code for this team' : ''}. Type what they read: this browser compares it with the team log.`),
      h('p', { class: 'muted' }, `New keys: generation ${p.generation}, replacing ${p.replaces_generation} · vouches: ${p.vouchers.length} of ${p.needed} · reset ${when(p.announced_at)} · reseal possible from ${when(p.resealable_at)}${p.vetoed ? ' · VETOED' : ''}`),
      p.vouchers.includes(me.user_id) ? h('p', {}, 'You vouched.') : form({
        cls: 'row',
        fields: [{ name: 'code', label: 'Code the member read to you', inputmode: 'numeric' },
          ...(p.has_history_code ? [{ name: 'history', label: 'Team history code they read', inputmode: 'numeric' }] : [])],
        submit: 'Vouch',
        onSubmit: async (d) => {
          const r = await api({ op: 'vouch', account_id: id, user_id: p.user_id, code: d.code, history_code: d.history || null }, 'Vouching…');
          flash(r.restored ? `${email(p.user_id)} has access again.` : 'Vouch recorded; more vouches or the waiting period are needed.', 'info');
          render();
        },
      }),
      h('div', { class: 'actions' },
        ready ? button('Reseal now', async () => {
          await api({ op: 'reseal', account_id: id, user_id: p.user_id }, 'Sealing the account key…');
          render();
        }) : null,
        admin && !p.vetoed ? button('Veto', async () => {
          if (!window.confirm('Veto this reset? The member will need a new reset.')) return;
          await api({ op: 'veto', account_id: id, user_id: p.user_id }, 'Vetoing…');
          render();
        }, 'danger') : null)));
  }
  const pol = detail.policy;
  if (!pol) return;
  body.append(h('h2', {}, 'Recovery policy'), h('dl', { class: 'kv' },
    h('dt', {}, 'Vouches needed'), h('dd', {}, String(pol.vouch_quorum)),
    h('dt', {}, 'Waiting period'), h('dd', {}, `${pol.waiting_period_secs / 3600} hours`),
    h('dt', {}, 'Who may vouch'), h('dd', {}, pol.admins_only ? 'owners and admins' : 'any active member'),
    h('dt', {}, 'Admins to sign a change'), h('dd', {}, String(pol.admin_approvals)),
    h('dt', {}, 'Second factor'), h('dd', { id: 'second-factor-policy' }, pol.second_factor_required ? 'required of every member' : 'optional')));
  if (admin) {
    body.append(h('p', {}, button(pol.second_factor_required ? 'Make the second factor optional' : 'Require a second factor of every member', async () => {
      if (!pol.second_factor_required && !window.confirm('Members without a second factor will not be able to read the team\'s items until they set one up (Settings → Second factors). Require it?')) return;
      const r = await api({ op: 'set_second_factor_policy', account_id: id, required: !pol.second_factor_required }, 'Signing the policy…');
      await render();
      flash(r.proposed ? `Proposed (${r.proposed.signatures} of ${r.proposed.needed} admin signatures): other admins co-sign it on this page.` : 'Second-factor policy changed.', 'info');
    }, 'secondary')));
  }
  if (admin) {
    body.append(form({
      cls: 'row',
      fields: [
        { name: 'quorum', label: 'Vouches needed', type: 'number', min: 1, max: 255, value: pol.vouch_quorum },
        { name: 'hours', label: 'Waiting period (hours)', type: 'number', min: 0, max: 720, value: pol.waiting_period_secs / 3600 },
        { name: 'admins_only', label: 'Only admins may vouch', type: 'checkbox', value: pol.admins_only },
        { name: 'approvals', label: 'Admins to sign a change', type: 'number', min: 1, max: 8, value: pol.admin_approvals },
      ],
      submit: 'Change policy',
      onSubmit: async (d) => {
        const r = await api({ op: 'set_policy', account_id: id, vouch_quorum: Number(d.quorum), waiting_period_secs: Math.round(Number(d.hours) * 3600), admins_only: d.admins_only, admin_approvals: Number(d.approvals) }, 'Signing the policy…');
        await render();
        flash(r.proposed ? `Proposed (${r.proposed.signatures} of ${r.proposed.needed} admin signatures): other admins co-sign it on this page.` : 'Policy changed.', 'info');
      },
    }));
  }
  proposalsSection(id, body, detail, admin, email);
}

// Changes that need several admins: each shown as the engine decoded it from the signed entry.
function proposalsSection(id, body, detail, admin, email) {
  body.append(h('h2', {}, 'Proposals awaiting admin signatures'));
  if (!detail.proposals.length) body.append(h('p', { class: 'muted' }, 'None.'));
  for (const p of detail.proposals) {
    const signed = p.signers.includes(me.user_id);
    body.append(h('section', { class: 'card proposal', 'data-proposal': p.id },
      h('h3', {}, p.summary),
      h('p', { class: 'muted' }, `Proposed by ${email(p.author)} · signed by ${p.signers.map(email).join(', ')} (${p.signers.length} of ${p.needed}) · ${p.status} · expires ${when(p.expires_at)}`),
      p.refused ? h('p', { class: 'flash refused' }, `This browser refuses it: ${p.refused}`) : null,
      h('div', { class: 'actions' },
        admin && !signed && !p.refused && p.status === 'open' ? button('Co-sign', async () => {
          const r = await api({ op: 'cosign', account_id: id, proposal_id: p.id }, 'Co-signing…');
          await render();
          flash(r.status === 'applied' ? 'Co-signed: the change is applied.' : `Co-signed (${r.signatures} of ${r.needed}).`, 'info');
        }) : null,
        admin ? button('Withdraw', async () => {
          await api({ op: 'withdraw_proposal', account_id: id, proposal_id: p.id }, 'Withdrawing…');
          render();
        }, 'secondary') : null)));
  }
}

// ---------- settings ----------

function recoveryCodesCard(codes) {
  return h('div', { class: 'card', id: 'recovery-codes' },
    h('p', {}, 'Your recovery codes. Each works once in place of the app\'s code. They are shown only now: save or print them, and keep them apart from your phone.'),
    h('ul', { class: 'codes' }, codes.map((c) => h('li', {}, h('span', { class: 'code' }, c)))),
    button('Download as a file', async () => download('vouchsafe-recovery-codes.txt', `Vouchsafe recovery codes for ${me.email}\n\n${codes.join('\n')}\n`, 'text/plain'), 'secondary'),
    ' ', button('Print', async () => window.print(), 'secondary'));
}

// The QR code of the otpauth:// URI, drawn as one SVG path (the engine computes the modules).
function qrImage(qr) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${qr.size} ${qr.size}`);
  svg.setAttribute('width', '200');
  svg.setAttribute('height', '200');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'QR code for your authenticator app');
  svg.setAttribute('class', 'qr');
  const bg = document.createElementNS(ns, 'rect');
  bg.setAttribute('width', String(qr.size));
  bg.setAttribute('height', String(qr.size));
  bg.setAttribute('fill', '#fff');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', qr.d);
  path.setAttribute('fill', '#000');
  svg.append(bg, path);
  return svg;
}

function secondFactorsSection(list) {
  const box = h('div', { id: 'second-factors' });
  const kind = (f) => (f.kind === 'totp' ? 'Authenticator app'
    : f.kind === 'webauthn' ? (f.unlock ? 'Passkey (also unlocks your keys)' : 'Passkey') : f.kind);
  const hasPasskey = passkeysHere() && list.factors.some((f) => f.kind === 'webauthn');
  // A fresh check: a code typed in the form, or the passkey's answer.
  const checkCard = (text, submit, danger, act) => h('div', { class: 'card' }, h('p', {}, text),
    hasPasskey ? h('p', {}, button('Use your passkey', async () => act({ passkey: (await passkeyAnswer('check')).credential }), 'secondary')) : null,
    form({ fields: [factorField('Code from your authenticator app, or a recovery code')], submit, danger,
      onSubmit: async (c) => act(factorAnswer(c.factor)) }));
  const passkeyForm = () => form({
    fields: [
      { name: 'name', label: 'Name (which device or key)', value: 'Passkey', required: false },
      { name: 'password', label: 'Your password, to add a passkey', type: 'password', autocomplete: 'current-password' },
    ],
    submit: 'Add a passkey',
    onSubmit: async (d) => {
      const e = await api({ op: 'enrol_passkey', password: d.password, name: d.name || null }, 'Checking your password…');
      const made = await createPasskey(e);
      const done = await api({ op: 'confirm_passkey', id: e.id, credential: made.credential, prf: made.prf },
        made.prf ? 'Wrapping your keys for the passkey…' : 'Saving the passkey…');
      const fresh = await api({ op: 'second_factors' }, 'Loading…');
      show(...secondFactorsSection(fresh).childNodes);
      if (done.recovery_codes.length) box.append(recoveryCodesCard(done.recovery_codes));
      flash(done.factor.unlock
        ? 'Passkey added. Sign-ins ask for it, and it can unlock your keys alone: “Sign in with a passkey”.'
        : 'Passkey added as a second factor. It cannot unlock your keys alone (this browser or key has no PRF).', 'info');
    },
  });
  const show = (...children) => box.replaceChildren(...children);
  const enrolForm = () => form({
    fields: [
      { name: 'name', label: 'Name (which phone or app)', value: 'Phone', required: false },
      { name: 'password', label: 'Your password, to confirm it is you', type: 'password', autocomplete: 'current-password' },
    ],
    submit: 'Set up',
    onSubmit: async (d) => {
      const e = await api({ op: 'enrol_totp', password: d.password, name: d.name || null }, 'Checking your password…');
      show(h('div', { class: 'card', id: 'totp-enrol' },
        h('p', {}, 'Scan this with your authenticator app (or type the setup key), then enter the code it shows.'),
        qrImage(e.qr),
        h('p', {}, 'Setup key: ', h('span', { class: 'code', id: 'totp-secret' }, e.secret)),
        form({
          fields: [factorField()],
          submit: 'Confirm',
          onSubmit: async (c) => {
            const done = await api({ op: 'confirm_totp', id: e.id, code: (c.factor || '').replace(/ /g, '') }, 'Checking the code…');
            const fresh = await api({ op: 'second_factors' }, 'Loading…');
            show(...secondFactorsSection(fresh).childNodes);
            if (done.recovery_codes.length) box.append(recoveryCodesCard(done.recovery_codes));
            flash('Authenticator app added. Sign-ins now ask for its code.', 'info');
          },
        })));
    },
  });
  if (!list.factors.length) {
    box.append(h('p', {}, 'No second factor: your password alone signs you in. An authenticator app (any TOTP app) adds a code that changes every 30 seconds; a passkey (this device, a phone or a security key) is touched instead, and can unlock your keys without the password.'),
      h('div', { class: 'card' }, enrolForm()),
      ...(passkeysHere() ? [h('div', { class: 'card', id: 'add-passkey' }, passkeyForm())] : []));
    return box;
  }
  box.append(h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Second factors' }, h('table', { id: 'factors', class: 'stack' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col' }, 'Added'), h('th', { scope: 'col' }, 'Last used'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Action')))),
    h('tbody', {}, list.factors.map((f) => h('tr', { 'data-factor': f.id },
      h('td', { 'data-label': 'Name' }, f.name), h('td', { 'data-label': 'Kind' }, kind(f)),
      h('td', { 'data-label': 'Added' }, when(f.created_at)), h('td', { 'data-label': 'Last used' }, when(f.last_used_at)),
      h('td', { 'data-label': '' }, button('Remove', async () => {
        show(checkCard(`Removing “${f.name}” needs a fresh check (any of your factors, or a recovery code).`, 'Remove', true,
          async (answer) => {
            await api({ op: 'remove_factor', id: f.id, ...answer }, 'Removing…');
            await render();
            flash(`Removed “${f.name}”. An e-mail tells you so.`, 'info');
          }));
      }, 'secondary'))))))));
  box.append(h('p', { id: 'codes-left' }, `${list.recovery_codes_left} recovery codes left. `,
    button('Make new recovery codes', async () => {
      show(checkCard('New codes replace the old ones. Confirm it is you first.', 'Make new codes', false, async (answer) => {
        const r = await api({ op: 'new_recovery_codes', ...answer }, 'Making codes…');
        show(recoveryCodesCard(r.recovery_codes));
      }));
    }, 'secondary')),
  h('details', {}, h('summary', {}, 'Add another authenticator app'), enrolForm()),
  ...(passkeysHere() ? [h('details', { id: 'add-passkey' }, h('summary', {}, 'Add a passkey'), passkeyForm())] : []));
  return box;
}

async function settingsView() {
  me = await api({ op: 'me' }, 'Loading…');
  const sessions = await api({ op: 'sessions' }, 'Loading sessions…');
  const requests = await api({ op: 'guardian_requests' }, 'Loading…');
  const factors = await api({ op: 'second_factors' }, 'Loading second factors…');
  page('Settings',
    h('dl', { class: 'kv card' }, h('dt', {}, 'Email'), h('dd', {}, me.email), h('dt', {}, 'Key generation'), h('dd', {}, String(me.generation)),
      h('dt', {}, 'Verification code'), h('dd', {}, h('span', { class: 'code', id: 'my-code' }, me.code))),
    h('h2', {}, 'Recovery kit'),
    h('p', {}, me.kit.exists ? `Kit active: ${me.kit.threshold} of ${me.kit.share_count} shares, made ${when(me.kit.created_at)}${me.kit.guardians.length ? `, ${me.kit.guardians.length} guardians` : ''}. ` : 'No recovery kit. ',
      h('a', { href: '/kit' }, me.kit.exists ? 'Make a new kit' : 'Make a kit')),
    h('h2', {}, 'Change password'),
    h('div', { class: 'card' }, form({
      fields: [
        { name: 'current', label: 'Current password', type: 'password', autocomplete: 'current-password' },
        ...newPasswordFields('New password'),
        { name: 'end', label: 'Sign out my other sessions', type: 'checkbox', value: true },
      ],
      submit: 'Change password',
      onSubmit: async (d, el) => {
        samePasswords(d);
        await api({ op: 'change_password', current: d.current, new: d.password, end_other_sessions: d.end }, 'Re-wrapping your keys…');
        el.reset();
        await render();
        flash('Password changed. Your keys stay the same.', 'info');
      },
    })),
    h('h2', {}, 'Second factors'),
    secondFactorsSection(factors),
    h('h2', {}, 'Sessions'),
    h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Sessions' }, h('table', { id: 'sessions', class: 'stack' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Device'), h('th', { scope: 'col' }, 'Started'), h('th', { scope: 'col' }, 'Last used'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Action')))),
      h('tbody', {}, sessions.map((s) => h('tr', { 'data-session': s.id },
        h('td', { class: 'device', 'data-label': 'Device' }, s.device), h('td', { 'data-label': 'Started' }, when(s.created_at)),
        h('td', { 'data-label': 'Last used' }, when(s.last_used_at)),
        h('td', { 'data-label': '' }, s.current ? 'this tab' : button('Sign out', async () => {
          await api({ op: 'revoke_session', id: s.id }, 'Signing that session out…');
          await render();
          flash(`Signed out ${s.device}.`, 'info');
        }, 'secondary'))))))),
    sessions.some((s) => !s.current) ? button('Sign out all other sessions', async () => {
      for (const s of sessions.filter((x) => !x.current)) await api({ op: 'revoke_session', id: s.id }, 'Signing other sessions out…');
      await render();
      flash('Every other session is signed out.', 'info');
    }, 'secondary') : null,
    h('h2', {}, 'Guardian requests'),
    guardianRequests(requests));
}

function guardianRequests(requests) {
  if (!requests.length) return h('p', { class: 'muted' }, 'No one needs your help.');
  return h('div', {}, requests.map((r) => h('section', { class: 'card', 'data-email': r.owner_email },
    h('p', {}, `${r.owner_email} is recovering their keys and asks for your share. Call them and ask them to read the code on their recovering screen. Release only if it matches.`),
    r.owner_code
      ? h('p', {}, 'If they have no recovery code, read them their verification code from your team log: ', h('span', { class: 'code owner-code' }, r.owner_code))
      : h('p', { class: 'flash' }, 'Their keys on the server are not the ones any of your verified team logs shows: do not release.'),
    form({
      cls: 'row',
      fields: [{ name: 'code', label: 'Code on their screen', inputmode: 'numeric' }],
      submit: 'Release my share',
      onSubmit: async (d) => {
        await api({ op: 'guardian_release', session_id: r.session_id, code: d.code }, 'Releasing…');
        flash(`Share released to ${r.owner_email}'s device.`, 'info');
        render();
      },
    }))));
}

async function guardianView() {
  const requests = await api({ op: 'guardian_requests' }, 'Loading…');
  page('Help a colleague recover', guardianRequests(requests));
}

// ---------- pages that email links open ----------

function inviteView() {
  if (!link || link.path !== '/invite') {
    page('Invitation', h('p', {}, 'Open the link from your invitation email. It works once.'));
    return;
  }
  if (!me) {
    afterSignIn = '/invite';
    page('Invitation', h('p', {}, 'You were invited to a team on Vouchsafe. Sign in, or create a login, to accept.'),
      h('div', { class: 'actions' }, h('a', { href: '/signin' }, 'Sign in'), h('a', { href: '/signup' }, 'Create a login')));
    return;
  }
  page('Invitation', h('p', {}, `Accept the invitation as ${me.email}?`), button('Accept invitation', async () => {
    const r = await api({ op: 'accept_invite', token: link.token }, 'Accepting…');
    link = null;
    page('Invitation accepted',
      h('p', {}, 'An admin will now compare your verification code with you, by phone or in person. Read them this code:'),
      h('p', {}, h('span', { class: 'code', id: 'my-code' }, r.code)),
      h('p', {}, 'Once confirmed, the team opens here: ', h('a', { href: `/teams/${r.account_id}` }, 'go to the team')));
  }));
}

// A reset or a kit recovery of someone with a second factor asks for it (or for the word that
// it is lost); the form shows these fields once the server said so.
let askFactor = false;
function factorFields() {
  return [
    factorField('Code from your authenticator app, or a recovery code (leave empty if you lost both)'),
    { name: 'lost', label: 'I lost my authenticator app and my recovery codes: remove them (set one up again afterwards)', type: 'checkbox' },
  ];
}
function factorOf(d) {
  if (!askFactor) return {};
  return d.lost ? { lost: true } : factorAnswer(d.factor);
}
async function withFactor(action, again) {
  try {
    const r = await action();
    askFactor = false;
    return r;
  } catch (e) {
    if (e && e.code === 'auth.second_factor_required' && !askFactor) {
      askFactor = true;
      again();
      flash('You set up a second factor: enter its code, or say you lost it.', 'error', e.code);
      throw Object.assign(new Error('shown'), { shown: true });
    }
    throw e;
  }
}

function resetView() {
  if (link && link.path === '/reset') {
    page('Choose a new password',
      h('p', {}, 'Resetting makes new keys: colleagues must vouch for them before you can read your teams again. If you still have your recovery kit, ',
        h('a', { href: '/recover' }, 'recover with it instead'), ' — it keeps your keys.'),
      h('div', { class: 'card' }, form({
        fields: [
          ...newPasswordFields('New password'),
          ...(askFactor ? factorFields() : []),
        ],
        submit: 'Reset password',
        onSubmit: async (d) => {
          samePasswords(d);
          const r = await withFactor(() => api({ op: 'reset_complete', token: link.token, password: d.password, factor: factorOf(d) }, 'Making your new keys…'), resetView);
          link = null;
          if (me) {
            me = null;
            stopWorker();
          }
          renderNav();
          page('Password reset',
            h('p', {}, 'Your new verification code is below. Ask a colleague to vouch for you in the dashboard and read them this code:'),
            h('p', {}, h('span', { class: 'code', id: 'my-code' }, r.code)),
            Object.keys(r.history_codes || {}).length
              ? h('div', {}, h('p', {}, 'Read them the team history code of their team too; their screen must show the same:'),
                h('ul', { id: 'history-codes' }, Object.entries(r.history_codes).map(([acct, code]) => h('li', {}, `team ${acct}: `, h('span', { class: 'code' }, code)))))
              : null,
            h('p', {}, h('a', { href: '/signin' }, 'Sign in with your new password')));
        },
      })));
    return;
  }
  page('Forgot your password?',
    h('p', {}, 'We email you a link that works once and expires soon.'),
    emailLinkForm('Send reset link', 'reset_request', 'If a login exists for that address, a reset link is on its way.'));
}

function resetCancelView() {
  if (!link || link.path !== '/reset/cancel') {
    page('Cancel a reset', h('p', {}, 'Open the “this was not me” link from the reset email.'));
    return;
  }
  page('Was this not you?', h('p', {}, 'Someone asked to reset your password. Cancel it if it was not you; your colleagues will not be able to restore access to the new keys.'),
    button('This was not me — cancel the reset', async () => {
      await api({ op: 'reset_cancel', token: link.token }, 'Cancelling…');
      link = null;
      page('Reset cancelled', h('p', {}, 'The reset is cancelled. Consider changing your password.'));
    }, 'danger'));
}

async function recoverView() {
  if (link && link.path === '/recover') {
    const token = link.token;
    link = null;
    const st = await api({ op: 'recovery_start', token }, 'Opening the recovery…');
    recoveryPage(st);
    return;
  }
  page('Recover with your kit',
    h('p', {}, 'Your recovery kit restores your own keys: nothing is resealed and nobody has to vouch. We email you a link; open it on this device.'),
    emailLinkForm('Send recovery link', 'recovery_request', 'If that address has a recovery kit, a link is on its way.'));
}

function recoveryPage(st) {
  page('Recover your keys',
    h('dl', { class: 'kv card' },
      h('dt', {}, 'Shares needed'), h('dd', {}, String(st.threshold)),
      h('dt', {}, 'Shares released so far'), h('dd', { id: 'released' }, String(st.released)),
      h('dt', {}, 'Code for guardians'), h('dd', {}, h('span', { class: 'code', id: 'device-code' }, st.device_code))),
    st.guardians.length ? h('p', {}, 'Guardians can release their share after you read them the code above. ',
      button('Check for released shares', async () => recoveryPage(await api({ op: 'recovery_status' }, 'Checking…')), 'secondary')) : null,
    h('div', { class: 'card' }, form({
      fields: [
        { name: 'code', label: 'Recovery code (from your kit; leave empty if guardians released enough shares)', required: false, autocomplete: 'off' },
        { name: 'expected', label: 'Without the recovery code: your verification code, as a guardian reads it from their team log', required: false, inputmode: 'numeric', autocomplete: 'off' },
        ...newPasswordFields('New password'),
        ...(askFactor ? factorFields() : []),
      ],
      submit: 'Recover my keys',
      onSubmit: async (d) => {
        samePasswords(d);
        await withFactor(() => api({ op: 'recovery_finish', code: d.code ? d.code : null, expected_code: d.expected ? d.expected : null, password: d.password, factor: factorOf(d) }, 'Restoring your keys…'), () => recoveryPage(st));
        page('Keys recovered',
          h('p', {}, 'Your keys are back and your new password is set. Your kit is used up: make a new one after signing in.'),
          h('p', {}, h('a', { href: '/signin' }, 'Sign in')));
      },
    })));
}

// ---------- start ----------

document.addEventListener('click', (event) => {
  const a = event.target.closest && event.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download') || event.ctrlKey || event.metaKey || event.shiftKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  event.preventDefault();
  clearFlash();
  navigate(url.pathname);
});
window.addEventListener('popstate', () => render());
// An email link opened in a tab already on that page only changes the fragment.
window.addEventListener('hashchange', () => {
  captureLinkToken();
  render();
});

captureLinkToken();
startWorker();
render();
