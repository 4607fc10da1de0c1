// docker-compose.yml and the Dockerfile, without a Docker engine: the compose file against the
// Compose specification's JSON schema, then every URL and port checked against the others and
// against the app's own configuration (loadConfig), so `docker compose up` works on localhost.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config.js';
import { demoClients } from '../src/demo/clients.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const SCHEMA = path.resolve(import.meta.dirname, '../../shared/compose-spec/compose-spec.json');
// ajv-formats is CommonJS; under NodeNext its default import is the module object (itself the plugin).
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

type Env = Record<string, string>;
interface Service {
  image?: string;
  build?: string | { context: string };
  command?: string | string[];
  environment?: Env | string[];
  ports?: Array<string | { target: number; published?: string | number; host_ip?: string }>;
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string | string[] };
}

const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const services = compose.services;

function service(name: string): Service {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** The environment as a map, whichever of the two compose syntaxes is used. */
function env(name: string): Env {
  const environment = service(name).environment ?? {};
  if (!Array.isArray(environment)) return Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, String(v)]));
  return Object.fromEntries(environment.map((item) => [item.slice(0, item.indexOf('=')), item.slice(item.indexOf('=') + 1)]));
}

/** Published ports: container port → { host ip, host port }. */
function published(name: string): Map<number, { hostIp?: string; hostPort: number }> {
  const map = new Map<number, { hostIp?: string; hostPort: number }>();
  for (const port of service(name).ports ?? []) {
    if (typeof port === 'object') {
      map.set(port.target, { hostIp: port.host_ip, hostPort: Number(port.published ?? port.target) });
      continue;
    }
    const parts = port.replace(/\/(tcp|udp)$/, '').split(':');
    const target = Number(parts.at(-1));
    const hostPort = Number(parts.length >= 2 ? parts.at(-2) : target);
    map.set(target, { hostIp: parts.length === 3 ? parts[0] : undefined, hostPort });
  }
  return map;
}

function command(name: string): string {
  const value = service(name).command;
  return Array.isArray(value) ? value.join(' ') : (value ?? '');
}

function dependsOn(name: string, on: string): string | undefined {
  const deps = service(name).depends_on;
  if (deps === undefined) return undefined;
  if (Array.isArray(deps)) return deps.includes(on) ? 'service_started' : undefined;
  return deps[on]?.condition;
}

/** A URL's port, with the scheme's default filled in. */
function portOf(url: URL): number {
  return Number(url.port || (url.protocol === 'https:' ? 443 : 80));
}

describe('docker-compose.yml against the Compose specification', () => {
  it('is valid', () => {
    const schema = JSON.parse(readFileSync(SCHEMA, 'utf8')) as Record<string, unknown>;
    // The spec says draft-07 by an https URL Ajv does not know by that name; it is plain draft-07.
    const { $schema: _draft, ...body } = schema;
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(body);
    const valid = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(valid).toBe(true);
  });

  it('the validator does reject a broken file (so the test above means something)', () => {
    const schema = JSON.parse(readFileSync(SCHEMA, 'utf8')) as Record<string, unknown>;
    const { $schema: _draft, ...body } = schema;
    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    const validate = ajv.compile(body);
    expect(validate({ services: { app: { image: 'x', ports: 'not-a-list', restart: 3 } } })).toBe(false);
    expect(validate({ services: { app: { image: 'x', depends_on: { db: { condition: 'whenever' } } } } })).toBe(false);
  });
});

