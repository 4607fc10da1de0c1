import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopeBoxes } from '../../src/flows/consent.js';
import { loadConfig } from '../../src/config.js';
import { agentWithForm, buildTestApp, type TestApp } from '../support/test-app.js';

const FOO_CLAIMS_ALL = {
  email: 'foo@bar.com',
  email_verified: true,
  name: 'Foo Bar',
  given_name: 'Foo',
  family_name: 'Bar',
  preferred_username: 'foo',
};

describe('consent flow', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ env: { CONSENT_REMEMBER_FOR: '600' } });
  });
  afterAll(() => t.close());

  it('answers 400 on a missing challenge', async () => {
    const res = await request(t.app).get('/consent');
    expect(res.status).toBe(400);
    expect(res.text).toContain('consent_challenge');
  });

  it('renders each requested scope unticked (the default) with its description, the audience and the client links', async () => {
    const challenge = t.hydra.addConsentRequest({
      requested_scope: ['openid', 'email', 'custom:read'],
      requested_access_token_audience: ['https://api.example.com'],
      client: {
        client_id: 'c1',
        client_name: 'Example CRM',
        client_uri: 'https://crm.example.com',
        policy_uri: 'https://crm.example.com/privacy',
        tos_uri: 'https://crm.example.com/tos',
        logo_uri: 'https://crm.example.com/logo.png',
      },
    });
    const res = await request(t.app).get(`/consent?consent_challenge=${challenge}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('An application requests access to your data!');
    for (const scope of ['openid', 'email', 'custom:read']) {
      expect(res.text).toContain(`<input type="checkbox" id="${scope}" name="grant_scope" value="${scope}">`);
    }
    expect(res.text).toContain('See your email address');
    expect(res.text).toContain('https://api.example.com');
    expect(res.text).toContain('href="https://crm.example.com/privacy"');
    expect(res.text).toContain('href="https://crm.example.com/tos"');
    expect(res.text).toContain('src="https://crm.example.com/logo.png"');
    for (const id of ['id="remember"', 'id="accept"', 'id="reject"']) expect(res.text).toContain(id);
  });

  it('escapes hostile client metadata and drops non-http(s) links and logos', async () => {
    const challenge = t.hydra.addConsentRequest({
      client: {
        client_id: 'evil',
        client_name: '<script>alert(1)</script>"><img src=x onerror=alert(2)>',
        logo_uri: 'javascript:alert(3)',
        client_uri: 'javascript:alert(4)',
        policy_uri: 'data:text/html,<script>alert(5)</script>',
        tos_uri: 'vbscript:msgbox(6)',
      },
    });
    const res = await request(t.app).get(`/consent?consent_challenge=${challenge}`);
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('<script>alert(1)');
    expect(res.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(res.text).not.toMatch(/javascript:|data:text|vbscript:/);
  });

  it('skips the screen when Hydra says skip, granting the requested scopes and audience with the same claims', async () => {
    const challenge = t.hydra.addConsentRequest({
      skip: true,
      requested_scope: ['openid', 'email', 'profile'],
      requested_access_token_audience: ['https://api.example.com'],
    });
    const res = await request(t.app).get(`/consent?consent_challenge=${challenge}`);
    expect(res.status).toBe(302);
    expect(res.headers.location).toContain('consent_verifier=');
    const { body } = t.hydra.accepted.consent.at(-1)!;
    expect(body.grant_scope).toEqual(['openid', 'email', 'profile']);
    expect(body.grant_access_token_audience).toEqual(['https://api.example.com']);
    expect(body.session.id_token).toEqual(FOO_CLAIMS_ALL);
    expect(body).not.toHaveProperty('remember');
  });

  it('skips the screen for a client with skip_consent', async () => {
    const challenge = t.hydra.addConsentRequest({
      requested_scope: ['openid', 'email'],
      client: { client_id: 'first-party', skip_consent: true },
    });
    const res = await request(t.app).get(`/consent?consent_challenge=${challenge}`);
    expect(res.status).toBe(302);
    const { body } = t.hydra.accepted.consent.at(-1)!;
    expect(body.grant_scope).toEqual(['openid', 'email']);
    expect(body.session.id_token).toEqual({ email: 'foo@bar.com', email_verified: true });
  });

  it('grants what was ticked and requested, never more, with claims by granted scope and remember', async () => {
    const challenge = t.hydra.addConsentRequest({
      requested_scope: ['openid', 'email', 'profile'],
      requested_access_token_audience: ['aud-1'],
    });
    const { agent, csrf } = await agentWithForm(t.app, `/consent?consent_challenge=${challenge}`);
    const res = await agent
      .post('/consent')
      .type('form')
      .send(`_csrf=${csrf}&challenge=${challenge}&grant_scope=openid&grant_scope=email&grant_scope=admin&remember=1&action=accept`);
    expect(res.status).toBe(302);
    const { body } = t.hydra.accepted.consent.at(-1)!;
    expect(body).toEqual({
      grant_scope: ['openid', 'email'],
      grant_access_token_audience: ['aud-1'],
      remember: true,
      remember_for: 600,
      session: { access_token: {}, id_token: { email: 'foo@bar.com', email_verified: true } },
    });
  });

  it('sends an empty grant, never [null], when nothing is ticked', async () => {
    const challenge = t.hydra.addConsentRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/consent?consent_challenge=${challenge}`);
    await agent.post('/consent').type('form').send({ _csrf: csrf, challenge, action: 'accept' });
    const { body } = t.hydra.accepted.consent.at(-1)!;
    expect(body.grant_scope).toEqual([]);
    expect(body.remember).toBe(false);
    expect(body.session.id_token).toEqual({});
  });

  it('ignores non-string grant_scope values instead of failing', async () => {
    const challenge = t.hydra.addConsentRequest({ requested_scope: ['openid'] });
    const { agent, csrf } = await agentWithForm(t.app, `/consent?consent_challenge=${challenge}`);
    const res = await agent
      .post('/consent')
      .type('form')
      .send(`_csrf=${csrf}&challenge=${challenge}&grant_scope[]=openid&grant_scope[x]=y`);
    expect(res.status).toBe(302);
    expect(t.hydra.accepted.consent.at(-1)!.body.grant_scope).toEqual([]);
  });

  it('rejects with access_denied on deny', async () => {
    const challenge = t.hydra.addConsentRequest();
    const { agent, csrf } = await agentWithForm(t.app, `/consent?consent_challenge=${challenge}`);
    const res = await agent.post('/consent').type('form').send({ _csrf: csrf, challenge, action: 'reject' });
    expect(res.status).toBe(302);
    expect(t.hydra.rejected.consent.at(-1)).toEqual({
      challenge,
      body: { error: 'access_denied', error_description: 'The resource owner denied the request' },
    });
  });

  it('refuses a consent POST without CSRF', async () => {
    const challenge = t.hydra.addConsentRequest();
    const before = t.hydra.accepted.consent.length;
    const res = await request(t.app).post('/consent').type('form').send({ challenge, grant_scope: 'openid' });
    expect(res.status).toBe(403);
    expect(t.hydra.accepted.consent.length).toBe(before);
  });
});

