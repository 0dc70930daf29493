// Plays one scenario in headless Chromium and prints a JSON report on
// stdout, for tests/tests/browser.rs to check. The Rust test sets up the
// firm, the documents and the links with the real CLI and server; this
// script is only the person at the browser.
//
// Usage: node driver.mjs '<scenario JSON>'
//   { "kind": "link", "url": "...", "passphrases": ["wrong", "right"],
//     "viewport": "phone" | "desktop", "save": true, "downloadTo": "/path",
//     "screenshots": "/dir", "name": "prefix" }
//   { "kind": "portal", "url": "http://…/", "login": "name",
//     "passwords": ["wrong", "right"], "matter": "<hex id>",
//     "save": "File name.pdf", "upload": "/path/to/file",
//     "uploadVersionOf": "Listed name.pdf", "viewport": …,
//     "downloadTo": …, "screenshots": …, "name": … }

import { close, launch, PHONE, DESKTOP } from './chromium.mjs';

const scenario = JSON.parse(process.argv[2]);
const report = { requests: [], responses: [], console: [], messages: [], screenshots: [] };

async function screenshot(page, label) {
  if (!scenario.screenshots) return;
  const path = `${scenario.screenshots}/${scenario.name}-${label}.png`;
  await page.screenshot({ path, fullPage: true });
  report.screenshots.push(path);
}

async function visibleText(page, id) {
  const el = page.locator(`#${id}`);
  return (await el.isVisible()) ? (await el.innerText()).trim() : null;
}

/** Waits until one of the page's end states is showing, and names it. */
async function settle(page, states) {
  const selector = states.map((s) => `#${s}:not([hidden])`).join(', ');
  await page.waitForSelector(selector, { timeout: 120_000 });
  for (const s of states) {
    if (await page.locator(`#${s}`).isVisible()) return s;
  }
  return null;
}

/**
 * Opens the scenario's page, noting its console, and waits for its first
 * screen (`first`, or a problem); returns the page, or null after a
 * problem.
 */
async function arrive(context, first, label) {
  const page = await context.newPage();
  page.on('console', (m) => report.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => report.console.push(`pageerror: ${e.message}`));
  await page.goto(scenario.url);
  report.first = await settle(page, [first, 'problem']);
  await screenshot(page, label);
  if (report.first !== first) {
    report.messages.push(await visibleText(page, 'problem-text'));
    return null;
  }
  return page;
}

/**
 * Clicks `button` to save a document and records the outcome: the name the
 * browser suggested, where the file was kept (or why the browser dropped
 * it), the page's end state, and how the page saved (`via`: the Service
 * Worker stream or a Blob; `decryptedOn`: the decryption workers or the
 * page's own thread).
 */
async function save(page, button) {
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 120_000 }),
    button.click(),
  ]);
  report.suggestedName = download.suggestedFilename();
  const failure = await download.failure();
  if (failure) {
    report.downloadFailure = failure;
  } else {
    await download.saveAs(scenario.downloadTo);
    report.saved = scenario.downloadTo;
  }
  report.end = await settle(page, ['done', 'problem']);
  if (report.end === 'problem') report.messages.push(await visibleText(page, 'problem-text'));
  report.via = await page.locator('#done').getAttribute('data-via');
  report.decryptedOn = await page.locator('#done').getAttribute('data-decrypted-on');
}

async function link(context) {
  const page = await arrive(context, 'start', 'start');
  if (!page) return;
  await page.click('#continue');
  let state = await settle(page, ['passphrase-form', 'ready', 'problem']);
  for (const passphrase of scenario.passphrases || []) {
    if (state !== 'passphrase-form') break;
    await screenshot(page, 'passphrase');
    await page.fill('#passphrase', passphrase);
    await page.click('#passphrase-form button[type=submit]');
    // The busy state comes first; wait for the outcome.
    await page.waitForSelector('#busy:not([hidden])', { timeout: 5_000 }).catch(() => {});
    state = await settle(page, ['passphrase-form', 'ready', 'problem']);
    const problem = await visibleText(page, 'problem-text');
    report.messages.push(problem);
  }
  report.state = state;
  if (state === 'problem') {
    report.messages.push(await visibleText(page, 'problem-text'));
    await screenshot(page, 'problem');
    return;
  }
  if (state !== 'ready') return;
  report.fileName = await page.locator('#file-name').innerText();
  report.opensLeft = await page.locator('#opens-left').innerText();
  await screenshot(page, 'ready');
  if (!scenario.save) return;
  await save(page, page.locator('#save'));
  await screenshot(page, 'end');
}

const PORTAL_SECTIONS = ['login-form', 'busy', 'matters', 'documents', 'progress-box', 'done', 'uploaded', 'problem'];