describe('the stack it describes', () => {
  let appEnv: Env;
  let config: Config;

  beforeAll(() => {
    appEnv = env('app');
    ({ config } = loadConfig(appEnv));
  });

  it('has pinned images: Postgres 16, Hydra v2.3.0 (v2 API) for the migration and the server', () => {
    expect(service('postgres').image).toBe('postgres:16-alpine');
    expect(service('postgres').healthcheck?.test).toBeDefined();
    expect(service('hydra').image).toBe('oryd/hydra:v2.3.0');
    expect(service('hydra-migrate').image).toBe('oryd/hydra:v2.3.0');
    expect(command('hydra-migrate')).toBe('migrate sql up -e --yes');
    expect(command('hydra')).toMatch(/^serve all --dev\b/);
    expect(config.hydra.apiVersion).toBe('v2');
  });

  it('starts in order: Postgres healthy → migrated → Hydra → demo clients → app', () => {
    expect(dependsOn('hydra-migrate', 'postgres')).toBe('service_healthy');
    expect(dependsOn('hydra', 'hydra-migrate')).toBe('service_completed_successfully');
    expect(dependsOn('demo-clients', 'hydra')).toBeDefined();
    expect(dependsOn('app', 'demo-clients')).toBe('service_completed_successfully');
  });

  it("gives the app an environment loadConfig accepts, with the demo on", () => {
    expect(service('app').build).toBe('.');
    expect(config.demo).toEqual({
      clientId: 'demo-client',
      clientSecret: appEnv.DEMO_CLIENT_SECRET,
      m2mClientId: 'demo-m2m',
      m2mClientSecret: appEnv.DEMO_M2M_CLIENT_SECRET,
    });
    expect(config.sessionSecret).toBe(appEnv.SESSION_SECRET);
  });

  it('agrees on the app port: config default, compose, Dockerfile EXPOSE and HEALTHCHECK, BASE_URL', () => {
    // The app's default port is 3000 and compose does not move it.
    expect(loadConfig({ HYDRA_ADMIN_URL: 'http://hydra:4445' }).config.port).toBe(3000);
    expect(config.port).toBe(3000);
    const expose = /^EXPOSE\s+(\d+)\s*$/m.exec(dockerfile)?.[1];
    expect(Number(expose)).toBe(config.port);
    const healthcheck = /^HEALTHCHECK[\s\S]*?CMD (\[.*\])\s*$/m.exec(dockerfile)?.[1];
    expect(healthcheck, 'HEALTHCHECK … CMD [exec form]').toBeDefined();
    const probe = (JSON.parse(healthcheck!) as string[]).join(' ');
    expect(probe).toMatch(/^node -e /); // no curl in the slim image
    expect(probe).toContain(`process.env.PORT||${config.port}`);
    expect(probe).toContain('/health/ready');

    const base = new URL(config.baseUrl);
    const appPort = published('app').get(config.port);
    expect(appPort, 'app publishes its container port').toBeDefined();
    expect(base.hostname).toBe('localhost');
    expect(base.protocol).toBe('http:');
    expect(portOf(base)).toBe(appPort!.hostPort);
  });

  it('runs node as PID 1 as a non-root user, from a multi-stage build on an LTS image', () => {
    expect(/^CMD \["node", "dist\/server\.js"\]\s*$/m.test(dockerfile)).toBe(true);
    expect(dockerfile).toMatch(/^USER node\s*$/m);
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    const image = /^ARG NODE_IMAGE=(\S+)/m.exec(dockerfile)?.[1] ?? '';
    const major = Number(/^node:(\d+)/.exec(image)?.[1]);
    expect(major % 2, `${image} is an even (LTS) major`).toBe(0);
    expect(major).toBeGreaterThanOrEqual(20);
    // The compose one-shot runs compiled code the Dockerfile builds from src/.
    expect(service('demo-clients').command).toEqual(['node', 'dist/demo/register.js']);
    expect(existsSync(path.join(ROOT, 'src/demo/register.ts'))).toBe(true);
    expect(existsSync(path.join(ROOT, 'src/server.ts'))).toBe(true);
  });

  it("points the app at Hydra's admin port and public port on the compose network", () => {
    const hydraEnv = env('hydra');
    const adminPort = Number(hydraEnv.SERVE_ADMIN_PORT ?? 4445);
    const publicPort = Number(hydraEnv.SERVE_PUBLIC_PORT ?? 4444);
    const admin = new URL(config.hydra.adminUrl);
    expect(admin.hostname).toBe('hydra');
    expect(portOf(admin)).toBe(adminPort);
    const internal = new URL(config.hydra.publicInternalUrl!);
    expect(internal.hostname).toBe('hydra');
    expect(portOf(internal)).toBe(publicPort);
  });

  it("uses Hydra's browser-facing issuer, published on localhost, as HYDRA_PUBLIC_URL", () => {
    const hydraEnv = env('hydra');
    const publicPort = Number(hydraEnv.SERVE_PUBLIC_PORT ?? 4444);
    const issuer = new URL(hydraEnv.URLS_SELF_ISSUER!);
    expect(new URL(config.hydra.publicUrl!).href).toBe(issuer.href);
    expect(issuer.hostname).toBe('localhost');
    expect(portOf(issuer)).toBe(published('hydra').get(publicPort)?.hostPort);
    // Only loopback: Hydra's admin API has no authentication of its own.
    for (const [, mapping] of [...published('hydra'), ...published('app')]) expect(mapping.hostIp).toBe('127.0.0.1');
  });

  it("sends Hydra's browsers to the app's published URL for login, consent, logout and errors", () => {
    const hydraEnv = env('hydra');
    for (const [key, route] of [['URLS_LOGIN', '/login'], ['URLS_CONSENT', '/consent'], ['URLS_LOGOUT', '/logout'], ['URLS_ERROR', '/error']] as const) {
      expect(hydraEnv[key], key).toBe(`${config.baseUrl}${route}`);
    }
    expect(hydraEnv.URLS_POST_LOGOUT_REDIRECT).toBe(`${config.baseUrl}/demo`);
  });

  it('registers the demo client with the redirect URI the app sends: BASE_URL + /demo/callback', () => {
    // The registration job reads the app's own environment, so the two cannot drift apart.
    expect(env('demo-clients')).toEqual(appEnv);
    const [client] = demoClients({ appBaseUrl: config.baseUrl, clientId: config.demo!.clientId, clientSecret: config.demo!.clientSecret });
    expect(client!.redirect_uris).toEqual([`${config.baseUrl}/demo/callback`]);
    expect(client!.redirect_uris).toEqual(['http://localhost:3000/demo/callback']);
    expect(client!.post_logout_redirect_uris).toEqual(['http://localhost:3000/demo/logged-out']);
  });

  it('gives Hydra and its migration the same database, the one Postgres creates', () => {
    const dsn = new URL(env('hydra').DSN!);
    expect(env('hydra-migrate').DSN).toBe(env('hydra').DSN);
    const pg = env('postgres');
    expect(dsn.protocol).toBe('postgres:');
    expect(dsn.hostname).toBe('postgres');
    expect(Number(dsn.port || 5432)).toBe(5432);
    expect(decodeURIComponent(dsn.username)).toBe(pg.POSTGRES_USER);
    expect(decodeURIComponent(dsn.password)).toBe(pg.POSTGRES_PASSWORD);
    expect(dsn.pathname).toBe(`/${pg.POSTGRES_DB}`);
  });

  it("gives the app a database and role of its own on that Postgres, created before the app starts", () => {
    expect(config.database.target.dialect).toBe('postgres');
    const url = new URL(appEnv.DATABASE_URL!);
    expect(url.hostname).toBe('postgres');
    expect(Number(url.port || 5432)).toBe(5432);
    expect(url.pathname).not.toBe(new URL(env('hydra').DSN!).pathname);
    expect(url.username).not.toBe(env('postgres').POSTGRES_USER);
    expect(dependsOn('accounts-db', 'postgres')).toBe('service_healthy');
    expect(dependsOn('app', 'accounts-db')).toBe('service_completed_successfully');
    // The one-shot creates exactly the role, password and database the URL names, each only if missing.
    const script = command('accounts-db');
    expect(script).toContain(`CREATE ROLE ${url.username} LOGIN PASSWORD '${decodeURIComponent(url.password)}'`);
    expect(script).toContain(`CREATE DATABASE ${url.pathname.slice(1)} OWNER ${url.username}`);
    expect(script.match(/\|\| *\n? *psql/g)?.length).toBe(2);
    expect(env('accounts-db').PGPASSWORD).toBe(env('postgres').POSTGRES_PASSWORD);
  });
});
