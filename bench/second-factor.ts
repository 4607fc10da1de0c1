/**
 * The second-factor scenario's accounts and load: users with a confirmed authenticator app,
 * seeded into the target's own fresh database through the app's store and MFA service (the
 * same enrolment and confirmation /account does), then a password POST and a code POST per
 * sign-in, each code computed here from the account's secret.
 *
 * A code is accepted once per account: the step it matched and every earlier one are used up
 * (src/mfa/service.ts). So every sign-in takes an account no sign-in in flight holds, and a
 * step after the last one it used, never more than one step ahead of now (the server checks
 * ±1 step): an account signs in at most twice in a 30-second step, and the pool is sized so
 * that the load never has to wait for one. A sign-in that finds none free is counted
 * (`pool exhausted`), as is every code the server refused, rather than measured as success.
 */
import type autocannon from 'autocannon';
import { loadConfig } from '../src/config.js';
import { createMfa } from '../src/mfa/service.js';
import { TOTP_PERIOD, totpCode } from '../src/mfa/totp.js';
import { readUserFile } from '../src/users/file-store.js';
import { importUsers } from '../src/users/import.js';
import { openAccountStore } from '../src/users/sql/store.js';
import { csrfTokenOf } from './http.js';
import type { CsrfPair, LoadSpec, Pools } from './scenarios.js';
import { BENCH_USER, ensureUsersFile, type RunningTarget } from './targets.js';
import { csrfPairs } from './verify.js';

/** Where the fake Hydra's redirect_to values point (as in verify.ts). */
const HYDRA_PUBLIC = 'http://hydra.test/';
const STEP_MS = TOTP_PERIOD * 1000;

export interface SecondFactorAccount {
  email: string;
  secret: string;
  /** The last TOTP step this account used (the confirming code's, then the bench's). */
  lastStep: number;
  busy: boolean;
}

/** Per-run counters the scenario reports next to autocannon's figures. */
export interface SecondFactorStats {
  signIns: number;
  /** Password POSTs not answered 200 with the code form's state cookie, other than shed ones. */
  passwordStepFailed: number;
  /** Password POSTs shed with 503 + Retry-After: the bound on concurrent hashing, by design. */
  passwordShed: number;
  /** Sign-ins that ended in Hydra's redirect: both steps done. */
  completed: number;
  /** Code POSTs after a good password step not answered 302 to Hydra (a refused code, an expired state, …). */
  codeRefused: number;
  /** Code POSTs sent after a failed password step (autocannon sends the whole sequence): failed with it. */
  codeAfterFailedPassword: number;
  /** Sign-ins that found no account with a usable step free (each then ends in a refused code). */
  poolExhausted: number;
  /** Latency of the code POSTs alone, ms (autocannon's histogram mixes both steps). */
  codeLatencyMs: number[];
}

const zeroStats = (): SecondFactorStats => ({ signIns: 0, passwordStepFailed: 0, passwordShed: 0, completed: 0, codeRefused: 0, codeAfterFailedPassword: 0, poolExhausted: 0, codeLatencyMs: [] });

export interface SecondFactorPool {
  accounts: SecondFactorAccount[];
  stats: SecondFactorStats;
}

const stepNow = () => Math.floor(Date.now() / STEP_MS);

/**
 * `count` accounts `bench-2fa-N@example.com` with BENCH_USER's password (its argon2id hash from
 * the users file, so seeding hashes nothing) and one confirmed TOTP factor each, in the target's
 * database. The target must have been started with `mfaEncryptionKey` as MFA_ENCRYPTION_KEY.
 */
