// The dashboard's engine runs here, off the page's thread: Argon2, HPKE, the verified team log and
// field encryption (web/src, compiled to WebAssembly). Keys never leave this worker's memory; the
// page terminates the worker on sign-out.
import init, { call, trust_state } from './pkg/vouchsafe_web.js';

const ready = init({ module_or_path: new URL('./pkg/vouchsafe_web_bg.wasm', import.meta.url) })
  .then(() => call(JSON.stringify({ op: 'init', base: self.location.origin }), () => {}));

self.onmessage = async (event) => {
  const { id, request } = event.data;
  try {
    await ready;
    const out = call(JSON.stringify(request), (done, total) => self.postMessage({ id, progress: { done, total } }));
    // Verified log heads (not secret) go to the page, which keeps them in browser storage.
    self.postMessage({ id, ok: JSON.parse(out), trust: JSON.parse(trust_state()) });
  } catch (e) {
    let error;
    try { error = JSON.parse(String(e)); } catch { error = { code: 'client.internal', message: String(e), status: 0 }; }
    // A refusal can be news to keep (a fork, a team whose codes did not match).
    let trust = null;
    try { trust = JSON.parse(trust_state()); } catch { trust = null; }
    self.postMessage({ id, error, trust });
  }
};
