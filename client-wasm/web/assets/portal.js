// The portal, /. A person signs in with their login name and password
// through OPAQUE: the wasm core proves the password without sending it,
// opens the key backup the server then releases, and keeps the recovered
// keys inside a wasm Session that this script only holds a handle to.
// Every matter and document the server lists is verified in wasm (the
// same core code as the CLI) before it is shown, a download is decrypted
// and checked in wasm as it streams into the browser's save, and an upload
// is encrypted in wasm as the file is read.

import init, { LoginAttempt, checkFileDetails, loginFailedMessage } from './pkg/lexvault_client_wasm.js';
import { ApiError, catchUp, failure, postUnsigned, signedCall, signedFetch, signedUpload } from './api.js';
import { openSink, prepareStreaming, prepareWorkers, saveVerified } from './download.js';
import { $, formatSize, messageOf, progressTo, screens } from './ui.js';
import { initSharing, sharingButtons } from './sharing.js';

const sections = ['login-form', 'busy', 'matters', 'documents', 'sharing', 'progress-box', 'done', 'uploaded', 'problem'];
const { show, busy, problem } = screens(sections);

let LOGIN_FAILED = '';
let session = null;
let busyWith = null; // 'download' or 'upload' while one runs
let currentMatter = null;
let shown = []; // the documents listed, freed when the list changes

