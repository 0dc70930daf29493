// In-browser decryption benchmark: lexvault's wasm decryptor beside npm's
// libsodium-wrappers (crypto_secretstream_xchacha20poly1305), in the same
// page of headless Chromium, on documents of the same size.
//
// The lexvault side is the real share-link path: the link is opened and
// verified through the page's own modules, the whole payload is fetched
// into memory first (the network is not measured), then timed through the
// page's own decryptVerified (download.js, what a save runs) in 1 MiB
// pieces: the page's decryption workers (started before the clock, as the
// pages start them before a save) each open whole 1 MiB plaintext segments
// — ChaCha20-Poly1305 per 64 KiB chunk in wasm, SHA-256 of the segment's
// plaintext with crypto.subtle — while the page hashes the payload's
// segments, releases the plaintext in order and checks both segmented
// digests in wasm against the manifest and the uploader's digest. The
// clock stops when that check has passed. The same checks on the page's
// own thread (decryptOnThisThread), and the wasm decryption alone, without
// the digests, are timed in each round too. The
// libsodium side encrypts the plaintext the
// lexvault side produced (64 KiB messages, untimed) and times pulling it
// back. Runs alternate, A B C D A B C D, and the report gives every run.
//
// With "mode": "stream" it instead saves the document the way a recipient
// does (the link page's click-through and Save, streamed through the
// Service Worker) and samples the resident memory of every Chromium
// process every 100 ms: a flat line is the point.
//
// Usage: node bench.mjs '{"url": "<link URL>", "runs": 5}'  (prints JSON)

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { close, launch, browserRss, DESKTOP } from './chromium.mjs';

const { url, runs = 5, mode = 'decrypt' } = JSON.parse(process.argv[2]);
if (mode === 'stream') {
  await streamed(url);
  process.exit(0);
}
const require = createRequire(import.meta.url);
const wrappers = join(dirname(require.resolve('libsodium-wrappers')), '../modules-esm/libsodium-wrappers.mjs');
const sodiumCore = join(dirname(require.resolve('libsodium')), '../modules-esm/libsodium.mjs');

const context = await launch(DESKTOP);
const page = await context.newPage();
const console_ = [];
page.on('console', (m) => console_.push(m.text()));
// libsodium served from the page's own origin (the page's CSP allows only
// 'self'); its one bare import is pointed at the served core.
await page.route('**/bench/libsodium-wrappers.mjs', (route) =>
  route.fulfill({
    contentType: 'text/javascript',
    body: readFileSync(wrappers, 'utf8').replace('from"libsodium"', 'from"/bench/libsodium.mjs"'),
  }),
);
await page.route('**/bench/libsodium.mjs', (route) =>
  route.fulfill({ contentType: 'text/javascript', body: readFileSync(sodiumCore, 'utf8') }),
);
await page.goto(url);
await page.waitForSelector('#start:not([hidden])');

const { id, fragment } = (() => {
  const u = new URL(url);
  return { id: u.pathname.split('/').pop(), fragment: u.hash.slice(1) };
})();

