// "Forgot password?" and the one-time set-password page, through createApp with the real SQL
// store (temporary SQLite file) and a REAL SMTP server in a child process of its own
// (test/support/smtp-server.ts): nodemailer speaks SMTP over TCP to it, and the test reads
// the messages it wrote to disk. No stubbed transport.
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { smtpMailer } from '../../src/account/smtp.js';
import { RESET_MAILS_PER_ADDRESS } from '../../src/account/reset.js';
import { startSmtpServer, type CapturedMail, type SmtpServer } from '../support/smtp-server.js';
import { formFields } from '../support/test-app.js';
import { accountApp, BASE_URL, PASSWORD, test as by, type AccountApp } from './support.js';

const FROM = 'Sign-in <no-reply@login.example.com>';
const NEW_PASSWORD = 'another long passphrase, chosen by link';

let smtp: SmtpServer;
let t: AccountApp | undefined;
beforeAll(async () => {
  smtp = await startSmtpServer();
});
afterAll(async () => {
  await smtp?.close();
});
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** The app with "Forgot password?" mailing through the real SMTP server, with AUTH. */
async function mailingApp(env: Record<string, string> = {}) {
  const url = smtp.urlWithAuth('mailer', 'mail-password');
  return accountApp({ env: { SMTP_URL: url, MAIL_FROM: FROM, ...env }, deps: { mailer: smtpMailer({ url, from: FROM, timeoutMs: 5000 }) } });
}

function linkIn(mail: CapturedMail): URL {
  const match = /https?:\/\/\S+\/account\/set-password\?token=[A-Za-z0-9_%-]+/.exec(mail.text);
  if (!match) throw new Error(`no link in:\n${mail.raw}`);
  return new URL(match[0]);
}

/** Posts the forgot form from a fresh page; returns the answer and how long it took. */
async function askForLink(app: AccountApp, email: string, agent = request.agent(app.app)) {
  const page = await agent.get('/account/forgot');
  expect(page.status).toBe(200);
  const started = performance.now();
  const res = await agent.post('/account/forgot').type('form').send({ _csrf: formFields(page.text).csrf, email });
  return { res, ms: performance.now() - started };
}

const mailsSoFar = async () => (await smtp.messages()).length;

describe('the login page', () => {
  it('links "Forgot password?" only when mail can be sent', async () => {
    t = await accountApp();
    const challenge = t.hydra.addLoginRequest();
    expect((await request(t.app).get(`/login?login_challenge=${challenge}`)).text).not.toContain('id="forgot-password"');
    expect((await request(t.app).get('/account/forgot')).status).toBe(404);
    await t.close();
    t = await mailingApp();
    const again = t.hydra.addLoginRequest();
    const page = await request(t.app).get(`/login?login_challenge=${again}`);
    expect(page.text).toContain('<a id="forgot-password" href="/account/forgot">Forgot password?</a>');
    // The ids Hydra's browser suite relies on are still there.
    for (const id of ['email', 'password', 'remember', 'accept', 'reject']) expect(page.text).toContain(`id="${id}"`);
  });
});

