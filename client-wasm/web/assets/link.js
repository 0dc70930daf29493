// The share-link page, /l/<id>#v1.<secret>. The secret is in the fragment,
// which the browser never sends; it is read here, turned into the link's
// keys by the wasm core, and never leaves this page.
//
// First screen: a click-through, so that a link previewer or a mail
// scanner that loads the page opens nothing and uses up nothing. Then:
// the link's public state, the passphrase if it needs one, the signed
// open, verification of everything served (in wasm), and a streamed,
// verified decryption into the browser's download.

import init, { LinkKeyring, LinkState, Signer, openLinkBody } from './pkg/lexvault_client_wasm.js';
import { ApiError, getUnsigned, signedCall, signedFetch, failure } from './api.js';
import { openSink, prepareStreaming, prepareWorkers, saveVerified } from './download.js';
import { $, formatSize, messageOf, progressTo, screens } from './ui.js';

const { show, busy, problem } = screens(['start', 'passphrase-form', 'busy', 'ready', 'progress-box', 'done', 'problem']);

const UNAVAILABLE =
  'This link has expired, was revoked or used up, or does not exist. Ask whoever sent it for a new link.';
const UNAVAILABLE_WITH_PASSPHRASE =
  'This link has expired, was revoked or used up, or the passphrase is wrong. Check the passphrase, or ask whoever sent it for a new link.';
const INCOMPLETE =
  'This link is incomplete or damaged. Copy the whole link, including the part after “#”, and open it again.';

/** The link's id and fragment, or null when the address is not a link. */
function parseAddress() {
  const match = /^\/l\/([0-9a-f]{32})$/.exec(location.pathname);
  const fragment = location.hash.startsWith('#') ? location.hash.slice(1) : '';
  if (!match || fragment === '') return null;
  return { id: match[1], fragment };
}

/** The key this browser keeps for a claim-once link. */
function claimSigner(id) {
  const name = `lexvault.claim.${id}`;
  const kept = localStorage.getItem(name);
  if (kept && /^[0-9a-f]{64}$/.test(kept)) {
    return Signer.fromSeed(Uint8Array.from(kept.match(/../g), (h) => parseInt(h, 16)));
  }
  const signer = Signer.generate();
  localStorage.setItem(name, Array.from(signer.seed(), (b) => b.toString(16).padStart(2, '0')).join(''));
  return signer;
}

class LinkPage {
  constructor(id, fragment) {
    this.id = id;
    this.fragment = fragment;
    this.api = `/v1/links/${id}`;
  }

  async start() {
    // The fragment is checked here, before anything is fetched.
    try {
      new LinkKeyring(this.fragment, undefined).free();
    } catch {
      problem(INCOMPLETE);
      return;
    }
    prepareStreaming();
    prepareWorkers();
    show('start');
    $('continue').addEventListener('click', () => this.proceed(), { once: true });
  }

  async proceed() {
    busy('Opening…');
    let state;
    try {
      state = new LinkState(await getUnsigned(this.api));
    } catch (e) {
      this.fail(e);
      return;
    }
    this.claimOnce = state.claimOnce;
    if (state.passphrase) {
      this.askPassphrase();
    } else {
      await this.open(undefined);
    }
  }

  askPassphrase(again) {
    show('passphrase-form', ...(again ? ['problem'] : []));
    const input = $('passphrase');
    input.value = '';
    input.focus();
    $('passphrase-form').onsubmit = (event) => {
      event.preventDefault();
      const passphrase = input.value.normalize('NFC');
      if (passphrase === '') return;
      this.open(passphrase);
    };
  }

  async open(passphrase) {
    busy(passphrase === undefined ? 'Opening…' : 'Checking the passphrase…');
    // Let the message paint before Argon2id takes the thread.
    await new Promise((resolve) => setTimeout(resolve, 30));
    let keyring;
    try {
      keyring = new LinkKeyring(this.fragment, passphrase);
    } catch (e) {
      problem(e.message);
      return;
    }
    const path = `${this.api}/open`;
    try {
      let signer = keyring.signer();
      let answer;
      if (this.claimOnce) {
        const claim = claimSigner(this.id);
        const first = await signedFetch(signer, 'POST', path, openLinkBody(claim.publicKey));
        if (first.ok) {
          answer = new Uint8Array(await first.arrayBuffer());
        } else {
          const error = await failure(first);
          if (error.code !== 'link-unavailable') throw error;
          // Already claimed, perhaps by this browser: its key may open it.
          signer = claim;
          answer = await signedCall(signer, 'POST', path, openLinkBody(undefined));
        }
      } else {
        answer = await signedCall(signer, 'POST', path, openLinkBody(undefined));
      }
      this.signer = signer;
      this.document = keyring.open(answer);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'link-unavailable' && passphrase !== undefined) {
        $('problem-text').textContent = UNAVAILABLE_WITH_PASSPHRASE;
        this.askPassphrase(true);
        return;
      }
      this.fail(e);
      return;
    } finally {
      keyring.free();
    }
    this.ready();
  }

  ready() {
    const doc = this.document;
    $('file-name').textContent = doc.fileName;
    $('file-size').textContent = formatSize(doc.size);
    const left = doc.opensLeft;
    $('opens-left').textContent =
      left === undefined ? '' : left === 0 ? 'this was the last open' : `${left} open${left === 1 ? '' : 's'} left`;
    $('save').textContent = `Save ${doc.fileName}`;
    show('ready');
    $('save').addEventListener('click', () => this.save(), { once: true });
  }

  async save() {
    const doc = this.document;
    show('progress-box');
    const progress = progressTo($('progress'), $('progress-text'), doc.payloadSize);
    let sink;
    try {
      sink = await openSink({ name: doc.fileName, mimeType: doc.mimeType, size: doc.size });
    } catch (e) {
      this.fail(e);
      return;
    }
    const path = `${this.api}/payload?ticket=${doc.ticket}`;
    let where;
    try {
      where = await saveVerified(() => signedFetch(this.signer, 'GET', path, undefined), doc, sink, progress);
    } catch (e) {
      this.fail(e, true);
      return;
    }
    $('progress').value = 1;
    $('done').dataset.via = sink.streaming ? 'stream' : 'blob';
    $('done').dataset.decryptedOn = where;
    show('done');
  }

  fail(e, duringDownload) {
    if (e instanceof ApiError) {
      if (e.code === 'link-unavailable') {
        problem(UNAVAILABLE);
      } else {
        problem(e.message);
      }
      return;
    }
    const message = messageOf(e);
    problem(duringDownload ? `The document did not verify and was not saved: ${message}` : message);
  }
}

async function main() {
  await init();
  const address = parseAddress();
  if (!address) {
    problem(INCOMPLETE);
    return;
  }
  await new LinkPage(address.id, address.fragment).start();
}

main().catch((e) => problem(`This page could not start: ${messageOf(e)}`));