const report = await page.evaluate(
  async ({ id, fragment, runs }) => {
    const wasm = await import('/assets/pkg/lexvault_client_wasm.js');
    await wasm.default();
    const api = await import('/assets/api.js');
    const { decryptOnThisThread, decryptVerified, prepareWorkers } = await import('/assets/download.js');
    // The pages start the workers before the user saves; so does this.
    const workers = await prepareWorkers();
    if (!workers) throw new Error('the decryption workers did not start');
    const keyring = new wasm.LinkKeyring(fragment, undefined);
    const signer = keyring.signer();
    const answer = await api.signedCall(signer, 'POST', `/v1/links/${id}/open`, wasm.openLinkBody(undefined));
    const doc = keyring.open(answer);
    const response = await api.signedFetch(signer, 'GET', `/v1/links/${id}/payload?ticket=${doc.ticket}`);
    const payload = new Uint8Array(await response.arrayBuffer());
    const PIECE = 1 << 20;
    const pieces = [];
    for (let i = 0; i < payload.length; i += PIECE) pieces.push(payload.subarray(i, Math.min(i + PIECE, payload.length)));

    let plaintext = null;
    const lexvault = async () => {
      const out = [];
      const start = performance.now();
      await decryptVerified(pieces, doc, (part) => {
        out.push(part);
      });
      const ms = performance.now() - start;
      if (!plaintext) plaintext = out;
      return ms;
    };

    // The same checks on the page's own thread: the path for a payload of
    // one segment, or where workers cannot run.
    const oneThread = async () => {
      const decryptor = doc.decryptor();
      const start = performance.now();
      await decryptOnThisThread(pieces, decryptor, () => {});
      const ms = performance.now() - start;
      decryptor.free();
      return ms;
    };

    // The wasm decryption alone, without either digest: the same work as
    // libsodium's pull (authenticated decryption of a chunked stream, in
    // order, refusing a truncated one), on the page's thread.
    const decryptOnly = () => {
      const decryptor = doc.decryptor();
      const start = performance.now();
      for (const piece of pieces) decryptor.update(piece);
      decryptor.end();
      const ms = performance.now() - start;
      decryptor.free();
      return ms;
    };

    const sodium = (await import('/bench/libsodium-wrappers.mjs')).default;
    await sodium.ready;
    const MESSAGE = 64 * 1024;
    let sealed = null;
    const prepareSodium = () => {
      const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
      const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
      const messages = [];
      const all = new Uint8Array(doc.size);
      let at = 0;
      for (const part of plaintext) {
        all.set(part, at);
        at += part.length;
      }
      for (let i = 0; i < all.length; i += MESSAGE) {
        const last = i + MESSAGE >= all.length;
        const tag = last
          ? sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
          : sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
        messages.push(sodium.crypto_secretstream_xchacha20poly1305_push(state, all.subarray(i, Math.min(i + MESSAGE, all.length)), null, tag));
      }
      sealed = { key, header, messages };
    };
    const libsodium = () => {
      const { key, header, messages } = sealed;
      const start = performance.now();
      const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, key);
      let bytes = 0;
      let final = false;
      for (const message of messages) {
        const r = sodium.crypto_secretstream_xchacha20poly1305_pull(state, message, null);
        if (!r) throw new Error('libsodium refused its own stream');
        bytes += r.message.length;
        final = r.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
      }
      const ms = performance.now() - start;
      if (!final || bytes !== doc.size) throw new Error('libsodium stream incomplete');
      return ms;
    };

    const result = {
      size: doc.size, payloadSize: payload.length, workers: workers.workers.length,
      lexvault: [], libsodium: [], oneThread: [], decryptOnly: [],
    };
    await lexvault(); // warm-up, and the plaintext for libsodium
    prepareSodium();
    libsodium(); // warm-up
    await oneThread(); // warm-up
    for (let run = 0; run < runs; run += 1) {
      result.lexvault.push(await lexvault());
      result.libsodium.push(libsodium());
      result.oneThread.push(await oneThread());
      result.decryptOnly.push(decryptOnly());
    }
    return result;
  },
  { id, fragment, runs },
);
report.console = console_;
report.chromium = context.browser() ? context.browser().version() : null;
await close(context);
process.stdout.write(JSON.stringify(report));

async function streamed(linkUrl) {
  const context = await launch(DESKTOP);
  const page = await context.newPage();
  await page.goto(linkUrl);
  await page.click('#continue');
  await page.waitForSelector('#ready:not([hidden])', { timeout: 120_000 });
  const baseline = browserRss(context);
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, browserRss(context));
  }, 100);
  const start = performance.now();
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
  const failure = await download.failure();
  await page.waitForSelector('#done:not([hidden]), #problem:not([hidden])', { timeout: 600_000 });
  const seconds = (performance.now() - start) / 1000;
  clearInterval(sampler);
  const done = await page.locator('#done').isVisible();
  const size = await page.evaluate(() => document.getElementById('file-size').textContent);
  await close(context);
  process.stdout.write(JSON.stringify({ baseline, peak, seconds, done, failure, size }));
}
