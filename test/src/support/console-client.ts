/**
 * A plain HTTPS client for the console tests that do not need a browser: it trusts the test CA,
 * keeps the session cookie it is given, and sends exactly the headers a test asks for (so a
 * test can forge what a hostile page would send).
 */
import { request } from 'node:https';

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export class ConsoleClient {
  readonly base: string;
  readonly #ca: Buffer;
  cookie = '';

  constructor(base: string, ca: Buffer) {
    this.base = base;
    this.#ca = ca;
  }

  /** The same-origin headers a browser sends on a form post. */
  get sameOrigin(): Record<string, string> {
    return { origin: this.base, 'sec-fetch-site': 'same-origin' };
  }

  send(
    method: string,
    path: string,
    o: { headers?: Record<string, string>; form?: Record<string, string>; body?: string } = {},
  ): Promise<Reply> {
    const body = o.form ? new URLSearchParams(o.form).toString() : o.body;
    const headers: Record<string, string> = {
      ...(this.cookie && { cookie: this.cookie }),
      ...(o.form && { 'content-type': 'application/x-www-form-urlencoded' }),
      ...o.headers,
    };
    return new Promise((resolve, reject) => {
      const req = request(`${this.base}${path}`, { method, headers, ca: this.#ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
    return this.send('GET', path, { headers });
  }

  /** Signs in with `token`; keeps the session cookie. Returns the reply of the sign-in post. */
  async signIn(token: string): Promise<Reply> {
    const r = await this.send('POST', '/login', { headers: this.sameOrigin, form: { token, next: '/' } });
    const set = r.headers['set-cookie'];
    const c = (Array.isArray(set) ? set[0] : set)?.split(';')[0];
    if (r.status === 303 && c) this.cookie = c;
    return r;
  }

  /** The CSRF token of the signed-in session (from the sign-out form of any page). */
  async csrf(): Promise<string> {
    const r = await this.get('/');
    const m = /name="_csrf" value="([^"]+)"/.exec(r.body);
    if (!m?.[1]) throw new Error(`no CSRF token on the overview (status ${r.status})`);
    return m[1];
  }
}
