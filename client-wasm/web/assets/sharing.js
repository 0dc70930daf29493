// The portal's sharing screens: grant a document to a member of its
// matter, make and revoke share links, and see who opened or downloaded
// it. Every record is signed and every answer checked in wasm, by the same
// core code as the CLI; this file fetches and shows.
//
// Before a document's key is wrapped to anyone, their key bundle's binding
// in the access log is verified against the log key and checkpoint this
// browser pinned for the signed-in person (spec/api.md §Browser pages):
// pinned on first use in localStorage, and every later checkpoint must be
// consistent with the pinned one.

import { logKeyToPin } from './pkg/lexvault_client_wasm.js';
import { ApiError, signedCall } from './api.js';
import { $, messageOf } from './ui.js';

let ctx = null; // { session(), show(...ids), busy(text), problem(text, ...ids), back() }
let current = null; // { doc, matterId, panel }
const people = new Map(); // signing key (hex) → display name

const PANELS = ['share', 'links', 'activity'];

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function button(label, className, onClick) {
  const b = element('button', className, label);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

function formatWhen(seconds) {
  return new Date(seconds * 1000).toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}

function formatDay(seconds) {
  return new Date(seconds * 1000).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

const session = () => ctx.session();
const base = () => `/v1/matters/${current.matterId}`;

function nameOf(key) {
  if (key === session().publicKey) return `${session().displayName} (you)`;
  return people.get(key) || `someone else (key ${key.slice(0, 8)}…)`;
}

/** Shows a failure with what to do next, keeping the sharing screen. */
function failed(what, e) {
  const next = e instanceof ApiError
    ? 'Check your connection and try again.'
    : 'Nothing was changed. Tell the firm\'s administrator if this happens again.';
  ctx.problem(`${what}: ${messageOf(e)}. ${next}`, 'sharing');
}

// ---------------------------------------------------------------------------
// The log state pinned for the signed-in person

function pinKey() {
  return `lexvault.log.${session().publicKey}`;
}

function loadPin() {
  try {
    const saved = JSON.parse(localStorage.getItem(pinKey()) || '{}');
    return { logKey: saved.logKey || null, checkpoint: saved.checkpoint || null };
  } catch {
    return { logKey: null, checkpoint: null };
  }
}

function savePin(pin) {
  localStorage.setItem(pinKey(), JSON.stringify(pin));
}

/**
 * Fetches the identity of `key` and verifies its binding in the log (a
 * consistency proof is fetched when the checkpoints differ); returns the
 * wasm BindingCheck, bound, or throws.
 */
async function checkBinding(key) {
  const info = await signedCall(session(), 'GET', `/v1/identities/${key}`);
  const pin = loadPin();
  if (!pin.logKey) {
    pin.logKey = logKeyToPin(await signedCall(session(), 'GET', '/v1/log/checkpoint'));
    savePin(pin);
  }
  let check = session().checkBinding(info, key, pin.logKey, pin.checkpoint ?? undefined, undefined);
  if (check.consistencyPath) {
    const proof = await signedCall(session(), 'GET', check.consistencyPath);
    check.free();
    check = session().checkBinding(info, key, pin.logKey, pin.checkpoint ?? undefined, proof);
  }
  if (check.checkpoint) {
    pin.checkpoint = check.checkpoint;
    savePin(pin);
  }
  return check;
}

// ---------------------------------------------------------------------------
// Opening the screen

/** The Share, Links and Activity buttons of one listed document. */
export function sharingButtons(doc, matterId) {
  const box = element('div', 'actions');
  for (const [label, panel] of [['Share', 'share'], ['Links', 'links'], ['Activity', 'activity']]) {
    const b = button(label, `small ${panel}`, () => open(doc, matterId, panel));
    b.setAttribute('aria-label', `${label}: ${doc.fileName}`);
    box.append(b);
  }
  return box;
}

async function open(doc, matterId, panel) {
  current = { doc, matterId, panel };
  $('sharing-title').textContent = doc.fileName;
  for (const p of PANELS) {
    $(`${p}-panel`).hidden = p !== panel;
    if (p === panel) $(`tab-${p}`).setAttribute('aria-current', 'page');
    else $(`tab-${p}`).removeAttribute('aria-current');
  }
  $('share-done').hidden = true;
  $('link-created').hidden = true;
  $('link-url').value = '';
  if (panel === 'share') await loadShare();
  else if (panel === 'links') await loadLinks();
  else await loadActivity();
}

/** The matter's grants and links, and the names of its members. */
async function loadPeople() {
  const grants = await signedCall(session(), 'GET', `${base()}/grants`);
  const links = await signedCall(session(), 'GET', `${base()}/links`);
  const keys = session().memberKeys(current.matterId, grants, links);
  const members = [];
  for (const key of keys) {
    const person = session().person(await signedCall(session(), 'GET', `/v1/identities/${key}`), key);
    people.set(key, person.displayName);
    members.push({ key, name: person.displayName, fingerprint: person.fingerprint });
    person.free();
  }
  return { grants, links, members };
}

// ---------------------------------------------------------------------------
// Granting

async function loadShare() {
  ctx.busy('Loading who may see this document…');
  let loaded;
  let granted;
  try {
    loaded = await loadPeople();
    granted = session().documentGrants(current.matterId, loaded.grants, loaded.links, current.doc.documentId);
  } catch (e) {
    failed('The matter\'s members could not be loaded', e);
    return;
  }
  const select = $('share-member');
  select.replaceChildren();
  for (const m of loaded.members) {
    const option = element('option', '', `${m.name} · ${m.fingerprint.slice(0, 19)}`);
    option.value = m.key;
    select.append(option);
  }
  $('share-form').hidden = loaded.members.length === 0;
  $('no-members').hidden = loaded.members.length > 0;

  const list = $('grant-list');
  list.replaceChildren();
  for (const g of granted) {
    const item = element('li', 'item');
    item.dataset.grantee = g.grantee;
    item.dataset.state = g.revoked ? 'revoked' : 'active';
    const text = element('div', 'row-text');
    const until = g.expiresAt ? `until ${formatDay(g.expiresAt)}` : 'no end date';
    text.append(
      element('span', 'row-title', nameOf(g.grantee)),
      element('span', 'meta', `${g.rights} · ${g.revoked ? 'revoked' : until}`),
    );
    item.append(text);
    if (!g.revoked && g.mine) {
      const digest = g.digest;
      const revoke = button('Revoke', 'small revoke', () => revokeGrant(digest, nameOf(g.grantee)));
      revoke.setAttribute('aria-label', `Revoke the access of ${nameOf(g.grantee)}`);
      item.append(revoke);
    }
    list.append(item);
    g.free();
  }
  $('no-grants').hidden = list.childElementCount > 0;
  ctx.show('sharing');
}

async function share(event) {
  event.preventDefault();
  const key = $('share-member').value;
  const rights = [...document.querySelectorAll('#share-form input[name=right]:checked')].map((c) => c.value);
  if (!key) return;
  if (rights.length === 0) {
    ctx.problem('Choose at least one right.', 'sharing');
    return;
  }
  const day = $('share-expiry').value;
  const expiresAt = day ? Math.floor(new Date(`${day}T23:59:59`).getTime() / 1000) : undefined;
  const name = people.get(key) || 'them';
  ctx.busy(`Checking ${name}'s keys in the access log…`);
  let check;
  try {
    check = await checkBinding(key);
  } catch (e) {
    ctx.problem(`${messageOf(e)}. Do not share with them until the firm's administrator has checked their identity.`, 'sharing');
    return;
  }
  try {
    ctx.busy(`Sharing with ${name}…`);
    const grants = await signedCall(session(), 'GET', `${base()}/grants`);
    const body = session().grantDocument(current.doc, grants, check, rights.join(','), expiresAt);
    await signedCall(session(), 'POST', `${base()}/grants`, body);
  } catch (e) {
    failed('The document could not be shared', e);
    return;
  } finally {
    check.free();
  }
  await loadShare();
  $('share-done').textContent = `Shared with ${name}.`;
  $('share-done').hidden = false;
}

async function revokeGrant(digest, name) {
  ctx.busy(`Revoking the access of ${name}…`);
  try {
    await signedCall(session(), 'POST', `${base()}/revocations`, session().revocation(current.matterId, digest));
  } catch (e) {
    failed('The access could not be revoked', e);
    return;
  }
  await loadShare();
  $('share-done').textContent = `The access of ${name} was revoked.`;
  $('share-done').hidden = false;
}

// ---------------------------------------------------------------------------
// Share links

function linkState(link) {
  const now = Date.now() / 1000;
  if (link.revoked) return 'revoked';
  if (link.expiresAt <= now) return 'expired';
  if (link.locked) return 'locked';
  if (link.maxOpens !== undefined && link.opens >= link.maxOpens) return 'used up';
  return 'active';
}

async function loadLinks(keepCreated) {
  ctx.busy('Loading the links…');
  let links;
  try {
    links = session().links(await signedCall(session(), 'GET', `${base()}/links`), current.doc.documentId);
  } catch (e) {
    failed('The links could not be loaded', e);
    return;
  }
  if (!keepCreated) $('link-created').hidden = true;
  const list = $('link-list');
  list.replaceChildren();
  for (const link of links) {
    const state = linkState(link);
    const item = element('li', 'item');
    item.dataset.link = link.id;
    item.dataset.state = state;
    const text = element('div', 'row-text');
    const opens = link.maxOpens !== undefined ? `opened ${link.opens} of ${link.maxOpens}` : `opened ${link.opens} times`;
    const options = [
      link.passphrase ? 'passphrase' : '',
      link.claimOnce ? (link.claimed ? 'claimed' : 'claim once') : '',
    ].filter(Boolean);
    text.append(
      element('span', 'row-title', `Link ${link.id.slice(0, 8)} · ${state}`),
      element('span', 'meta', [`expires ${formatDay(link.expiresAt)}`, opens, ...options].join(' · ')),
    );
    item.append(text);
    if (!link.revoked) {
      const { id, grant } = link;
      const revoke = button('Revoke', 'small revoke', () => revokeLink(id, grant));
      revoke.setAttribute('aria-label', `Revoke link ${id.slice(0, 8)}`);
      item.append(revoke);
    }
    list.append(item);
    link.free();
  }
  $('no-links').hidden = list.childElementCount > 0;
  ctx.show('sharing');
}

async function createLink(event) {
  event.preventDefault();
  const days = Number($('link-days').value);
  if (!Number.isInteger(days) || days < 1 || days > 90) {
    ctx.problem('A link expires after 1 to 90 days.', 'sharing');
    return;
  }
  const limit = $('link-max-opens').value;
  const maxOpens = limit === '' ? undefined : Number(limit);
  if (maxOpens !== undefined && (!Number.isInteger(maxOpens) || maxOpens < 1)) {
    ctx.problem('The open limit is a whole number from 1, or empty for none.', 'sharing');
    return;
  }
  const passphrase = $('link-passphrase').value.normalize('NFC');
  $('link-passphrase').value = '';
  const expiresAt = Math.floor(Date.now() / 1000) + days * 86_400;
  ctx.busy('Making the link…');
  let link;
  try {
    const grants = await signedCall(session(), 'GET', `${base()}/grants`);
    link = session().createLink(current.doc, grants, expiresAt, maxOpens, passphrase || undefined, $('link-claim-once').checked);
    // Only the link's public half travels: its id, grant and wrapped key.
    await signedCall(session(), 'POST', `${base()}/links`, link.body);
    $('link-url').value = `${location.origin}${link.url}`;
  } catch (e) {
    failed('The link could not be made', e);
    return;
  } finally {
    if (link) link.free();
  }
  $('copied').hidden = true;
  $('link-created').hidden = false;
  await loadLinks(true);
}

async function copyLink() {
  const field = $('link-url');
  field.select();
  const copied = $('copied');
  try {
    // A browser that asks for permission may never answer: give up after 2 s.
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2_000));
    await Promise.race([navigator.clipboard.writeText(field.value), timeout]);
    copied.textContent = 'Copied.';
  } catch {
    copied.textContent = 'The link is selected: copy it with your device\'s copy command.';
  }
  copied.hidden = false;
}