function formatDate(seconds) {
  return new Date(seconds * 1000).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

const paint = () => new Promise((resolve) => setTimeout(resolve, 30));

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

// ---------------------------------------------------------------------------
// Signing in

function askLogin(failed) {
  const visible = failed ? ['login-form', 'problem'] : ['login-form'];
  if (failed) $('problem-text').textContent = failed;
  show(...visible);
  $('password').value = '';
  ($('login-name').value ? $('password') : $('login-name')).focus();
}

/** The one message for a failed sign-in, whatever failed. */
function loginFailed() {
  askLogin(LOGIN_FAILED);
}

async function signIn(event) {
  event.preventDefault();
  const name = $('login-name').value;
  const password = $('password').value.normalize('NFC');
  $('password').value = '';
  if (name.trim() === '' || password === '') return;
  busy('Signing in…');
  await paint();
  let attempt;
  try {
    attempt = new LoginAttempt(name, password);
  } catch {
    loginFailed();
    return;
  }
  try {
    const start = await postUnsigned('/v1/login/start', attempt.startBody());
    if (!start.ok) {
      const error = await failure(start);
      // A malformed name is refused like a wrong password; a rate limit
      // says when to try again.
      if (error.code === 'too-many-attempts') askLogin(error.message);
      else if (error.status === 400 || error.status === 401) loginFailed();
      else askLogin(error.message);
      return;
    }
    const challenge = new Uint8Array(await start.arrayBuffer());
    let finishBody;
    try {
      finishBody = attempt.finish(challenge);
    } catch (e) {
      // A wrong password or an unknown name fails here, on the device.
      if (messageOf(e) === LOGIN_FAILED) loginFailed();
      else askLogin(messageOf(e));
      return;
    }
    busy('Unlocking your keys…');
    await paint();
    const finish = await postUnsigned('/v1/login/finish', finishBody);
    if (!finish.ok) {
      const error = await failure(finish);
      if (error.code === 'login-failed') loginFailed();
      else askLogin(error.message);
      return;
    }
    session = attempt.open(new Uint8Array(await finish.arrayBuffer()));
  } catch (e) {
    askLogin(messageOf(e));
    return;
  } finally {
    attempt.free();
  }
  try {
    // The person's chain already holds their requests from other devices
    // (registering, setting the password): learn where it stands.
    await catchUp(session);
  } catch (e) {
    problem(messageOf(e));
    return;
  }
  $('who-name').textContent = session.displayName;
  $('who-name').title = `Fingerprint ${session.fingerprint}`;
  $('who').hidden = false;
  await listMatters();
}

function signOut() {
  if (session) session.free();
  session = null;
  // A fresh page: nothing of the session survives in memory.
  location.replace('/');
}

// ---------------------------------------------------------------------------
// Matters and documents

async function listMatters() {
  busy('Loading your matters…');
  let matters;
  try {
    matters = session.matters(await signedCall(session, 'GET', '/v1/matters'));
  } catch (e) {
    problem(messageOf(e));
    return;
  }
  const list = $('matter-list');
  list.replaceChildren();
  for (const matter of matters) {
    const id = matter.id;
    const item = element('li', 'item');
    const open = element('button', 'row', '');
    open.type = 'button';
    open.dataset.matter = id;
    open.append(
      element('span', 'row-title', `Matter ${id.slice(0, 8)}`),
      element('span', 'meta', `Opened ${formatDate(matter.createdAt)} · ${matter.mine ? 'yours' : 'shared with you'}`),
    );
    open.addEventListener('click', () => listDocuments(id));
    item.append(open);
    list.append(item);
    matter.free();
  }
  $('no-matters').hidden = list.childElementCount > 0;
  show('matters');
}

async function listDocuments(matterId) {
  busy('Loading the documents…');
  let documents;
  try {
    const base = `/v1/matters/${matterId}`;
    // One after the other: each signed request moves the person's chain.
    const listing = await signedCall(session, 'GET', `${base}/documents`);
    const grants = await signedCall(session, 'GET', `${base}/grants`);
    documents = session.documents(matterId, listing, grants);
  } catch (e) {
    problem(messageOf(e), 'matters');
    return;
  }
  for (const old of shown) old.free();
  shown = documents;
  currentMatter = matterId;
  $('matter-title').textContent = `Matter ${matterId.slice(0, 8)}`;
  const list = $('document-list');
  list.replaceChildren();
  for (const doc of documents) {
    const item = element('li', 'item');
    item.dataset.document = doc.documentId;
    const details = element('div', 'row-text');
    details.append(
      element('span', 'row-title file-name', doc.fileName),
      element('span', 'meta', `${formatSize(doc.size)} · version ${doc.version} · ${formatDate(doc.createdAt)}`),
    );
    const save = element('button', 'primary save', 'Download');
    save.type = 'button';
    save.setAttribute('aria-label', `Download ${doc.fileName}`);
    save.addEventListener('click', () => download(doc));
    const revise = element('button', 'small new-version', 'New version');
    revise.type = 'button';
    revise.setAttribute('aria-label', `Upload a new version of ${doc.fileName}`);
    revise.addEventListener('click', () => chooseFile(doc));
    const actions = sharingButtons(doc, matterId);
    actions.append(revise);
    item.append(details, save, actions);
    list.append(item);
  }
  $('no-documents').hidden = list.childElementCount > 0;
  show('documents');
}

// ---------------------------------------------------------------------------
// Downloading

function setButtons(disabled) {
  for (const button of document.querySelectorAll('#document-list button, #back, #upload')) button.disabled = disabled;
}

/** Runs `task` unless a download or an upload already runs; buttons wait meanwhile. */
async function exclusively(what, task) {
  if (busyWith) return;
  busyWith = what;
  setButtons(true);
  try {
    await task();
  } finally {
    busyWith = null;
    setButtons(false);
  }
}

function download(doc) {
  return exclusively('download', () => downloadVerified(doc));
}

async function downloadVerified(doc) {
  show('documents', 'progress-box');
  $('progress-name').textContent = doc.fileName;
  const progress = progressTo($('progress'), $('progress-text'), doc.payloadSize);
  try {
    const sink = await openSink({ name: doc.fileName, mimeType: doc.mimeType, size: doc.size });
    const where = await saveVerified(() => signedFetch(session, 'GET', doc.payloadPath, undefined), doc, sink, progress);
    $('progress').value = 1;
    $('done').dataset.via = sink.streaming ? 'stream' : 'blob';
    $('done').dataset.decryptedOn = where;
    show('documents', 'done');
  } catch (e) {
    const message = e instanceof ApiError
      ? `The document could not be downloaded: ${e.message}`
      : `The document did not verify and was not saved: ${messageOf(e)}`;
    problem(message, 'documents');
  }
}

// ---------------------------------------------------------------------------
// Uploading

/** Encrypted payload is gathered in Blobs of this size, which the browser may keep on disk. */
const BLOB_PART = 16 << 20;

let revising = null; // the listed document a chosen file is a new version of

/** Opens the file picker for a new document, or for a new version of `doc`. */
function chooseFile(doc) {
  if (busyWith) return;
  revising = doc ?? null;
  $('upload-file').click();
}

function upload(file) {
  const doc = revising;
  revising = null;
  return exclusively('upload', () => encryptAndSend(file, doc));
}

/**
 * Encrypts `file` in wasm as it is read, under a fresh key, and sends it
 * with its signed manifest: a new document whose key is wrapped only to
 * the signed-in person, or, with `doc`, the next version of that document,
 * whose key also goes to everyone whose grant over it is in force. The
 * plaintext and the key never leave the wasm module; the page only moves
 * ciphertext. The bar counts encrypting as the first half, sending as the
 * second.
 */
async function encryptAndSend(file, doc) {
  const matterId = currentMatter;
  const mimeType = file.type || 'application/octet-stream';
  try {
    // Before a byte is encrypted: a large file is not read only to be refused.
    checkFileDetails(file.name, mimeType);
  } catch (e) {
    problem(`The document was not uploaded: ${messageOf(e)}`, 'documents');
    return;
  }
  show('documents', 'progress-box');
  $('progress-name').textContent = file.name;
  const bar = $('progress');
  const text = $('progress-text');
  const total = Math.max(file.size, 1);
  bar.value = 0;
  let sealing;
  try {
    if (doc) {
      const grants = await signedCall(session, 'GET', `/v1/matters/${matterId}/grants`);
      sealing = session.newVersion(doc, grants);
    } else {
      sealing = session.newDocument(matterId);
    }
    $('uploaded-who').textContent = doc
      ? `Version ${sealing.version}: everyone the document is shared with can open it.`
      : 'Only you can open it until you share it.';
    const parts = [];
    let pending = [];
    let pendingBytes = 0;
    const keep = (bytes) => {
      pending.push(bytes);
      pendingBytes += bytes.length;
      if (pendingBytes >= BLOB_PART) {
        parts.push(new Blob(pending));
        pending = [];
        pendingBytes = 0;
      }
    };
    const reader = file.stream().getReader();
    let read = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      keep(sealing.update(value));
      read += value.length;
      bar.value = (read / total) / 2;
      text.textContent = `Encrypting on this device: ${formatSize(read)} of ${formatSize(file.size)}`;
    }
    keep(sealing.finish());
    parts.push(new Blob(pending));
    const envelope = session.sealUpload(sealing, file.name, mimeType);
    await signedUpload(session, sealing.path, envelope, new Blob(parts), (sent, all) => {
      bar.value = 0.5 + (all > 0 ? sent / all : 1) / 2;
      text.textContent = `Sending: ${formatSize(sent)} of ${formatSize(all)}`;
    });
  } catch (e) {
    const message = e instanceof ApiError
      ? `The document was not uploaded: ${e.message}`
      : `The document could not be encrypted and was not sent: ${messageOf(e)}`;
    problem(message, 'documents');
    return;
  } finally {
    if (sealing) sealing.free();
  }
  bar.value = 1;
  await listDocuments(matterId);
  show('documents', 'uploaded');
}

// ---------------------------------------------------------------------------

async function main() {
  await init();
  LOGIN_FAILED = loginFailedMessage();
  prepareStreaming();
  prepareWorkers();
  $('login-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', signOut);
  $('back').addEventListener('click', () => {
    if (!busyWith) listMatters();
  });
  $('upload').addEventListener('click', () => chooseFile(null));
  $('upload-file').addEventListener('change', (event) => {
    const [file] = event.target.files;
    event.target.value = '';
    if (file) upload(file);
  });
  initSharing({ session: () => session, show, busy, problem, back: listDocuments });
  askLogin();
}

main().catch((e) => problem(`This page could not start: ${messageOf(e)}`));
