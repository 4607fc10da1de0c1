// Shared by the admin tests: an app with ADMIN_TOKEN against the fake Hydra, a bearer API
// caller, and a signed-in browser agent that sends CSRF tokens like the console's forms do.
import request from 'supertest';
import type { Express } from 'express';
import { expect } from 'vitest';
import type { ApiVersion } from '../../src/hydra/types.js';
import { buildTestApp, formFields, TEST_ADMIN_TOKEN, type TestApp } from '../support/test-app.js';

export { TEST_ADMIN_TOKEN };

export function adminApp(apiVersion: ApiVersion = 'v2', env: Record<string, string> = {}): Promise<TestApp> {
  return buildTestApp({ env: { ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...env }, hydra: { apiVersion } });
}

/** The JSON API as an operator's script calls it. */
export function api(app: Express) {
  const auth = (test: request.Test) => test.set('Authorization', `Bearer ${TEST_ADMIN_TOKEN}`).set('Accept', 'application/json');
  return {
    get: (path: string) => auth(request(app).get(path)),
    post: (path: string, body?: object | string) => auth(request(app).post(path)).send(body as object),
    put: (path: string, body?: object) => auth(request(app).put(path)).send(body),
    patch: (path: string, body?: object) => auth(request(app).patch(path)).send(body),
    delete: (path: string) => auth(request(app).delete(path)),
  };
}

export type Browser = Awaited<ReturnType<typeof signIn>>;

/** A browser agent signed in to the console through /admin/login. */
export async function signIn(app: Express) {
  const agent = request.agent(app);
  const login = await agent.get('/admin/login');
  expect(login.status).toBe(200);
  const signedIn = await agent.post('/admin/login').type('form').send({ _csrf: formFields(login.text).csrf, token: TEST_ADMIN_TOKEN });
  expect(signedIn.status).toBe(303);
  expect(signedIn.headers.location).toBe('/admin/clients');
  let csrf = '';
  const browser = {
    agent,
    /** GET a console page; remembers its CSRF token for the next form. */
    async get(path: string) {
      const res = await agent.get(path);
      const token = /name="_csrf" value="([^"]*)"/.exec(res.text)?.[1];
      if (token) csrf = token;
      return res;
    },
    /** POST a console form, with the CSRF token of the last page seen (or a fresh one). */
    async submit(path: string, fields: Record<string, string | string[] | undefined>) {
      if (!csrf) await browser.get('/admin/tokens');
      return agent.post(path).type('form').send({ _csrf: csrf, ...fields });
    },
  };
  return browser;
}

/** The hidden fields and target of the confirmation form on a confirm page. */
export function confirmForm(html: string): { action: string; method: string | undefined; fields: Record<string, string> } {
  const form = /<form method="post" action="([^"]*)" class="form confirm-form">([\s\S]*?)<\/form>/.exec(html);
  if (!form) throw new Error('no confirmation form on the page');
  const fields: Record<string, string> = {};
  for (const [, name, value] of form[2]!.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) fields[name!] = decodeEntities(value!);
  return { action: decodeEntities(form[1]!), method: fields._method, fields };
}

/** Undoes EJS's escaping of an attribute value (&amp; in URLs, mostly). */
export function decodeEntities(value: string): string {
  return value.replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The value of a textarea or input on a page, unescaped. */
export function fieldValue(html: string, id: string): string | undefined {
  const textarea = new RegExp(`<textarea[^>]*id="${id}"[^>]*>([\\s\\S]*?)</textarea>`).exec(html);
  if (textarea) return decodeEntities(textarea[1]!);
  const input = new RegExp(`<input[^>]*id="${id}"[^>]*value="([^"]*)"`).exec(html);
  return input ? decodeEntities(input[1]!) : undefined;
}

/** Parses `<url>; rel="x"` pairs. */
export function links(header: string | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const part of (header ?? '').split(',')) {
    const match = /<([^>]*)>\s*;\s*rel="(\w+)"/.exec(part.trim());
    if (match) result[match[2]!] = match[1]!;
  }
  return result;
}

/** Calls the fake recorded for a path suffix (the /admin prefix of v2 aside). */
export function hydraCalls(app: TestApp, method: string, suffix: string) {
  return app.hydra.calls.filter((call) => call.method === method && call.path.endsWith(suffix));
}