async function revokeLink(id, grant) {
  ctx.busy('Revoking the link…');
  try {
    await signedCall(session(), 'DELETE', `/v1/links/${id}`);
    // The link's grant too, so the revocation is on the signed record.
    await signedCall(session(), 'POST', `${base()}/revocations`, session().revocation(current.matterId, grant));
  } catch (e) {
    failed('The link could not be revoked', e);
    return;
  }
  await loadLinks();
}

// ---------------------------------------------------------------------------
// Access events

const HAPPENED = {
  viewed: 'opened it',
  downloaded: 'downloaded it',
  'link-created': 'made a share link to it',
  'link-opened': 'opened it through a share link',
  'link-downloaded': 'downloaded it through a share link',
  'link-revoked': 'revoked a share link',
  uploaded: 'uploaded a version',
  granted: 'shared it',
  revoked: 'revoked an access to it',
  'keys-added': 'gave more people its key',
};

async function loadActivity() {
  ctx.busy('Loading and checking the access events…');
  let events;
  try {
    await loadPeople();
    const answer = await signedCall(session(), 'GET', `${base()}/events`);
    events = session().events(current.matterId, answer, current.doc.documentId);
  } catch (e) {
    failed('The access events could not be shown', e);
    return;
  }
  const list = $('event-list');
  list.replaceChildren();
  for (const ev of events) {
    const item = element('li', 'item');
    item.dataset.kind = ev.kind;
    item.dataset.actor = ev.actor;
    const who = ev.kind.startsWith('link-') && !people.has(ev.actor) && ev.actor !== session().publicKey
      ? 'Someone with a share link'
      : nameOf(ev.actor);
    const text = element('div', 'row-text');
    const version = ev.version ? ` · version ${ev.version}` : '';
    text.append(
      element('span', 'row-title', `${who} ${HAPPENED[ev.kind] || ev.kind}`),
      element('span', 'meta', `${formatWhen(ev.at)}${version} · log entry ${ev.seq}`),
    );
    item.append(text);
    list.append(item);
    ev.free();
  }
  $('no-events').hidden = list.childElementCount > 0;
  ctx.show('sharing');
}

// ---------------------------------------------------------------------------

/** Wires the sharing screen to the portal (`context`: see `ctx`). */
export function initSharing(context) {
  ctx = context;
  $('share-form').addEventListener('submit', share);
  $('link-form').addEventListener('submit', createLink);
  $('copy-link').addEventListener('click', copyLink);
  $('sharing-back').addEventListener('click', () => ctx.back(current.matterId));
  for (const panel of PANELS) {
    $(`tab-${panel}`).addEventListener('click', () => open(current.doc, current.matterId, panel));
  }
}