/** The scope checkboxes of a consent page: id, value, ticked; and which element each label is for. */
function checkboxes(html: string) {
  const boxes = [...html.matchAll(/<input type="checkbox" id="([^"]*)" name="(grant_scope|remember)" value="([^"]*)"( checked)?>/g)]
    .map(([, id, name, value, checked]) => ({ id: id!, name: name!, value: value!, checked: Boolean(checked) }));
  const labels = [...html.matchAll(/<label for="([^"]*)">([\s\S]*?)<\/label>/g)].map(([, id, text]) => ({ for: id!, text: text! }));
  const ids = [...html.matchAll(/\sid="([^"]*)"/g)].map(([, id]) => id!);
  return { boxes, labels, ids };
}

describe('consent: CONSENT_PRESELECT_SCOPES', () => {
  const requested = ['openid', 'offline_access', 'email'];

  it('by default leaves every box unticked: a person grants a scope by ticking it, and nothing ticked grants nothing', async () => {
    const t = await buildTestApp();
    try {
      const challenge = t.hydra.addConsentRequest({ requested_scope: requested });
      const { agent, csrf, page } = await agentWithForm(t.app, `/consent?consent_challenge=${challenge}`);
      const { boxes } = checkboxes(page.text);
      expect(boxes.filter((box) => box.name === 'grant_scope').map((box) => [box.id, box.checked])).toEqual(requested.map((scope) => [scope, false]));
      expect(boxes.find((box) => box.name === 'remember')?.checked).toBe(false);
      // What the browser sends for that page untouched: no grant_scope at all.
      await agent.post('/consent').type('form').send({ _csrf: csrf, challenge, action: 'accept' });
      expect(t.hydra.accepted.consent.at(-1)!.body.grant_scope).toEqual([]);
      expect(t.hydra.accepted.consent.at(-1)!.body.session.id_token).toEqual({});
    } finally {
      await t.close();
    }
  });

  it('with CONSENT_PRESELECT_SCOPES=true ticks every box, and the untouched page grants them all', async () => {
    const t = await buildTestApp({ env: { CONSENT_PRESELECT_SCOPES: 'true' } });
    try {
      expect(t.deps.config.consentPreselectScopes).toBe(true);
      const challenge = t.hydra.addConsentRequest({ requested_scope: requested });
      const { agent, csrf, page } = await agentWithForm(t.app, `/consent?consent_challenge=${challenge}`);
      const { boxes } = checkboxes(page.text);
      const scopes = boxes.filter((box) => box.name === 'grant_scope');
      expect(scopes.map((box) => [box.id, box.checked])).toEqual(requested.map((scope) => [scope, true]));
      // Remember is never preselected.
      expect(boxes.find((box) => box.name === 'remember')?.checked).toBe(false);
      await agent.post('/consent').type('form').send({ _csrf: csrf, challenge, action: 'accept', grant_scope: scopes.filter((b) => b.checked).map((b) => b.value) });
      expect(t.hydra.accepted.consent.at(-1)!.body.grant_scope).toEqual(requested);
    } finally {
      await t.close();
    }
  });

  it('reads the variable strictly: false, 0 and unset leave the boxes unticked; anything else stops start-up', async () => {
    const env = { HYDRA_ADMIN_URL: 'http://127.0.0.1:4445' };
    for (const value of [undefined, '', 'false', '0', 'no']) {
      expect(loadConfig({ ...env, CONSENT_PRESELECT_SCOPES: value }).config.consentPreselectScopes, String(value)).toBe(false);
    }
    for (const value of ['true', '1', 'yes']) expect(loadConfig({ ...env, CONSENT_PRESELECT_SCOPES: value }).config.consentPreselectScopes).toBe(true);
    expect(() => loadConfig({ ...env, CONSENT_PRESELECT_SCOPES: 'sometimes' })).toThrow(/CONSENT_PRESELECT_SCOPES/);
  });
});

