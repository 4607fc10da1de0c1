// Run as a child process by test/deps.test.ts: builds the production deps from the environment
// it is given (as src/server.ts does), then prints which npm packages that loaded, as JSON.
// CommonJS modules are read from require's cache; ES modules are reported by a load hook.
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import { pino } from 'pino';

const esModules = new Set<string>();
const { port1, port2 } = new MessageChannel();
port1.on('message', (url: string) => esModules.add(url));
port1.unref();
register('./loaded-packages-hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });

// Imported after the hook is in place, so every module they load is seen.
const { loadConfig } = await import('../../src/config.js');
const { buildDeps } = await import('../../src/deps.js');
const { config } = loadConfig(process.env);
try {
  const deps = await buildDeps(config, pino({ level: 'silent' }));
  await deps.accounts?.close();
} catch (error) {
  // An unreachable database still shows which driver was loaded to reach it.
  console.error(error instanceof Error ? error.message : String(error));
}
// The hook thread's messages for the last imports may still be on their way.
await new Promise((resolve) => setTimeout(resolve, 100));
const packages = [...Object.keys(createRequire(import.meta.url).cache), ...[...esModules].map((url) => decodeURIComponent(url))]
  .map((file) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1])
  .filter((name): name is string => name !== undefined);
console.log(JSON.stringify([...new Set(packages)].sort()));
