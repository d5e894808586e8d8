/**
 * The console's static assets (controller/assets/: the stylesheet, the client script, the icon),
 * read once at start and served with an ETag; no session needed.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { securityHeaders, sendHtml } from './console-http.ts';
import { errorPage } from './views/layout.ts';

export interface Asset {
  readonly body: Buffer;
  readonly etag: string;
  readonly type: string;
}

const assetsDir = new URL('../../assets/', import.meta.url);
const assetTypes: Readonly<Record<string, string>> = {
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

/** Reads every asset. */
export async function loadAssets(): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const [name, type] of Object.entries(assetTypes)) {
    const body = await readFile(new URL(name, assetsDir));
    assets.set(name, {
      body,
      type,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    });
  }
  return assets;
}

/** GET/HEAD /assets/<name>: 304 when the browser's copy is current. */
export function serveAsset(
  req: IncomingMessage,
  res: ServerResponse,
  assets: ReadonlyMap<string, Asset>,
  name: string,
): void {
  const a = assets.get(name);
  if (!a) {
    sendHtml(res, 404, errorPage(undefined, 'Not found', 'no such asset'));
    return;
  }
  const headers = { ...securityHeaders, 'content-type': a.type, etag: a.etag, 'cache-control': 'no-cache' };
  if (req.headers['if-none-match'] === a.etag) {
    res.writeHead(304, headers);
    res.end();
  } else {
    res.writeHead(200, { ...headers, 'content-length': String(a.body.length) });
    res.end(req.method === 'HEAD' ? undefined : a.body);
  }
}
