/** What the bench asks of each target: the pages, the bodies, and the status each answer must have. */
import type autocannon from 'autocannon';
import { secondFactorLoad, type SecondFactorPool } from './second-factor.js';
import { BENCH_USER, type RunningTarget, type TargetName } from './targets.js';

/** Challenges the fake Hydra knows, and (ours) ready-made CSRF cookie + token pairs. */
export interface Pools {
  /** Non-skip login requests. */
  login: string[];
  /** Login requests Hydra already authenticated (skip: true). */
  skip: string[];
  /** Non-skip consent requests. */
  consent: string[];
  /** A CSRF token stays valid with its secret cookie (ours and csurf's), so a pair can be sent again and again. */
  csrf: Map<TargetName, CsrfPair[]>;
  /** Accounts with a confirmed TOTP factor, seeded into each fresh process's database (second-factor). */
  secondFactor?: Map<TargetName, SecondFactorPool>;
}

export interface CsrfPair {
  cookie: string;
  token: string;
}

export interface LoadSpec {
  /** The request sequence autocannon repeats on every connection. */
  requests: autocannon.RequestStep[];
  /** Every answer must have this status (or one of these); anything else is counted as unexpected. */
  expect: number | readonly number[];
  /** Counters of the scenario's own, reset before the measured run and read after it. */
  stats?: { reset(): void; read(): Record<string, number> };
}

export interface Scenario {
  id: string;
  title: string;
  targets: TargetName[];
  main(target: RunningTarget, pools: Pools): LoadSpec;
  /** Runs after each fresh process is verified, before its load (e.g. seeds its database). */
  prepare?(target: RunningTarget, pools: Pools): Promise<void>;
  /** The run fails when more than this share of the sequences sent went wrong. */
  maxUnexpectedShare?: number;
  /** Sequences that went wrong, from the scenario's own counters (default: every unexpected answer counts as one). */
  failedSequences?(notes: Record<string, number>): number;
  /** A second load run alongside the measured one, at a fixed rate. */
  background?: { title: string; rate: number; connections: number; load(target: RunningTarget, pools: Pools): LoadSpec };
}

/** A request whose path (or body) takes the next item of a pool on every request. */
function rotating<T>(items: readonly T[], build: (item: T) => autocannon.Request): autocannon.RequestStep {
  if (items.length === 0) throw new Error('empty pool');
  let next = 0;
  return {
    setupRequest(request) {
      const item = items[next++ % items.length] as T;
      return { ...request, ...build(item) };
    },
  };
}

const loginRender = (pools: Pools): LoadSpec => ({
  requests: [rotating(pools.login, (challenge) => ({ method: 'GET', path: `/login?login_challenge=${encodeURIComponent(challenge)}` }))],
  expect: 200,
});

/** Our interactive login: CSRF-checked form POST, argon2id verification, accept at Hydra, 302. */
export function loginPost(target: RunningTarget, pools: Pools): LoadSpec {
  const pairs = pools.csrf.get(target.name) ?? [];
  let next = 0;
  return {
    requests: [
      rotating(pools.login, (challenge) => {
        const pair = pairs[next++ % pairs.length] as CsrfPair;
        const body = new URLSearchParams({
          _csrf: pair.token,
          challenge,
          email: BENCH_USER.email,
          password: BENCH_USER.password,
          remember: '1',
          action: 'accept',
        }).toString();
        return {
          method: 'POST',
          path: '/login',
          headers: { cookie: pair.cookie, 'content-type': 'application/x-www-form-urlencoded' },
          body,
        };
      }),
    ],
    expect: 302,
  };
}

export function scenarios(hashRate: number, secondFactor?: { prepare(target: RunningTarget, pools: Pools): Promise<void> }): Scenario[] {
  return [
    {
      id: 'login-render',
      title: 'Login page render (non-skip)',
      targets: ['ours', 'reference'],
      main: (_target, pools) => loginRender(pools),
    },
    {
      id: 'consent-render',
      title: 'Consent page render (non-skip)',
      targets: ['ours', 'reference'],
      main: (_target, pools) => ({
        requests: [rotating(pools.consent, (challenge) => ({ method: 'GET', path: `/consent?consent_challenge=${encodeURIComponent(challenge)}` }))],
        expect: 200,
      }),
    },
    {
      id: 'skip-login',
      title: 'Skip login (GET → accept → 302)',
      targets: ['ours', 'reference'],
      main: (_target, pools) => ({
        requests: [rotating(pools.skip, (challenge) => ({ method: 'GET', path: `/login?login_challenge=${encodeURIComponent(challenge)}` }))],
        expect: 302,
      }),
    },
    {
      id: 'login-post',
      title: 'Interactive login POST (argon2id)',
      targets: ['ours'],
      main: loginPost,
    },
    {
      id: 'render-while-hashing',
      title: `Login render while ${hashRate} logins/s hash`,
      targets: ['ours'],
      main: (_target, pools) => loginRender(pools),
      background: { title: 'login POSTs', rate: hashRate, connections: Math.max(1, Math.min(hashRate, 10)), load: loginPost },
    },
    {
      // The reference app has no second factor: ours only.
      id: 'second-factor',
      title: 'Second factor (ours only): password POST (argon2id) + TOTP code POST',
      targets: ['ours'],
      main: secondFactorLoad,
      ...(secondFactor ? { prepare: secondFactor.prepare } : {}),
      // Shed sign-ins (503 + Retry-After) are the bound on hashing at work, not a broken run: how
      // many there are depends mostly on how fast the server answers them (each shed connection
      // posts again at once). The check is on the rest; the table shows both.
      maxUnexpectedShare: 0.5,
      failedSequences: (notes) => (notes.passwordStepFailed ?? 0) + (notes.codeRefused ?? 0),
    },
  ];
}
