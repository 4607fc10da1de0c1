/**
 * The test fake Hydra (test/support/fake-hydra.ts), run in its own process for the bench so it
 * neither shares an event loop with the load generator nor shows up in a target's figures.
 * Driven over IPC by bench/fake.ts. The fake only answers challenges it was given, so the bench
 * seeds pools of them; v2 (Hydra v2.2+) answers repeated GETs and accepts of one challenge with
 * 200 (hydra-contract.md §3), so a pool can be reused for as long as a run lasts.
 */
import { startFakeHydra } from '../test/support/fake-hydra.js';
import type { FakeCommand, FakeReply } from './fake.js';

const fake = await startFakeHydra({ apiVersion: 'v2' });
let served = 0;

// The fake records every call for tests to assert on; under load that is a leak by design, so
// the records are emptied every second (the count is all the bench needs).
function forgetRecords(): void {
  served += fake.calls.length;
  fake.calls.length = 0;
  for (const records of [fake.accepted, fake.rejected]) {
    records.login.length = 0;
    records.consent.length = 0;
    records.logout.length = 0;
  }
  fake.state.consentSessions.clear();
}
setInterval(forgetRecords, 1000).unref();

function answer(command: FakeCommand): unknown {
  switch (command.cmd) {
    case 'seed': {
      const challenges: string[] = [];
      for (let i = 0; i < command.count; i++) {
        challenges.push(command.kind === 'login' ? fake.addLoginRequest(command.overrides ?? {}) : fake.addConsentRequest(command.overrides ?? {}));
      }
      return challenges;
    }
    case 'latency':
      fake.setLatency(command.ms);
      return null;
    case 'served':
      forgetRecords();
      return served;
  }
}

process.on('message', (message: { id: number; command: FakeCommand }) => {
  let reply: FakeReply;
  try {
    reply = { id: message.id, result: answer(message.command) };
  } catch (err) {
    reply = { id: message.id, error: err instanceof Error ? err.message : String(err) };
  }
  process.send?.(reply);
});
process.on('disconnect', () => {
  void fake.close().finally(() => process.exit(0));
});
process.send?.({ id: 0, result: fake.url } satisfies FakeReply);