describe('forgot password', () => {
  it('mails a one-time link through SMTP (with AUTH); the link sets a new password once', async () => {
    t = await mailingApp();
    const user = await t.store.create({ email: 'Bob@Example.com', password: PASSWORD, profile: { name: 'Bob' } }, by);
    const before = await mailsSoFar();
    const { res } = await askForLink(t, '  bob@example.COM ');
    expect(res.status).toBe(200);
    expect(res.text).toContain('If an account uses that address');
    const mail = (await smtp.waitForMessages(before + 1)).at(-1)!;
    expect(mail.to.map((a) => a.toLowerCase())).toEqual(['bob@example.com']);
    expect(mail.headers.to).toContain('Bob@'); // to the address as the account has it
    expect(mail.from).toBe('no-reply@login.example.com');
    expect(mail.user).toBe('mailer');
    expect(mail.headers.subject).toBe('Set a new password');
    expect(mail.headers.from).toBe('"Sign-in" <no-reply@login.example.com>');
    const link = linkIn(mail);
    expect(link.origin).toBe(BASE_URL);
    expect(mail.text).toContain('for 1 hour');

    const agent = request.agent(t.app);
    const form = await agent.get(link.pathname + link.search);
    expect(form.status).toBe(200);
    expect(form.text).toContain('Bob@Example.com');
    const fields = formFields(form.text);
    const token = link.searchParams.get('token')!;

    // A refused password leaves the link working.
    const common = await agent.post('/account/set-password').type('form').send({ _csrf: fields.csrf, token, password: 'password1', confirm_password: 'password1' });
    expect(common.status).toBe(400);
    expect(common.text).toContain('too common');
    const mismatch = await agent.post('/account/set-password').type('form').send({ _csrf: formFields(common.text).csrf, token, password: NEW_PASSWORD, confirm_password: 'nope' });
    expect(mismatch.status).toBe(400);

    const done = await agent.post('/account/set-password').type('form').send({ _csrf: formFields(mismatch.text).csrf, token, password: NEW_PASSWORD, confirm_password: NEW_PASSWORD });
    expect(done.status).toBe(200);
    expect(done.text).toContain('Your password is set');
    expect(await t.store.verifyCredentials('bob@example.com', PASSWORD)).toBeUndefined();
    expect((await t.store.verifyCredentials('bob@example.com', NEW_PASSWORD))?.subject).toBe(user.subject);
    // A reset ends the person's sign-ins at Hydra too.
    expect(t.hydra.state.loginSessionsRevoked).toEqual([user.subject]);

    // Used: the same link (GET or POST) is a clear 410 page that offers a new one.
    const reused = await request(t.app).get(link.pathname + link.search);
    expect(reused.status).toBe(410);
    expect(reused.text).toContain('This link no longer works');
    expect(reused.text).toContain('href="/account/forgot"');
    const replay = await agent.post('/account/set-password').type('form').send({ _csrf: formFields(mismatch.text).csrf, token, password: 'yet another passphrase here', confirm_password: 'yet another passphrase here' });
    expect(replay.status).toBe(410);
    expect((await t.store.verifyCredentials('bob@example.com', NEW_PASSWORD))?.subject).toBe(user.subject);
    const actions = (await t.store.auditTrail(user.id)).items.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['token.created', 'token.used', 'password.changed']));
  });

  it('answers an unknown address with the same page, as fast, and sends nothing', async () => {
    t = await mailingApp();
    await t.store.create({ email: 'carol@example.com', password: PASSWORD }, by);
    const strip = (html: string) => html.replace(/name="_csrf" value="[^"]*"/g, '');
    // Warm up (first render, first query), then compare like with like.
    await askForLink(t, 'warm-up@example.com');
    await smtp.waitForMessages(0);
    const before = await mailsSoFar();
    const known = await askForLink(t, 'carol@example.com');
    const unknown = await askForLink(t, 'nobody@example.com');
    expect(unknown.res.status).toBe(known.res.status);
    expect(strip(unknown.res.text)).toBe(strip(known.res.text));
    // The answer comes before the database or the mail server is asked: neither time depends on them.
    expect(known.ms).toBeLessThan(250);
    expect(unknown.ms).toBeLessThan(250);
    const after = await smtp.waitForMessages(before + 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const arrived = (await smtp.messages()).slice(before);
    expect(arrived.map((m) => m.to)).toEqual([['carol@example.com']]);
    expect(after.length).toBe(before + 1);
  });

  it('sends nothing for a disabled account, and refuses what is not an address (400)', async () => {
    t = await mailingApp();
    const user = await t.store.create({ email: 'dave@example.com', password: PASSWORD }, by);
    await t.store.setDisabled(user.id, true, by);
    const before = await mailsSoFar();
    expect((await askForLink(t, 'dave@example.com')).res.status).toBe(200);
    const bad = await askForLink(t, 'not an address');
    expect(bad.res.status).toBe(400);
    expect(bad.res.text).toContain('Enter the email address of your account.');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await mailsSoFar()).toBe(before);
  });

  it(`limits requests per address (${RESET_MAILS_PER_ADDRESS} a window, known or not) and per IP, with Retry-After`, async () => {
    t = await mailingApp({ LOGIN_RATE_LIMIT_PER_IP: '6' });
    const statuses: number[] = [];
    for (let i = 0; i <= RESET_MAILS_PER_ADDRESS; i++) statuses.push((await askForLink(t, 'target@example.com')).res.status);
    expect(statuses).toEqual([...Array(RESET_MAILS_PER_ADDRESS).fill(200), 429]);
    const last = await askForLink(t, 'TARGET@example.com');
    expect(last.res.status).toBe(429);
    expect(last.res.headers['retry-after']).toMatch(/^\d+$/);
    expect(last.res.text).toContain('Too many requests for a new password');
    // Per IP: other addresses, same client. Five requests so far (429s count too): the sixth
    // is the last of the IP's budget of 6, whatever the address.
    const more = [];
    for (let i = 0; i < 2; i++) more.push((await askForLink(t, `other-${i}@example.com`)).res.status);
    expect(more).toEqual([200, 429]);
  });

  it('is refused without the CSRF token', async () => {
    t = await mailingApp();
    const res = await request(t.app).post('/account/forgot').type('form').send({ email: 'x@example.com' });
    expect(res.status).toBe(403);
  });
});

