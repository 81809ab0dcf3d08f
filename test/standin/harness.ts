// Per-test fixtures for the stand-in's tests: a private dbus-daemon, a stand-in on it, and clients.
// Each test tears its own down (t.teardown); `tearDownAll` in test.after.always catches the rest.
import type { ExecutionContext } from 'ava';
import { startPrivateBus, type PrivateBus } from '../support/dbus-daemon.ts';
import { CONTROLLER_INTERFACE, CONTROLLER_PATH } from './api.ts';
import { TestClient } from './bus-client.ts';
import { type Standin, type StandinOptions, startStandin } from './index.ts';

export interface Harness {
  readonly bus: PrivateBus;
  readonly standin: Standin;
  /** Connected, with match rules for the stand-in's signals in place; start-up signals forgotten. */
  readonly client: TestClient;
  /** Another client on the same bus, torn down with the rest. */
  connect(): Promise<TestClient>;
}

const live = new Set<() => Promise<void>>();

export async function setUp(t: ExecutionContext, options: Omit<StandinOptions, 'address'>): Promise<Harness> {
  const clients: TestClient[] = [];
  const started: { standin?: Standin } = {};
  const bus = await startPrivateBus();
  const tearDown = async () => {
    live.delete(tearDown);
    await Promise.allSettled(clients.map((client) => client.close()));
    await started.standin?.stop().catch(() => undefined);
    await bus.stop();
  };
  live.add(tearDown);
  t.teardown(tearDown);
  const connect = async () => {
    const client = await TestClient.connect(bus.address);
    clients.push(client);
    await client.watchBlueChi();
    return client;
  };
  const client = await connect();
  const standin = await startStandin({ ...options, address: bus.address });
  started.standin = standin;
  // A round trip through the stand-in: its start-up signals, sent before, have all arrived.
  await client.call(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'ListNodes');
  client.forget();
  return { bus, standin, client, connect };
}

export async function tearDownAll(): Promise<void> {
  await Promise.allSettled([...live].map((tearDown) => tearDown()));
}

