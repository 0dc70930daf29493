// Saving a decrypted document, for the link page and the portal. With a
// Service Worker (/l/sw.js) the plaintext streams to the browser's download
// as it is decrypted, holding a few chunks in memory; without one (some
// private windows) it is gathered into a Blob, which holds the whole
// document.

import { failure } from './api.js';

const WORKER = '/l/sw.js';

/**
 * Starts the worker early, so it is ready when the document is saved. The
 * portal at / is outside the worker's scope, so this waits for the
 * registration's own worker rather than `navigator.serviceWorker.ready`
 * (which waits for a worker controlling this page): the download frame's
 * navigation to /l/download/… is in scope, whichever page starts it.
 */
export function prepareStreaming() {
  if (!('serviceWorker' in navigator)) return Promise.resolve(null);
  return navigator.serviceWorker
    .register(WORKER, { scope: '/l/' })
    .then(activated)
    .catch(() => null);
}

function activated(registration) {
  if (registration.active) return registration;
  const worker = registration.installing || registration.waiting;
  if (!worker) return registration;
  return new Promise((resolve) => {
    worker.addEventListener('statechange', () => {
      if (registration.active || worker.state === 'redundant') resolve(registration);
    });
  });
}

function randomToken() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * A sink for one document: write(chunk) resolves when there is room for
 * more; close() completes the file; abort(reason) makes the browser drop it.
 */
export async function openSink({ name, mimeType, size }) {
  const registration = await prepareStreaming();
  if (registration && registration.active) {
    return streamingSink(registration.active, { name, mimeType, size });
  }
  return blobSink({ name, mimeType });
}

function streamingSink(worker, { name, mimeType, size }) {
  const token = randomToken();
  const channel = new MessageChannel();
  const port = channel.port1;
  const acks = new Map();
  let seq = 0;
  let cancelled = false;
  let resolveStarted;
  let resolveRegistered;
  const started = new Promise((resolve) => { resolveStarted = resolve; });
  const registered = new Promise((resolve) => { resolveRegistered = resolve; });
  port.onmessage = ({ data }) => {
    if (data.registered) resolveRegistered();
    if (data.started) resolveStarted();
    if (data.ack !== undefined) {
      const resolve = acks.get(data.ack);
      acks.delete(data.ack);
      if (resolve) resolve();
    }
    if (data.cancelled) {
      cancelled = true;
      for (const resolve of acks.values()) resolve();
      acks.clear();
    }
  };
  worker.postMessage({ type: 'download', token, name, mimeType, size }, [channel.port2]);
  let frame;
  const begin = registered.then(() => {
    // The navigation the worker answers with the stream.
    frame = document.createElement('iframe');
    frame.hidden = true;
    frame.src = `/l/download/${token}`;
    document.body.appendChild(frame);
    return started;
  });
  return {
    streaming: true,
    async write(chunk) {
      await begin;
      if (cancelled) throw new Error('The download was cancelled.');
      if (chunk.byteLength === 0) return;
      seq += 1;
      const done = new Promise((resolve) => acks.set(seq, resolve));
      const buffer = chunk.buffer.byteLength === chunk.byteLength ? chunk.buffer : chunk.slice().buffer;
      port.postMessage({ chunk: buffer, seq }, [buffer]);
      await done;
    },
    async close() {
      await begin;
      port.postMessage({ done: true });
      setTimeout(() => frame && frame.remove(), 60_000);
    },
    async abort(reason) {
      port.postMessage({ error: String(reason) });
      setTimeout(() => frame && frame.remove(), 1_000);
    },
  };
}

function blobSink({ name, mimeType }) {
  const parts = [];
  return {
    streaming: false,
    async write(chunk) {
      parts.push(chunk);
    },
    async close() {
      const blob = new Blob(parts, { type: mimeType || 'application/octet-stream' });
      parts.length = 0;
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = name || 'document';
      a.hidden = true;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    },
    async abort() {
      parts.length = 0;
    },
  };
}

