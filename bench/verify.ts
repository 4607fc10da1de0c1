/**
 * Before anything is measured, each target must answer each scenario as a browser expects: a
 * 200 with the real form (not an error page rendered with 200), a 302 to Hydra for skip and for
 * a correct password. A fast error page would otherwise look like a fast server.
 */
import { BENCH_USER, type RunningTarget } from './targets.js';
import { Browser, csrfTokenOf } from './http.js';
import type { CsrfPair, Pools } from './scenarios.js';

/** Where the fake Hydra's redirect_to values point (test/support/fake-hydra.ts default publicUrl). */
const HYDRA_PUBLIC = 'http://hydra.test/';

function check(condition: unknown, target: RunningTarget, what: string, detail: string): void {
  if (!condition) throw new Error(`${target.name}: ${what} (${detail.replace(/\s+/g, ' ').slice(0, 300)})\n${target.stderrTail()}`);
}

export async function verifyTarget(target: RunningTarget, pools: Pools, withPost: boolean): Promise<void> {
  const browser = new Browser(target.url);
  const login = await browser.get(`/login?login_challenge=${encodeURIComponent(pools.login[0] ?? '')}`);
  check(login.status === 200, target, `login render answered ${login.status}, not 200`, login.body);
  check(login.body.includes('Please log in') && /id="email"/.test(login.body) && csrfTokenOf(login.body), target, 'login render has no login form', login.body);

  const consent = await browser.get(`/consent?consent_challenge=${encodeURIComponent(pools.consent[0] ?? '')}`);
  check(consent.status === 200, target, `consent render answered ${consent.status}, not 200`, consent.body);
  check(
    consent.body.includes('An application requests access to your data!') && /name="grant_scope"/.test(consent.body) && csrfTokenOf(consent.body),
    target,
    'consent render has no consent form',
    consent.body,
  );

  const skip = await new Browser(target.url).get(`/login?login_challenge=${encodeURIComponent(pools.skip[0] ?? '')}`);
  check(skip.status === 302 && skip.location?.startsWith(HYDRA_PUBLIC), target, `skip login answered ${skip.status} → ${skip.location}, not 302 to Hydra`, skip.body);

  if (withPost) {
    const [pair] = await csrfPairs(target, pools, 1);
    const post = await fetch(`${target.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: pair!.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: pair!.token, challenge: pools.login[0] ?? '', email: BENCH_USER.email, password: BENCH_USER.password, action: 'accept' }),
    });
    const body = await post.text();
    const location = post.headers.get('location') ?? '';
    check(post.status === 302 && location.startsWith(`${HYDRA_PUBLIC}oauth2/auth?login_verifier=`), target, `login POST answered ${post.status} → ${location}`, body);
  }
}

/** One fresh browser per pair: its CSRF cookie and the token the form carried. */
export async function csrfPairs(target: RunningTarget, pools: Pools, count: number): Promise<CsrfPair[]> {
  const pairs: CsrfPair[] = [];
  for (let i = 0; i < count; i++) {
    const browser = new Browser(target.url);
    const page = await browser.get(`/login?login_challenge=${encodeURIComponent(pools.login[i % pools.login.length] ?? '')}`);
    const token = csrfTokenOf(page.body);
    const cookie = browser.cookieHeader();
    if (page.status !== 200 || !token || !cookie) throw new Error(`${target.name}: no CSRF cookie and token from the login page (${page.status})`);
    pairs.push({ cookie, token });
  }
  return pairs;
}