export async function seedSecondFactorAccounts(target: RunningTarget, mfaEncryptionKey: string, count: number): Promise<SecondFactorPool> {
  if (!target.databaseUrl) throw new Error(`${target.name}: no database to seed second-factor accounts into`);
  const { config } = loadConfig({
    NODE_ENV: 'development',
    HYDRA_ADMIN_URL: 'http://127.0.0.1:9',
    BASE_URL: target.url,
    SESSION_SECRET: 'bench-seeding-only-0123456789abcdefghij',
    MFA_ENCRYPTION_KEY: mfaEncryptionKey,
    DATABASE_URL: target.databaseUrl,
    LOG_LEVEL: 'silent',
  });
  const { users } = await readUserFile(await ensureUsersFile());
  const hash = users.find((u) => u.email === BENCH_USER.email)?.password_hash;
  if (!hash) throw new Error('the bench users file has no password hash for the bench user');
  const store = await openAccountStore(config.database.target);
  try {
    const by = { actor: 'system' };
    const emails = Array.from({ length: count }, (_, i) => `bench-2fa-${i}@example.com`);
    await importUsers(
      store,
      emails.map((email, i) => ({ subject: `bench-2fa-${i}`, email, email_verified: true, password_hash: hash, profile: {} })),
      by,
    );
    const mfa = createMfa(config, store.factors);
    const accounts: SecondFactorAccount[] = [];
    for (const email of emails) {
      const account = await store.getByEmail(email);
      if (!account) throw new Error(`seeding: ${email} was not created`);
      // The previous step's code confirms: it is within the ±1 window, and it leaves this step free.
      // A step that ends between making the code and checking it puts the code two steps back:
      // then once more, with the code of the step before the new one.
      const enrolment = await mfa.beginTotp(account.id, email);
      const confirm = async () => {
        const at = Date.now() - STEP_MS;
        return (await mfa.confirmTotp(account.id, enrolment.sealed, totpCode(enrolment.secret, at), 'bench', by)) ? at : undefined;
      };
      const confirmAt = (await confirm()) ?? (await confirm());
      if (confirmAt === undefined) throw new Error(`seeding: the confirming code for ${email} was refused`);
      accounts.push({ email, secret: enrolment.secret, lastStep: Math.floor(confirmAt / STEP_MS), busy: false });
    }
    return { accounts, stats: zeroStats() };
  } finally {
    await store.close();
    // better-sqlite3 is synchronous: the seeding held this event loop, so keep-alive sockets the
    // server closed meanwhile are still taken for open. A turn of the loop lets fetch see them closed.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The next account free to sign in now and the step its code will be for; undefined when none is. */
function takeAccount(pool: SecondFactorPool, cursor: { next: number }): { account: SecondFactorAccount; step: number } | undefined {
  const { accounts } = pool;
  const now = stepNow();
  for (let tried = 0; tried < accounts.length; tried++) {
    const account = accounts[cursor.next++ % accounts.length]!;
    if (account.busy) continue;
    const step = Math.max(account.lastStep + 1, now);
    if (step > now + 1) continue;
    account.busy = true;
    account.lastStep = step;
    return { account, step };
  }
  return undefined;
}

/** autocannon hands over the header names as the server wrote them (Express: Set-Cookie, Location). */
function header(headers: Record<string, string | string[]>, name: string): string[] {
  const values = Object.entries(headers).flatMap(([key, value]) => (key.toLowerCase() === name ? [value] : []));
  return values.flat();
}

function setCookies(headers: Record<string, string | string[]>): string[] {
  return header(headers, 'set-cookie');
}

/** The CSRF pair's cookies with the ones the answer set, as a browser would send them next. */
function mergeCookies(cookie: string, set: string[]): string {
  const jar = new Map<string, string>();
  for (const part of cookie.split(/;\s*/)) {
    const eq = part.indexOf('=');
    if (eq > 0) jar.set(part.slice(0, eq), part.slice(eq + 1));
  }
  for (const line of set) {
    const [pair = ''] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq > 0) jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  return [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
}

interface FlowContext {
  account?: SecondFactorAccount;
  step?: number;
  challenge?: string;
  pair?: CsrfPair;
  cookie?: string;
  csrf?: string;
  passwordOk?: boolean;
  sentAt?: number;
}

/**
 * Password POST (expects 200: the code form, and the state cookie), then the code POST (expects
 * 302 to Hydra). Both answers count towards req/s, latency and CPU per request; the code POST's
 * own latency is kept in stats.
 */
export function secondFactorLoad(target: RunningTarget, pools: Pools): LoadSpec {
  const pool = pools.secondFactor?.get(target.name);
  const pairs = pools.csrf.get(target.name) ?? [];
  if (!pool || pool.accounts.length === 0) throw new Error(`${target.name}: no second-factor accounts seeded`);
  if (pairs.length === 0) throw new Error(`${target.name}: no CSRF pairs`);
  const cursor = { next: 0 };
  let nextChallenge = 0;
  let nextPair = 0;
  const { stats } = pool;

  const password: autocannon.RequestStep = {
    setupRequest(request, raw) {
      const context = raw as FlowContext;
      const taken = takeAccount(pool, cursor);
      stats.signIns++;
      if (!taken) stats.poolExhausted++;
      // Exhausted: an account anyway, whose code will be refused and counted, never waited for.
      const account = taken?.account ?? pool.accounts[cursor.next++ % pool.accounts.length]!;
      context.account = account;
      context.step = taken?.step ?? account.lastStep;
      context.challenge = pools.login[nextChallenge++ % pools.login.length]!;
      context.pair = pairs[nextPair++ % pairs.length]!;
      const body = new URLSearchParams({ _csrf: context.pair.token, challenge: context.challenge, email: account.email, password: BENCH_USER.password, action: 'accept' });
      return { ...request, method: 'POST', path: '/login', headers: { cookie: context.pair.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() };
    },
    onResponse(status, body, raw, headers) {
      const context = raw as FlowContext;
      const set = setCookies(headers);
      context.passwordOk = status === 200 && set.some((line) => line.startsWith('hlc_login_mfa='));
      if (!context.passwordOk) {
        if (status === 503 && header(headers, 'retry-after').length > 0) stats.passwordShed++;
        else stats.passwordStepFailed++;
      }
      context.cookie = mergeCookies(context.pair!.cookie, set);
      context.csrf = csrfTokenOf(body) ?? context.pair!.token;
    },
  };

  const code: autocannon.RequestStep = {
    setupRequest(request, raw) {
      const context = raw as FlowContext;
      const body = new URLSearchParams({
        _csrf: context.csrf!,
        challenge: context.challenge!,
        code: totpCode(context.account!.secret, context.step! * STEP_MS),
        action: 'verify',
      });
      context.sentAt = performance.now();
      return { ...request, method: 'POST', path: '/login/factor', headers: { cookie: context.cookie!, 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() };
    },
    onResponse(status, _body, raw, headers) {
      const context = raw as FlowContext;
      stats.codeLatencyMs.push(performance.now() - context.sentAt!);
      const [location = ''] = header(headers, 'location');
      // The code POST after a failed password step fails too: that sign-in is counted once, above.
      if (!context.passwordOk) stats.codeAfterFailedPassword++;
      else if (status !== 302 || !location.startsWith(HYDRA_PUBLIC)) stats.codeRefused++;
      else stats.completed++;
      context.account!.busy = false;
    },
  };

  return {
    requests: [password, code],
    expect: [200, 302],
    stats: {
      reset() {
        Object.assign(stats, zeroStats());
      },
      read: () => ({
        signIns: stats.signIns,
        completed: stats.completed,
        passwordShed: stats.passwordShed,
        passwordStepFailed: stats.passwordStepFailed,
        codeRefused: stats.codeRefused,
        codeAfterFailedPassword: stats.codeAfterFailedPassword,
        poolExhausted: stats.poolExhausted,
        codeP50Ms: Math.round(percentile(stats.codeLatencyMs, 50)),
        codeP99Ms: Math.round(percentile(stats.codeLatencyMs, 99)),
        accounts: pool.accounts.length,
      }),
    },
  };
}

/** One sign-in by hand before the load: the code form after the password, a 302 to Hydra after the code. */
export async function verifySecondFactor(target: RunningTarget, pools: Pools): Promise<void> {
  const pool = pools.secondFactor?.get(target.name);
  const cursor = { next: 0 };
  const taken = pool && takeAccount(pool, cursor);
  if (!taken) throw new Error(`${target.name}: no second-factor account to verify with`);
  const [pair] = await csrfPairs(target, pools, 1);
  const challenge = pools.login[0] ?? '';
  const post = (path: string, cookie: string, form: Record<string, string>) =>
    fetch(`${target.url}${path}`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
  const first = await post('/login', pair!.cookie, { _csrf: pair!.token, challenge, email: taken.account.email, password: BENCH_USER.password, action: 'accept' });
  const page = await first.text();
  const cookie = mergeCookies(pair!.cookie, first.headers.getSetCookie());
  if (first.status !== 200 || !/name="code"/.test(page) || !cookie.includes('hlc_login_mfa=')) {
    throw new Error(`${target.name}: password POST of a second-factor account answered ${first.status}, not the code form\n${target.stderrTail()}`);
  }
  const second = await post('/login/factor', cookie, { _csrf: csrfTokenOf(page) ?? pair!.token, challenge, code: totpCode(taken.account.secret, taken.step * STEP_MS), action: 'verify' });
  await second.arrayBuffer();
  taken.account.busy = false;
  const location = second.headers.get('location') ?? '';
  if (second.status !== 302 || !location.startsWith(`${HYDRA_PUBLIC}oauth2/auth?login_verifier=`)) {
    throw new Error(`${target.name}: code POST answered ${second.status} → ${location}, not 302 to Hydra\n${target.stderrTail()}`);
  }
}

/** p-th percentile (0–100) of the values, nearest rank; NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