describe('set-password links from an administrator', () => {
  it('work without SMTP and without the signed-in area; expired and superseded links get the clear page', async () => {
    t = await accountApp({ oidc: false });
    expect(t.deps.config.account).toBeUndefined();
    const user = await t.store.create({ email: 'erin@example.com' }, { actor: 'admin' });
    expect(user.has_password).toBe(false);

    const first = await t.store.createToken(user.id, 'set-password', 3600, { actor: 'admin' });
    const second = await t.store.createToken(user.id, 'set-password', 3600, { actor: 'admin' });
    // Only the newest link works.
    const superseded = await request(t.app).get(`/account/set-password?token=${first.token}`);
    expect(superseded.status).toBe(410);
    expect(superseded.text).toContain('Ask the people who run this service for a new one.');

    const agent = request.agent(t.app);
    const page = await agent.get(`/account/set-password?token=${second.token}`);
    expect(page.status).toBe(200);
    const done = await agent.post('/account/set-password').type('form').send({ _csrf: formFields(page.text).csrf, token: second.token, password: NEW_PASSWORD, confirm_password: NEW_PASSWORD });
    expect(done.status).toBe(200);
    expect(done.text).not.toContain('Open your account'); // no signed-in area to point to
    expect((await t.store.get(user.id))!.has_password).toBe(true);
    expect(await t.store.verifyCredentials('erin@example.com', NEW_PASSWORD)).toBeDefined();

    const expiring = await t.store.createToken(user.id, 'set-password', 60, { actor: 'admin' });
    expect((await request(t.app).get(`/account/set-password?token=${expiring.token}`)).status).toBe(200);
    t.advanceClock(61_000);
    const expired = await request(t.app).get(`/account/set-password?token=${expiring.token}`);
    expect(expired.status).toBe(410);
    expect(expired.text).toContain('It has expired, it was already used');
  });

  it('never puts the token in the access log', async () => {
    const lines: string[] = [];
    const { pino } = await import('pino');
    t = await accountApp({ oidc: false, deps: { logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }) } });
    const user = await t.store.create({ email: 'frank@example.com' }, { actor: 'admin' });
    const { token } = await t.store.createToken(user.id, 'set-password', 3600, { actor: 'admin' });
    await request(t.app).get(`/account/set-password?token=${token}`);
    expect(lines.join('')).toContain('/account/set-password?token=[redacted]');
    expect(lines.join('')).not.toContain(token);
  });
});
