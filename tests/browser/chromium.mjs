// Launching Debian's Chromium headless through playwright-core, with the
// flags this machine needs (no GPU, no sandbox as root, no background
// connections to Google's hosts, which the closed network refuses).
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const EXECUTABLE = process.env.LEXVAULT_CHROMIUM || '/usr/bin/chromium';

export const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A fresh persistent profile, so Service Workers and localStorage behave as in a real browser. */
export async function launch(viewport) {
  const profile = mkdtempSync(join(tmpdir(), 'lexvault-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: EXECUTABLE,
    headless: true,
    args: FLAGS,
    acceptDownloads: true,
    viewport,
    serviceWorkers: 'allow',
  });
  // Every process of this browser has the profile in its command line.
  context.profileDir = profile;
  return context;
}

/** Closes the browser and removes its profile. */
export async function close(context) {
  await context.close();
  rmSync(context.profileDir, { recursive: true, force: true });
}

/** The resident memory of every process of `context`'s browser, in bytes. */
export function browserRss(context) {
  const out = execFileSync('ps', ['-eo', 'rss=,args='], { encoding: 'utf8', maxBuffer: 16 << 20 });
  let kib = 0;
  for (const line of out.split('\n')) {
    if (line.includes(context.profileDir)) kib += parseInt(line.trim().split(/\s+/)[0], 10) || 0;
  }
  return kib * 1024;
}

export const PHONE = { width: 360, height: 640 };
export const DESKTOP = { width: 1280, height: 800 };
