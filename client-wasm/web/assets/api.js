// Talking to the lexvault server from a page: signed requests that follow
// the signer's actor chain (spec/log.md §Actor chains), and error answers.
// Everything that decides whether to trust an answer runs in the wasm
// module (the same Rust core as the CLI); this file only moves bytes.

import { decodeError } from './pkg/lexvault_client_wasm.js';

const CBOR = 'application/cbor';
const UPLOAD = 'application/vnd.lexvault.upload';
const SIGNATURE = 'lexvault-signature';
const RECEIPT = 'lexvault-receipt';

/** An error answer from the server, with its stable code. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Never send cookies or a referrer; never cache an answer. */
const FETCH_OPTIONS = { credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' };

/** Turns a non-2xx answer into an ApiError (the body is a CBOR ErrorBody). */
export async function failure(response) {
  const body = new Uint8Array(await response.arrayBuffer());
  const decoded = decodeError(body);
  if (decoded) {
    return new ApiError(response.status, decoded.code, decoded.message);
  }
  return new ApiError(response.status, 'unexpected', `the server answered HTTP ${response.status}`);
}

/** GET without a signature (public state such as a link's). */
export async function getUnsigned(path) {
  const response = await send(path, { method: 'GET' });
  if (!response.ok) throw await failure(response);
  return new Uint8Array(await response.arrayBuffer());
}

/** POST without a signature (signing in: the device holds no key yet); returns the Response. */
export async function postUnsigned(path, body) {
  return send(path, { method: 'POST', headers: { 'content-type': CBOR }, body });
}

/**
 * Sends a request signed by `signer` (a wasm Signer or Session) and
 * returns the Response, ok or not, after moving the signer's chain with
 * its receipt. When another device or tab of the same signer went first
 * the server answers 409 out-of-sequence: the signer then checks its head
 * and the request is signed and sent once more.
 */
export async function signedFetch(signer, method, path, body) {
  return signedSend(signer, method, path, body ?? new Uint8Array(0), (signature) => {
    const headers = { [SIGNATURE]: signature };
    const init = { method, headers };
    if (body) {
      headers['content-type'] = CBOR;
      init.body = body;
    }
    return send(path, init);
  });
}

/**
 * Uploads a new version: the body is the envelope's length (4 bytes, big
 * endian), the envelope, then the payload (a Blob); the signature covers
 * the envelope (spec/api.md §Uploads). `progress(sent, total)` follows the
 * bytes as they leave. Returns the answer's bytes, or throws an ApiError.
 */
export async function signedUpload(signer, path, envelope, payload, progress) {
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, envelope.length);
  const body = new Blob([length, envelope, payload]);
  const response = await signedSend(signer, 'POST', path, envelope, (signature) =>
    sendWithProgress(path, { [SIGNATURE]: signature, 'content-type': UPLOAD }, body, progress),
  );
  if (!response.ok) throw await failure(response);
  return new Uint8Array(await response.arrayBuffer());
}

/** The signing, receipt and out-of-sequence retry every signed request shares. */
async function signedSend(signer, method, path, signedBytes, transmit) {
  for (let attempt = 0; ; attempt += 1) {
    const response = await transmit(signer.sign(method, path, signedBytes));
    const receipt = response.headers.get(RECEIPT);
    if (receipt) signer.followReceipt(receipt);
    if (response.status === 409 && attempt === 0) {
      const error = await failure(response.clone());
      if (error.code === 'out-of-sequence') {
        await catchUp(signer);
        continue;
      }
    }
    return response;
  }
}

/** Signed request whose answer must be 2xx; returns the body's bytes. */
export async function signedCall(signer, method, path, body) {
  const response = await signedFetch(signer, method, path, body);
  if (!response.ok) throw await failure(response);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Fetches the signer's head and lets the signer check it. A signer whose
 * identity already made requests elsewhere (a person signing in on this
 * device) calls this first, so its first recorded request is in sequence.
 */
export async function catchUp(signer) {
  const response = await send('/v1/log/head', {
    method: 'GET',
    headers: { [SIGNATURE]: signer.signHead() },
  });
  if (!response.ok) throw await failure(response);
  signer.followHead(new Uint8Array(await response.arrayBuffer()));
}

const UNREACHABLE = 'The server cannot be reached. Check your connection and try again.';

/** POST with upload progress, which fetch does not report; answers a Response. */
function sendWithProgress(path, headers, body, progress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.responseType = 'arraybuffer';
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener('progress', (e) => progress(e.loaded, e.total));
    xhr.addEventListener('load', () => {
      const answer = new Headers();
      const receipt = xhr.getResponseHeader(RECEIPT);
      if (receipt) answer.set(RECEIPT, receipt);
      const body = xhr.status === 204 ? null : xhr.response;
      resolve(new Response(body, { status: xhr.status, headers: answer }));
    });
    const unreachable = () => reject(new ApiError(0, 'unreachable', UNREACHABLE));
    xhr.addEventListener('error', unreachable);
    xhr.addEventListener('abort', unreachable);
    xhr.send(body);
  });
}

async function send(path, init) {
  try {
    return await fetch(path, { ...FETCH_OPTIONS, ...init });
  } catch (e) {
    throw new ApiError(0, 'unreachable', UNREACHABLE);
  }
}
