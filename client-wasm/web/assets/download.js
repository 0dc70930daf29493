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
    const reader = response.body.getReader();
    let received = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
      await sink.write(decryptor.update(value));
      progress(received);
    }
    await sink.write(decryptor.finish());
    await sink.close();
  } catch (e) {
    await sink.abort(e && e.message ? e.message : String(e));
    throw e;
  }
}
