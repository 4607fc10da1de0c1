import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const base = { HYDRA_ADMIN_URL: 'http://127.0.0.1:4445' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const { config, warnings } = loadConfig(base);
    expect(config.port).toBe(3000);
    expect(config.hydra).toMatchObject({ adminUrl: 'http://127.0.0.1:4445', apiVersion: 'v2', timeoutMs: 10_000 });
    expect(config.baseUrl).toBe('http://localhost:3000');
    expect(config.basePath).toBe('');
    expect(config.secureCookies).toBe(false);
    expect(config.trustProxy).toBe(false);
    expect(config.sessionSecret.length).toBeGreaterThanOrEqual(32);
    expect(warnings.join()).toContain('SESSION_SECRET');
    expect(config.demo).toBeUndefined();
    expect(config.passwordChecks.nice).toBe(10);
  });

  it('names the variable when one is missing or wrong', () => {
    expect(problems({})).toEqual(['HYDRA_ADMIN_URL is required']);
    expect(problems({ ...base, HYDRA_API_VERSION: 'v3' })[0]).toMatch(/^HYDRA_API_VERSION /);
    expect(problems({ ...base, PORT: 'eighty' })[0]).toMatch(/^PORT /);
    expect(problems({ ...base, HYDRA_ADMIN_URL: 'ftp://x' })[0]).toBe('HYDRA_ADMIN_URL must be an http(s) URL');
    expect(problems({ ...base, TRUST_PROXY: 'sometimes' })[0]).toMatch(/^TRUST_PROXY/);
    expect(problems({ ...base, ADMIN_TOKEN: 'short' })).toEqual(['ADMIN_TOKEN must be at least 32 characters']);
    expect(problems({ ...base, LOGIN_HASH_NICE: '20' })[0]).toMatch(/^LOGIN_HASH_NICE /);
    expect(loadConfig({ ...base, LOGIN_HASH_NICE: '0' }).config.passwordChecks.nice).toBe(0);
  });

  it('refuses production without SESSION_SECRET (users live in the database, so USERS_FILE is optional)', () => {
    expect(problems({ ...base, NODE_ENV: 'production' })).toEqual(['SESSION_SECRET is required when NODE_ENV=production']);
  });

  it('reads DATABASE_URL: ./data/accounts.db by default, sqlite: paths, postgres URLs; never logs the password', () => {
    const target = (env: Record<string, string>) => loadConfig({ ...base, ...env }).config.database;
    expect(target({}).target).toEqual({ dialect: 'sqlite', file: path.resolve('data/accounts.db') });
    expect(target({ DATABASE_URL: 'sqlite:var/users.db' }).target).toEqual({ dialect: 'sqlite', file: path.resolve('var/users.db') });
    expect(target({ DATABASE_URL: 'sqlite:///srv/accounts.db' }).target).toEqual({ dialect: 'sqlite', file: '/srv/accounts.db' });
    const pg = target({ DATABASE_URL: 'postgresql://app:s3cret@db.internal:5432/accounts?sslmode=require' });
    expect(pg.target).toEqual({ dialect: 'postgres', url: 'postgresql://app:s3cret@db.internal:5432/accounts?sslmode=require' });
    expect(pg.description).toBe('postgresql://app:***@db.internal:5432/accounts');
    expect(problems({ ...base, DATABASE_URL: 'mysql://x/y' })[0]).toMatch(/^DATABASE_URL must be sqlite:/);
    expect(problems({ ...base, DATABASE_URL: 'sqlite://relative' })[0]).toMatch(/^DATABASE_URL: write sqlite:\/\/\/absolute/);
    expect(loadConfig(base).config.passwordPolicy).toEqual({ minLength: 8 });
    expect(loadConfig({ ...base, PASSWORD_MIN_LENGTH: '12' }).config.passwordPolicy).toEqual({ minLength: 12 });
    expect(problems({ ...base, PASSWORD_MIN_LENGTH: '6' })[0]).toMatch(/^PASSWORD_MIN_LENGTH /);
  });

  it('reads sub-path hosting, https and proxies', () => {
    const { config } = loadConfig({ ...base, BASE_URL: 'https://example.com/auth/', TRUST_PROXY: 'loopback, 10.0.0.0/8' });
    expect(config.baseUrl).toBe('https://example.com/auth');
    expect(config.basePath).toBe('/auth');
    expect(config.secureCookies).toBe(true);
    expect(config.trustProxy).toEqual(['loopback', '10.0.0.0/8']);
    expect(loadConfig({ ...base, TRUST_PROXY: '2' }).config.trustProxy).toBe(2);
  });

  it('turns the demo on only when configured, and off in production unless enabled', () => {
    const demo = { ...base, DEMO_CLIENT_ID: 'demo', HYDRA_PUBLIC_URL: 'http://localhost:4444' };
    expect(loadConfig(demo).config.demo?.clientId).toBe('demo');
    const production = { ...demo, NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(32), MFA_ENCRYPTION_KEY: 'k'.repeat(32) };
    expect(loadConfig(production).config.demo).toBeUndefined();
    expect(loadConfig({ ...production, DEMO_ENABLED: 'true' }).config.demo?.clientId).toBe('demo');
  });
});

describe('server start-up', () => {
  it('stops with one clear line naming the variable', () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH, HYDRA_API_VERSION: 'v9' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'config error: HYDRA_ADMIN_URL is required',
      expect.stringMatching(/^config error: HYDRA_API_VERSION /),
    ]);
  });
});
