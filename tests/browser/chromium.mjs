// Launching Debian's Chromium headless through playwright-core, with the
// flags this machine needs (no GPU, no sandbox as root, no background
// connections to Google's hosts, which the closed network refuses).
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
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
  return chromium.launchPersistentContext(profile, {
    executablePath: EXECUTABLE,
    headless: true,
    args: FLAGS,
    acceptDownloads: true,
    viewport,
    serviceWorkers: 'allow',
  });
}

export const PHONE = { width: 360, height: 640 };
export const DESKTOP = { width: 1280, height: 800 };
