/**
 * A real headless browser for the console tests: Debian's chromium driven by playwright-core
 * (which downloads no browser), with the launch flags of docs/engineering.md ("Machine facts") and a
 * fresh profile directory per context. The browser trusts exactly the controller's certificate
 * key (`--ignore-certificate-errors-spki-list`), not every certificate.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';

export const chromiumPath = process.env['LF_CHROMIUM'] ?? '/usr/bin/chromium';

export const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate, as Chromium's SPKI list wants it. */
export async function spkiHash(certFile: string): Promise<string> {
  const cert = new X509Certificate(await readFile(certFile));
  const der = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

export interface BrowserSession {
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

/** A browser with its own fresh profile, trusting the certificate in `certFile`. */
export async function openBrowser(
  certFile: string,
  o: { width?: number; height?: number } = {},
): Promise<BrowserSession> {
  const dir = await mkdtemp(join(tmpdir(), 'lf-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: chromiumPath,
      headless: true,
      args: [...chromiumFlags, `--ignore-certificate-errors-spki-list=${await spkiHash(certFile)}`],
      viewport: { width: o.width ?? 1440, height: o.height ?? 900 },
      timezoneId: 'Europe/Amsterdam',
      locale: 'en-GB',
    });
    const page = context.pages()[0] ?? (await context.newPage());
    return {
      context,
      page,
      close: async () => {
        await context.close().catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
