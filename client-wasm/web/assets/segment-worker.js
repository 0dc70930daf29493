// A decryption worker (spec/documents.md §Opening in parallel). The page
// cuts a payload into the runs of chunks that make each 1 MiB plaintext
// segment and spreads them over a few of these workers, so decryption and
// the plaintext's hashing use every core. A worker receives the payload
// key of each download it takes part in (and nothing else secret),
// authenticates and decrypts the segments it is sent, hashes each
// segment's plaintext with the browser's SHA-256, and returns both; it
// also hashes the payload's own segments. The page releases the plaintext
// in order and makes the final check.
//
// Messages in:  { job, key }              start a download (key: Uint8Array)
//               { job, index, chunks }    open one segment (chunks: ArrayBuffer)
//               { job, end: true }        the download is over: drop its key
//               { hash, bytes }           SHA-256 of a payload segment (bytes: ArrayBuffer)
// Messages out: { ready: true } once, or { failed } if the module cannot run;
//               { job, index, plaintext, digest } or { job, index, error };
//               { hashed, digest }.

import init, { WorkerDecryptor } from './pkg/lexvault_client_wasm.js';

const decryptors = new Map(); // job -> WorkerDecryptor

const ready = init().then(
  () => self.postMessage({ ready: true }),
  (e) => {
    self.postMessage({ failed: String(e && e.message ? e.message : e) });
    throw e;
  },
);

self.onmessage = async ({ data }) => {
  if (data.hash !== undefined) {
    // A segment of the payload as received: its digest, for the page's check.
    const digest = await crypto.subtle.digest('SHA-256', data.bytes);
    self.postMessage({ hashed: data.hash, digest }, [digest]);
    return;
  }
  await ready;
  const { job } = data;
  if (data.key) {
    try {
      decryptors.set(job, new WorkerDecryptor(data.key));
    } catch {
      // Every segment of this job then fails, below.
    } finally {
      data.key.fill(0);
    }
    return;
  }
  if (data.end) {
    const decryptor = decryptors.get(job);
    decryptors.delete(job);
    if (decryptor) decryptor.free();
    return;
  }
  const { index } = data;
  try {
    const decryptor = decryptors.get(job);
    if (!decryptor) throw new Error('the decryption worker has no key for this download');
    const plaintext = decryptor.openSegment(index, new Uint8Array(data.chunks));
    const digest = await crypto.subtle.digest('SHA-256', plaintext);
    self.postMessage({ job, index, plaintext, digest }, [plaintext.buffer, digest]);
  } catch (e) {
    self.postMessage({ job, index, error: e && e.message ? e.message : String(e) });
  }
};
