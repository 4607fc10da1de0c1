/** A browser, as far as the bench needs one: requests with a cookie jar, no redirects followed. */

export interface Page {
  status: number;
  body: string;
  location: string | undefined;
}

export class Browser {
  private readonly cookies = new Map<string, string>();

  constructor(private readonly origin: string) {}

  cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async get(path: string): Promise<Page> {
    return this.request('GET', path);
  }

  async post(path: string, form: Record<string, string | string[]>): Promise<Page> {
    const body = new URLSearchParams();
    for (const [key, value] of Object.entries(form)) {
      for (const item of Array.isArray(value) ? value : [value]) body.append(key, item);
    }
    return this.request('POST', path, body.toString());
  }

  private async request(method: string, path: string, body?: string): Promise<Page> {
    const headers: Record<string, string> = { accept: 'text/html' };
    const cookie = this.cookieHeader();
    if (cookie) headers.cookie = cookie;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(this.origin + path, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (pair && eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    return { status: response.status, body: await response.text(), location: response.headers.get('location') ?? undefined };
  }
}

/** The CSRF token of the page's form (ours and the reference both post it as `_csrf`). */
export function csrfTokenOf(html: string): string | undefined {
  const input = /<input[^>]*name="_csrf"[^>]*>/.exec(html)?.[0];
  return input ? /value="([^"]*)"/.exec(input)?.[1] : undefined;
}