describe('consent: scope checkbox ids', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  it('keeps #<scope> for each scope, and gives a scope that would collide with a page id or another scope an id of its own', async () => {
    const requested = ['openid', 'remember', 'accept', 'reject', 'challenge', '_csrf', 'main', 'heading', 'scope-remember', 'email', 'email'];
    const challenge = t.hydra.addConsentRequest({ requested_scope: requested });
    const res = await request(t.app).get(`/consent?consent_challenge=${challenge}`);
    expect(res.status).toBe(200);
    const { boxes, labels, ids } = checkboxes(res.text);
    // Every element id on the page is unique.
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ['remember', 'accept', 'reject', 'heading', 'main']) expect(ids.filter((x) => x === id)).toHaveLength(1);
    const byValue = new Map(boxes.filter((box) => box.name === 'grant_scope').map((box) => [box.value, box.id]));
    // Each scope once (email was requested twice), in order.
    expect([...byValue.keys()]).toEqual([...new Set(requested)]);
    // Hydra's browser suite clicks #openid, #email…: those keep their ids.
    expect(byValue.get('openid')).toBe('openid');
    expect(byValue.get('email')).toBe('email');
    expect(byValue.get('scope-remember')).toBe('scope-remember');
    // The colliding ones are renamed, without taking another scope's id.
    expect(byValue.get('remember')).toBe('scope-remember-2');
    expect(byValue.get('accept')).toBe('scope-accept');
    expect(byValue.get('_csrf')).toBe('scope-_csrf');
    // The "Remember this decision" label ticks Remember, not the scope named remember.
    const rememberLabel = labels.find((label) => label.text.includes('Remember this decision'))!;
    expect(rememberLabel.for).toBe('remember');
    expect(boxes.find((box) => box.id === 'remember')?.name).toBe('remember');
    // Each scope's label points at its own box.
    for (const [value, id] of byValue) expect(labels.find((label) => label.for === id)?.text, value).toContain(`<code class="scope-name">${value}</code>`);
    // The submit buttons keep their ids.
    expect(res.text).toContain('id="accept" name="action" value="accept"');
    expect(res.text).toContain('id="reject" name="action" value="reject"');
  });

  it('scopeBoxes: a scope that is not a usable id (spaces) is renamed; the value is always the scope itself', () => {
    const boxes = scopeBoxes(['a b', 'scope-a_b', 'x'], false);
    expect(boxes.map((box) => [box.name, box.id])).toEqual([['a b', 'scope-a_b-2'], ['scope-a_b', 'scope-a_b'], ['x', 'x']]);
  });
});
