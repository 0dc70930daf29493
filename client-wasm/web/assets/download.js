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

/** SHA-256 on this thread. */
const hashHere = (bytes) => crypto.subtle.digest('SHA-256', bytes);

/**
 * The segment digests of one byte stream, fed in pieces of any size.
 * `hash(bytes)` resolves to a segment's SHA-256 (an ArrayBuffer); it must
 * copy `bytes` before it returns.
 */
class SegmentDigests {
  constructor(hash = hashHere) {
    this.hash = hash;
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
    // The hash copies its input before it returns (WebCrypto: "get a copy
    // of the bytes held by the data parameter"), so the segment buffer is
    // free to refill at once.
    const done = this.hash(bytes).then((d) => {
      this.digests[index] = new Uint8Array(d);
    });
    // Awaited below or in finish(); a download that fails first leaves it.
    done.catch(() => {});
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
 * through `decryptor` (a wasm DocumentDecryptor) on this thread, hashing
 * the payload and the plaintext in segments beside it, and passes each
 * plaintext piece to `write` (awaited) as it authenticates, then makes the
 * final checks. The plaintext is final only if this resolves; when it
 * throws, whatever was written must be discarded.
 */
export async function decryptOnThisThread(pieces, decryptor, write, progress = () => {}) {
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

// ---------------------------------------------------------------------------
// Decrypting on Web Workers (spec/documents.md §Opening in parallel)

/** Workers in the pool: the cores, up to four. */
const WORKERS = Math.max(1, Math.min(navigator.hardwareConcurrency || 2, 4));
/** Segments sent out and not yet written, per worker: enough to keep each busy. */
const QUEUED_PER_WORKER = 4;

let pool = null; // Promise<SegmentWorkers | null>, started once per page

/**
 * Starts the decryption workers early, so they are ready when a document
 * is saved; resolves to the pool, or to null where workers cannot run the
 * module (the page then decrypts on its own thread).
 */
export function prepareWorkers() {
  if (!pool) pool = SegmentWorkers.start(WORKERS);
  return pool;
}

/** A few workers that open segments, for any number of downloads. */
class SegmentWorkers {
  static start(count) {
    if (typeof Worker === 'undefined') return Promise.resolve(null);
    let workers;
    try {
      workers = Array.from({ length: count }, () => new Worker('/assets/segment-worker.js', { type: 'module' }));
    } catch {
      return Promise.resolve(null);
    }
    const started = workers.map((worker) => new Promise((resolve) => {
      worker.addEventListener('message', ({ data }) => resolve(Boolean(data.ready)), { once: true });
      worker.addEventListener('error', () => resolve(false), { once: true });
    }));
    return Promise.all(started).then((ok) => {
      if (ok.every(Boolean)) return new SegmentWorkers(workers);
      workers.forEach((worker) => worker.terminate());
      return null;
    });
  }

  constructor(workers) {
    this.workers = workers;
    this.waiting = new Map(); // `${job}/${index}` or `hash/${n}` -> { resolve, reject }
    this.jobs = 0;
    this.hashes = 0;
    for (const worker of workers) {
      worker.addEventListener('message', ({ data }) => this.answer(data));
      worker.addEventListener('error', (event) => this.broken(event.message || 'a decryption worker failed'));
    }
  }

  answer({ job, index, plaintext, digest, hashed, error }) {
    const key = hashed !== undefined ? `hash/${hashed}` : `${job}/${index}`;
    const waiter = this.waiting.get(key);
    if (!waiter) return;
    this.waiting.delete(key);
    if (error !== undefined) waiter.reject(new Error(error));
    else if (hashed !== undefined) waiter.resolve(digest);
    else waiter.resolve({ plaintext, digest: new Uint8Array(digest) });
  }

  /**
   * SHA-256 of `bytes` on a worker (copied here, so the caller may reuse
   * them at once); resolves to the digest (an ArrayBuffer).
   */
  hash(bytes) {
    this.hashes += 1;
    const n = this.hashes;
    const copy = bytes.slice().buffer;
    const answer = new Promise((resolve, reject) => this.waiting.set(`hash/${n}`, { resolve, reject }));
    this.workers[n % this.workers.length].postMessage({ hash: n, bytes: copy }, [copy]);
    return answer;
  }

  /** A worker failed outside any task: fail what waits, and start afresh next time. */
  broken(message) {
    for (const waiter of this.waiting.values()) waiter.reject(new Error(message));
    this.waiting.clear();
    this.workers.forEach((worker) => worker.terminate());
    pool = null;
  }

  /** Starts a download: every worker gets its own copy of `key`, then `key` is overwritten. */
  begin(key) {
    this.jobs += 1;
    const job = this.jobs;
    for (const worker of this.workers) worker.postMessage({ job, key: key.slice() });
    key.fill(0);
    return job;
  }

  /** Opens segment `index` from its payload bytes (an ArrayBuffer, transferred). */
  open(job, index, chunks) {
    const worker = this.workers[index % this.workers.length];
    const answer = new Promise((resolve, reject) => this.waiting.set(`${job}/${index}`, { resolve, reject }));
    worker.postMessage({ job, index, chunks }, [chunks]);
    // Awaited in order later; a failure before then is not "unhandled".
    answer.catch(() => {});
    return answer;
  }

  /** The download is over, however it ended: the workers drop its key. */
  end(job) {
    for (const worker of this.workers) worker.postMessage({ job, end: true });
    for (const key of [...this.waiting.keys()]) {
      if (key.startsWith(`${job}/`)) this.waiting.delete(key);
    }
  }
}

/**
 * Streams payload `pieces` through the workers: cuts them into each
 * segment's run of chunks as the `plan` (a wasm SegmentedDecryption) says,
 * has the payload's segments hashed, and passes each segment's plaintext
 * to `write` (awaited) in order, then makes the final check. The same
 * contract as decryptOnThisThread.
 */
export async function decryptInWorkers(pieces, plan, workers, write, progress = () => {}) {
  // The payload's segments are hashed on the workers too, so this thread
  // only cuts, copies and hands out.
  const payload = new SegmentDigests((bytes) => workers.hash(bytes));
  const plaintextDigests = [];
  const total = plan.payloadSize;
  const inOrder = []; // answers of the segments sent out, oldest first
  const nonce = new Uint8Array(16);
  let nonceFill = 0;
  let job = null;
  let index = 0;
  let segment = null;
  let fill = 0;
  let received = 0;
  const writeOldest = async () => {
    const { plaintext, digest } = await inOrder.shift();
    plaintextDigests.push(digest);
    await write(plaintext);
  };
  try {
    for await (const piece of pieces) {
      if (received + piece.byteLength > total) {
        throw new Error('verification failed: the server sent more bytes than the manifest says');
      }
      received += piece.byteLength;
      await payload.push(piece);
      let at = 0;
      while (at < piece.byteLength) {
        if (nonceFill < nonce.length) {
          const take = Math.min(nonce.length - nonceFill, piece.byteLength - at);
          nonce.set(piece.subarray(at, at + take), nonceFill);
          nonceFill += take;
          at += take;
          if (nonceFill === nonce.length) job = workers.begin(plan.workerKey(nonce));
          continue;
        }
        if (!segment) {
          segment = new Uint8Array(plan.segmentEnd(index) - plan.segmentStart(index));
          fill = 0;
        }
        const take = Math.min(segment.length - fill, piece.byteLength - at);
        segment.set(piece.subarray(at, at + take), fill);
        fill += take;
        at += take;
        if (fill === segment.length) {
          inOrder.push(workers.open(job, index, segment.buffer));
          index += 1;
          segment = null;
          while (inOrder.length >= workers.workers.length * QUEUED_PER_WORKER) await writeOldest();
        }
      }
      progress(received);
    }
    if (received !== total || index !== plan.segmentCount) {
      throw new Error('verification failed: the payload is truncated');
    }
    while (inOrder.length > 0) await writeOldest();
    const digests = new Uint8Array(32 * plaintextDigests.length);
    plaintextDigests.forEach((d, i) => digests.set(d, 32 * i));
    plan.finish(received, await payload.finish(), digests);
  } finally {
    if (job !== null) workers.end(job);
  }
}

/**
 * Decrypts and verifies `doc`'s payload `pieces` (see decryptOnThisThread
 * for the contract): on the workers when the payload spans more than one
 * segment and they run here, otherwise on this thread. Resolves to where:
 * 'workers' or 'page'.
 */
export async function decryptVerified(pieces, doc, write, progress = () => {}) {
  const plan = doc.segmentedDecryption();
  try {
    const workers = plan.segmentCount > 1 ? await prepareWorkers() : null;
    if (workers) {
      await decryptInWorkers(pieces, plan, workers, write, progress);
      return 'workers';
    }
  } finally {
    plan.free();
  }
  const decryptor = doc.decryptor();
  try {
    await decryptOnThisThread(pieces, decryptor, write, progress);
    return 'page';
  } finally {
    decryptor.free();
  }
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
 * Fetches `doc`'s payload with `fetchPayload()` (a Response promise),
 * decrypts and verifies it (decryptVerified) into `sink`, reporting
 * progress(received) as bytes arrive, then makes the final checks and
 * completes the file; resolves to where it decrypted ('workers' or
 * 'page'). On any failure (a refusal, the network, a check) the sink is
 * aborted, so the browser keeps nothing, and the error is thrown on.
 */
export async function saveVerified(fetchPayload, doc, sink, progress) {
  try {
    const response = await fetchPayload();
    if (!response.ok) throw await failure(response);
    const where = await decryptVerified(bodyPieces(response), doc, (out) => sink.write(out), progress);
    await sink.close();
    return where;
  } catch (e) {
    await sink.abort(e && e.message ? e.message : String(e));
    throw e;
  }
}