async function visibleSections(page) {
  const visible = [];
  for (const id of PORTAL_SECTIONS) {
    if (await page.locator(`#${id}`).isVisible()) visible.push(id);
  }
  return visible;
}

async function portal(context) {
  const page = await arrive(context, 'login-form', 'login');
  if (!page) return;
  report.attempts = [];
  let state = 'login-form';
  for (const [i, password] of (scenario.passwords || []).entries()) {
    await page.fill('#login-name', scenario.login);
    await page.fill('#password', password);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#busy:not([hidden])', { timeout: 5_000 }).catch(() => {});
    state = await settle(page, ['matters', 'login-form', 'problem']);
    const attempt = {
      state,
      message: await visibleText(page, 'problem-text'),
      visible: await visibleSections(page),
      who: await visibleText(page, 'who-name'),
      passwordField: await page.locator('#password').inputValue(),
    };
    report.attempts.push(attempt);
    await screenshot(page, `attempt-${i + 1}`);
    if (state === 'matters') break;
  }
  report.state = state;
  if (state !== 'matters') return;
  report.storage = await page.evaluate(() => localStorage.length + sessionStorage.length);
  report.matters = await page.locator('#matter-list button').evaluateAll((els) => els.map((e) => e.dataset.matter));
  await screenshot(page, 'matters');
  const matter = scenario.matter ? `#matter-list button[data-matter="${scenario.matter}"]` : '#matter-list button';
  await page.locator(matter).first().click();
  report.state = await settle(page, ['documents', 'problem']);
  if (report.state !== 'documents') {
    report.messages.push(await visibleText(page, 'problem-text'));
    return;
  }
  report.documents = await page.locator('#document-list .file-name').allInnerTexts();
  await screenshot(page, 'documents');
  if (scenario.upload) await uploadFile(page);
  if (!scenario.save) return;
  const row = page.locator('#document-list li').filter({ has: page.locator('.file-name', { hasText: scenario.save }) });
  await save(page, row.locator('button.save'));
  report.progress = await page.locator('#progress').evaluate((e) => e.value);
  await screenshot(page, 'end');
}

/** The listed document row whose file name is `name`. */
function documentRow(page, name) {
  return page.locator('#document-list li').filter({ has: page.locator('.file-name', { hasText: name }) });
}

/**
 * Clicks "Upload a document" (or, with `scenario.uploadVersionOf`, that
 * document's "New version"), chooses `scenario.upload` (a path) in the
 * file picker, and records the outcome: the end state, the bar, the listed
 * documents after, and the id and details of the row that bears the
 * file's name.
 */
async function uploadFile(page) {
  const button = scenario.uploadVersionOf
    ? documentRow(page, scenario.uploadVersionOf).locator('button.new-version')
    : page.locator('#upload');
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), button.click()]);
  await chooser.setFiles(scenario.upload);
  report.uploadEnd = await settle(page, ['uploaded', 'problem']);
  report.uploadProgress = await page.locator('#progress').evaluate((e) => e.value);
  if (report.uploadEnd === 'problem') {
    report.messages.push(await visibleText(page, 'problem-text'));
    return;
  }
  report.documents = await page.locator('#document-list .file-name').allInnerTexts();
  const row = documentRow(page, scenario.upload.split('/').pop()).first();
  report.uploaded = await row.getAttribute('data-document');
  report.uploadedDetails = await row.locator('.meta').innerText();
  report.uploadedWho = await visibleText(page, 'uploaded-who');
  await screenshot(page, 'uploaded');
}

// ---------------------------------------------------------------------------
// The portal's sharing screens (tests/tests/portal_sharing.rs).
//   { "kind": "sharing", "url": "http://…/", "login": "name", "password": "…",
//     "matter": "<hex id>", "steps": [step, …], "viewport": …, "screenshots": …, "name": … }
// A step: { "do": "grant", "document": "File.pdf", "member": "<key hex>", "rights": ["view", …] }
//         { "do": "link", "document": …, "days": 7, "maxOpens": 3, "passphrase": "…", "claimOnce": false }
//         { "do": "revoke-link", "document": …, "link": "<id hex>" }
//         { "do": "revoke-grant", "document": …, "member": "<key hex>" }
//         { "do": "activity", "document": … }

// A problem shows over the sharing screen: name it first.
const SHARING_END = ['problem', 'sharing'];