// The payload and plaintext digests are segmented (spec/documents.md
// §Segmented digest): SHA-256 of each 1 MiB segment, cut from offset 0 of
// the stream, with a root over the segment digests that the wasm checks.
// The browser's native SHA-256 hashes a whole buffer, not a stream, and is
// several times faster than SHA-256 in wasm, so the page hashes each
// segment natively as it fills.
const SEGMENT = 1 << 20;
// Segment digests in flight per stream: enough to keep the native hashing
// busy while wasm decrypts, few enough that memory stays bounded.
const IN_FLIGHT = 8;

/** The segment digests of one byte stream, fed in pieces of any size. */
class SegmentDigests {
  constructor() {
    this.segment = new Uint8Array(SEGMENT);
    this.fill = 0;
    this.digests = [];
    this.inFlight = [];
  }

  /** Feeds bytes; copies them before it resolves, so the caller may then hand them on. */
  async push(bytes) {
    let at = 0;
    while (at < bytes.length) {
      if (this.fill === 0 && bytes.length - at >= SEGMENT) {
        // A whole segment in place: no copy.
        await this.digest(bytes.subarray(at, at + SEGMENT));
        at += SEGMENT;
        continue;
      }
      const take = Math.min(SEGMENT - this.fill, bytes.length - at);
      this.segment.set(bytes.subarray(at, at + take), this.fill);
      this.fill += take;
      at += take;
      if (this.fill === SEGMENT) await this.flush();
    }
  }

  async flush() {
    const length = this.fill;
    this.fill = 0;
    await this.digest(this.segment.subarray(0, length));
  }

  async digest(bytes) {
    const index = this.digests.length;
    this.digests.push(null);
    // digest() copies its input before it returns (WebCrypto: "get a copy
    // of the bytes held by the data parameter"), so the segment buffer is
    // free to refill at once.
    const done = crypto.subtle.digest('SHA-256', bytes).then((d) => {
      this.digests[index] = new Uint8Array(d);
    });
    this.inFlight.push(done);
    if (this.inFlight.length >= IN_FLIGHT) await this.inFlight.shift();
  }

  /** The stream has ended: the digests of its segments, concatenated in order. */
  async finish() {
    if (this.fill > 0) await this.flush();
    await Promise.all(this.inFlight);
    this.inFlight = [];
    const all = new Uint8Array(32 * this.digests.length);
    this.digests.forEach((d, i) => all.set(d, 32 * i));
    return all;
  }
}

/**
 * Streams payload `pieces` (an async or plain iterable of Uint8Array)
 * through `decryptor` (a wasm DocumentDecryptor), hashing the payload and
 * the plaintext in segments beside it, and passes each plaintext piece to
 * `write` (awaited) as it authenticates, then makes the final checks. The
 * plaintext is final only if this resolves; when it throws, whatever was
 * written must be discarded.
 */
export async function decryptVerified(pieces, decryptor, write, progress = () => {}) {
  const payload = new SegmentDigests();
  const plaintext = new SegmentDigests();
  let received = 0;
  for await (const piece of pieces) {
    received += piece.byteLength;
    const out = decryptor.update(piece);
    await payload.push(piece);
    // Hashed before it is written: a streaming sink transfers the buffer.
    await plaintext.push(out);
    await write(out);
    progress(received);
  }
  const last = decryptor.end();
  await plaintext.push(last);
  await write(last);
  decryptor.finish(await payload.finish(), await plaintext.finish());
}

async function* bodyPieces(response) {
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

/**
 * Fetches a payload with `fetchPayload()` (a Response promise), streams it
 * through `decryptor` (a wasm DocumentDecryptor) into `sink`, reporting
 * progress(received) as bytes arrive, then makes the final checks and
 * completes the file. On any failure (a refusal, the network, a check) the
 * sink is aborted, so the browser keeps nothing, and the error is thrown
 * on.
 */
export async function saveVerified(fetchPayload, decryptor, sink, progress) {
  try {
    const response = await fetchPayload();
    if (!response.ok) throw await failure(response);
    await decryptVerified(bodyPieces(response), decryptor, (out) => sink.write(out), progress);
    await sink.close();
  } catch (e) {
    await sink.abort(e && e.message ? e.message : String(e));
    throw e;
  }
}