async function signInOnce(page) {
  await page.fill('#login-name', scenario.login);
  await page.fill('#password', scenario.password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#busy:not([hidden])', { timeout: 5_000 }).catch(() => {});
  return settle(page, ['matters', 'login-form', 'problem']);
}

/** Waits for the busy state a click starts to end, and names the outcome. */
async function afterClick(page, states) {
  await page.waitForSelector('#busy:not([hidden])', { timeout: 2_000 }).catch(() => {});
  return settle(page, states);
}

async function openDocumentPanel(page, document, panel) {
  if (await page.locator('#sharing').isVisible()) {
    await page.click('#sharing-back');
    await afterClick(page, ['documents', 'problem']);
  }
  const row = page.locator('#document-list li').filter({ has: page.locator('.file-name', { hasText: document }) });
  await row.locator(`button.${panel}`).click();
  return afterClick(page, SHARING_END);
}

async function sharingState(page, result) {
  result.problem = await visibleText(page, 'problem-text');
  result.done = await visibleText(page, 'share-done');
  result.grants = await page.locator('#grant-list li').evaluateAll((els) => els.map((e) => ({ grantee: e.dataset.grantee, state: e.dataset.state, text: e.innerText })));
  result.links = await page.locator('#link-list li').evaluateAll((els) => els.map((e) => ({ id: e.dataset.link, state: e.dataset.state, text: e.innerText })));
  result.events = await page.locator('#event-list li').evaluateAll((els) => els.map((e) => ({ kind: e.dataset.kind, actor: e.dataset.actor, text: e.innerText })));
  result.members = await page.locator('#share-member option').evaluateAll((els) => els.map((e) => e.value));
}

async function sharingStep(page, step, i) {
  const result = { do: step.do };
  const panel = { grant: 'share', 'revoke-grant': 'share', link: 'links', 'revoke-link': 'links', activity: 'activity' }[step.do];
  result.state = await openDocumentPanel(page, step.document, panel);
  if (result.state === 'sharing') {
    if (step.do === 'grant') {
      await page.selectOption('#share-member', step.member);
      for (const box of await page.locator('#share-form input[name=right]').all()) {
        await box.setChecked((step.rights || ['view', 'download']).includes(await box.getAttribute('value')));
      }
      await screenshot(page, `${i}-grant-form`);
      await page.click('#share-form button[type=submit]');
      result.state = await afterClick(page, SHARING_END);
    } else if (step.do === 'revoke-grant') {
      await page.locator(`#grant-list li[data-grantee="${step.member}"] button.revoke`).first().click();
      result.state = await afterClick(page, SHARING_END);
    } else if (step.do === 'link') {
      await page.fill('#link-days', String(step.days || 7));
      await page.fill('#link-max-opens', step.maxOpens ? String(step.maxOpens) : '');
      await page.fill('#link-passphrase', step.passphrase || '');
      await page.setChecked('#link-claim-once', Boolean(step.claimOnce));
      await screenshot(page, `${i}-link-form`);
      await page.click('#link-form button[type=submit]');
      result.state = await afterClick(page, SHARING_END);
      if (await page.locator('#link-created').isVisible()) {
        result.url = await page.locator('#link-url').inputValue();
        await page.click('#copy-link');
        result.copied = await page.waitForSelector('#copied:not([hidden])', { timeout: 5_000 }).then(() => true, () => false);
      }
    } else if (step.do === 'revoke-link') {
      await page.locator(`#link-list li[data-link="${step.link}"] button.revoke`).click();
      result.state = await afterClick(page, SHARING_END);
    }
  }
  await sharingState(page, result);
  if (result.problem) report.messages.push(result.problem);
  await screenshot(page, `${i}-${step.do}`);
  return result;
}

async function sharing(context) {
  const page = await arrive(context, 'login-form', 'login');
  if (!page) return;
  report.state = await signInOnce(page);
  if (report.state !== 'matters') {
    report.messages.push(await visibleText(page, 'problem-text'));
    return;
  }
  await page.locator(`#matter-list button[data-matter="${scenario.matter}"]`).click();
  report.state = await settle(page, ['documents', 'problem']);
  if (report.state !== 'documents') {
    report.messages.push(await visibleText(page, 'problem-text'));
    return;
  }
  await screenshot(page, 'documents');
  report.steps = [];
  for (const [i, step] of scenario.steps.entries()) {
    report.steps.push(await sharingStep(page, step, i + 1));
  }
  report.storage = await page.evaluate(() => Object.fromEntries(Object.entries(localStorage)));
}

const viewport = scenario.viewport === 'desktop' ? DESKTOP : PHONE;
const context = await launch(viewport);
context.on('response', (response) => {
  report.responses.push({ url: response.url(), status: response.status() });
});
context.on('request', (request) => {
  report.requests.push({
    url: request.url(),
    method: request.method(),
    headers: request.headers(),
    body: request.postDataBuffer() ? request.postDataBuffer().toString('base64') : null,
  });
});
try {
  if (scenario.kind === 'link') await link(context);
  else if (scenario.kind === 'portal') await portal(context);
  else if (scenario.kind === 'sharing') await sharing(context);
  else throw new Error(`unknown scenario ${scenario.kind}`);
} catch (e) {
  report.error = String(e && e.stack ? e.stack : e);
} finally {
  await close(context);
}
process.stdout.write(JSON.stringify(report));
