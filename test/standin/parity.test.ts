// The same assertions, through the stand-in's BlueChi API, against an in-memory node and a node backed by a real
// systemd 257 (a vehicle node): garbage collection, failing and masked units, runtime enablement, job merging,
// daemon-reload, unknown units. Where the two differ, the in-memory node (node-memory.ts) is wrong.
import test, { type ExecutionContext } from 'ava';
import { CONTROLLER_INTERFACE, CONTROLLER_PATH, JOB_INTERFACE, MONITOR_INTERFACE, NODE_INTERFACE } from './api.ts';
import type { Answer, ReceivedSignal, TestClient } from './bus-client.ts';
import { setUp, tearDownAll } from './harness.ts';
import type { Standin, UnitOptions } from './index.ts';
import { realNodes } from './real-nodes.ts';

const NODE_NAME = 'parity';
const NODE = `/org/eclipse/bluechi/node/${NODE_NAME}`;
const real = realNodes([NODE_NAME]);

test.before(() => real.boot());
test.after.always(async () => {
  await tearDownAll();
  await real.stop();
});

type Backend = 'memory' | 'systemd';
const BACKENDS: readonly Backend[] = ['memory', 'systemd'];

/** A stand-in with one node holding `units`, on the backend asked for, and a client watching its signals. */
async function nodeWith(t: ExecutionContext, backend: Backend, units: UnitOptions[]) {
  let options = [{ name: NODE_NAME, units, jobLatencyMs: 10 }];
  if (backend === 'systemd') {
    const lent = await real.lend(options);
    t.teardown(() => lent.release()); // registered first, so it runs after the stand-in has stopped
    options = lent.nodes.map((node) => ({ ...node, units, jobLatencyMs: 10 }));
  }
  const { client, standin } = await setUp(t, { nodes: options });
  return new Probe(client, standin);
}

/** The node's BlueChi API in the words of the assertions. */
class Probe {
  constructor(
    readonly client: TestClient,
    readonly standin: Standin,
  ) {}

  ask(member: string, signature = '', body: unknown[] = []): Promise<Answer> {
    return this.client.ask(NODE, NODE_INTERFACE, member, signature, body);
  }

  async call(member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    return this.client.call(NODE, NODE_INTERFACE, member, signature, body);
  }

  /** Queues a BlueChi job; its path. */
  async job(method: string, unit: string, mode = 'replace'): Promise<string> {
    const [job] = await this.call(method, 'ss', [unit, mode]);
    return job as string;
  }

  /** The result JobRemoved reports for a BlueChi job. */
  async ended(job: string): Promise<string> {
    return (await this.client.waitFor('JobRemoved', (signal) => signal.body[1] === job, { timeoutMs: 20_000 })).body[4] as string;
  }

  async run(method: string, unit: string, mode = 'replace'): Promise<string> {
    return this.ended(await this.job(method, unit, mode));
  }

  /** Waits until the job's State is running (the Job object's PropertiesChanged). */
  async running(job: string): Promise<void> {
    await this.client.waitFor('PropertiesChanged', (signal) => signal.path === job && signal.body[0] === JOB_INTERFACE, { timeoutMs: 20_000 });
  }

  /** The unit's ListUnits row (id, description, load, active, sub), or undefined when systemd has not loaded it. */
  async listed(unit: string): Promise<unknown[] | undefined> {
    const [units] = (await this.call('ListUnits')) as [unknown[][]];
    return units.find(([name]) => name === unit)?.slice(0, 5);
  }

  async properties(unit: string, iface = 'org.freedesktop.systemd1.Unit'): Promise<Record<string, unknown>> {
    const [props] = (await this.call('GetUnitProperties', 'ss', [unit, iface])) as [Record<string, { value: unknown }>];
    return Object.fromEntries(Object.entries(props).map(([key, variant]) => [key, variant.value]));
  }

  async fileState(unit: string): Promise<Answer> {
    return this.ask('GetUnitFileState', 's', [unit]);
  }

  enable(files: string[], runtime: boolean, force = false): Promise<Answer> {
    return this.ask('EnableUnitFiles', 'asbb', [files, runtime, force]);
  }

  disable(files: string[], runtime: boolean): Promise<Answer> {
    return this.ask('DisableUnitFiles', 'asb', [files, runtime]);
  }

  async reload(): Promise<void> {
    await this.call('Reload');
  }

  /** A monitor subscribed to `unit` on the node; its signals are the client's with the monitor's path. */
  async monitor(unit: string): Promise<Monitor> {
    const [path] = await this.client.call(CONTROLLER_PATH, CONTROLLER_INTERFACE, 'CreateMonitor');
    await this.client.call(path as string, MONITOR_INTERFACE, 'Subscribe', 'ss', [NODE_NAME, unit]);
    return new Monitor(this.client, path as string, unit);
  }
}

class Monitor {
  constructor(
    private readonly client: TestClient,
    private readonly path: string,
    private readonly unit: string,
  ) {}

  private readonly mine = (signal: ReceivedSignal) => signal.path === this.path && signal.body[1] === this.unit;

  /** Waits for the `count`th signal `member` of this monitor matching `filter`. */
  async waitFor(member: string, filter: (body: unknown[]) => boolean = () => true, count = 1): Promise<unknown[]> {
    return (await this.client.waitFor(member, (signal) => this.mine(signal) && filter(signal.body), { count, timeoutMs: 20_000 })).body;
  }

  /** ActiveStates reported with reason "real", in order. */
  activeStates(): string[] {
    return this.client.received('UnitStateChanged', (signal) => this.mine(signal) && signal.body[4] === 'real').map((signal) => signal.body[2] as string);
  }

  /** UnitNew and UnitRemoved with their reasons, in order. */
  lifecycle(): string[] {
    return this.client.signals.filter((signal) => this.mine(signal) && ['UnitNew', 'UnitRemoved'].includes(signal.member)).map((signal) => `${signal.member} ${signal.body[2]}`);
  }
}

const fail = (name: string, text: string) => ({ ok: false, name, text });
const ok = (...body: unknown[]) => ({ ok: true, body });
const NO_SUCH_UNIT = 'org.freedesktop.systemd1.NoSuchUnit';
const UNIT_MASKED = 'org.freedesktop.systemd1.UnitMasked';

for (const backend of BACKENDS) {
  test(`${backend}: a stopped unit nothing references is unloaded — not listed, UnitRemoved, NoSuchUnit "not loaded" — and loads again on demand`, async (t) => {
    const node = await nodeWith(t, backend, [{ name: 'gc.service' }]);
    t.is(await node.listed('gc.service'), undefined, 'inactive and unreferenced: not loaded after boot');
    const monitor = await node.monitor('gc.service');
    t.is(await node.run('StartUnit', 'gc.service'), 'done');
    t.deepEqual(await node.listed('gc.service'), ['gc.service', 'gc.service', 'loaded', 'active', 'running']);
    t.is(await node.run('StopUnit', 'gc.service'), 'done');
    await monitor.waitFor('UnitRemoved');
    t.deepEqual(monitor.lifecycle(), ['UnitNew real', 'UnitRemoved real']);
    t.is(await node.listed('gc.service'), undefined);
    t.deepEqual(await node.ask('ResetFailedUnit', 's', ['gc.service']), fail(NO_SUCH_UNIT, 'Unit gc.service not loaded.'));
    t.deepEqual(await node.ask('KillUnit', 'ssi', ['gc.service', 'all', 15]), fail(NO_SUCH_UNIT, 'Unit gc.service not loaded.'));
    t.deepEqual(await node.fileState('gc.service'), ok('disabled'));
    // Reading its properties loads it; nothing holds it, so it is collected again.
    t.like(await node.properties('gc.service'), { LoadState: 'loaded', ActiveState: 'inactive', SubState: 'dead', UnitFileState: 'disabled' });
    await monitor.waitFor('UnitRemoved', () => true, 2);
    t.deepEqual(monitor.lifecycle(), ['UnitNew real', 'UnitRemoved real', 'UnitNew real', 'UnitRemoved real']);
    t.is(await node.listed('gc.service'), undefined);
    t.is(await node.run('StartUnit', 'gc.service'), 'done');
    t.deepEqual((await node.listed('gc.service'))?.slice(3), ['active', 'running']);
  });

  test(`${backend}: a unit whose process exits 1 (ExecStart=/bin/false): the start job is done, then the unit fails and stays loaded until reset`, async (t) => {
    const node = await nodeWith(t, backend, [{ name: 'fails.service', fails: true }]);
    const monitor = await node.monitor('fails.service');
    t.is(await node.run('StartUnit', 'fails.service'), 'done');
    await monitor.waitFor('UnitStateChanged', (body) => body[2] === 'failed');
    t.deepEqual(await node.listed('fails.service'), ['fails.service', 'fails.service', 'loaded', 'failed', 'failed']);
    t.like(await node.properties('fails.service', 'org.freedesktop.systemd1.Service'), { Result: 'exit-code', ExecMainStatus: 1, MainPID: 0 });
    t.is(await node.run('StopUnit', 'fails.service'), 'done', 'stopping a failed unit is done at once…');
    t.deepEqual((await node.listed('fails.service'))?.slice(3), ['failed', 'failed'], '…and leaves it failed');
    await node.call('ResetFailedUnit', 's', ['fails.service']);
    await monitor.waitFor('UnitRemoved');
    t.is(await node.listed('fails.service'), undefined);
  });

  test(`${backend}: a masked unit: start and restart refused with UnitMasked, enable refused, stop done, disable reports it`, async (t) => {
    const node = await nodeWith(t, backend, [{ name: 'masked.service', unitFileState: 'masked' }]);
    t.deepEqual(await node.fileState('masked.service'), ok('masked'));
    for (const method of ['StartUnit', 'RestartUnit', 'ReloadUnit']) {
      t.deepEqual(await node.ask(method, 'ss', ['masked.service', 'replace']), fail(UNIT_MASKED, 'Unit masked.service is masked.'), method);
    }
    t.is(await node.run('StopUnit', 'masked.service'), 'done');
    for (const [runtime, force] of [[false, false], [true, false], [false, true]] as const) {
      t.deepEqual(await node.enable(['masked.service'], runtime, force), fail(UNIT_MASKED, 'Unit /etc/systemd/system/masked.service is masked'));
    }
    t.deepEqual(await node.disable(['masked.service'], false), ok([['masked', '/etc/systemd/system/masked.service', '']]));
    t.like(await node.properties('masked.service'), {
      LoadState: 'masked',
      ActiveState: 'inactive',
      UnitFileState: 'masked',
      FragmentPath: '/etc/systemd/system/masked.service',
      LoadError: [UNIT_MASKED, 'Unit masked.service is masked.'],
    });
    const [files] = (await node.call('ListUnitFiles')) as [unknown[][]];
    t.deepEqual(files.find(([path]) => path === '/etc/systemd/system/masked.service'), ['/etc/systemd/system/masked.service', 'masked']);
  });

  test(`${backend}: runtime enablement: links in /run, "enabled-runtime"; each disable removes the links of its own scope only`, async (t) => {
    const node = await nodeWith(t, backend, [{ name: 'rt.service' }, { name: 'both.service' }, { name: 'rt-static.service', unitFileState: 'static' }]);
    const link = (dir: string, unit: string) => `${dir}/multi-user.target.wants/${unit}`;
    t.deepEqual(await node.enable(['rt.service'], true), ok(true, [['symlink', link('/run/systemd/system', 'rt.service'), '/etc/systemd/system/rt.service']]));
    t.deepEqual(await node.fileState('rt.service'), ok('enabled-runtime'));
    t.deepEqual(await node.enable(['rt.service'], true), ok(true, []));
    t.deepEqual(await node.disable(['rt.service'], false), ok([]), 'runtime=false does not touch /run');
    t.deepEqual(await node.fileState('rt.service'), ok('enabled-runtime'));
    t.deepEqual(await node.disable(['rt.service'], true), ok([['unlink', link('/run/systemd/system', 'rt.service'), '']]));
    t.deepEqual(await node.fileState('rt.service'), ok('disabled'));

    t.deepEqual(await node.enable(['both.service'], false), ok(true, [['symlink', link('/etc/systemd/system', 'both.service'), '/etc/systemd/system/both.service']]));
    t.deepEqual(await node.enable(['both.service'], true), ok(true, [['symlink', link('/run/systemd/system', 'both.service'), '/etc/systemd/system/both.service']]));
    t.deepEqual(await node.fileState('both.service'), ok('enabled'), 'a link in /etc wins');
    t.deepEqual(await node.disable(['both.service'], true), ok([['unlink', link('/run/systemd/system', 'both.service'), '']]));
    t.deepEqual(await node.fileState('both.service'), ok('enabled'));
    t.deepEqual(await node.disable(['both.service'], false), ok([['unlink', link('/etc/systemd/system', 'both.service'), '']]));
    t.deepEqual(await node.fileState('both.service'), ok('disabled'));

    t.deepEqual(await node.enable(['rt-static.service'], true), ok(false, []));
    t.deepEqual(await node.fileState('rt-static.service'), ok('static'));
    t.deepEqual(await node.disable(['rt-static.service'], true), ok([]));

    t.deepEqual(await node.enable(['rt.service', 'parity-nosuch.service'], true), fail(NO_SUCH_UNIT, 'Unit parity-nosuch.service does not exist'));
    t.deepEqual(await node.fileState('rt.service'), ok('disabled'), 'nothing was enabled');
    t.deepEqual(await node.disable(['/etc/systemd/system/rt.service'], false), fail('org.freedesktop.systemd1.BadUnitSetting', 'Invalid unit name /etc/systemd/system/rt.service'));
    t.deepEqual(await node.fileState('/etc/systemd/system/rt.service'), fail('org.freedesktop.DBus.Error.InvalidArgs', 'Invalid argument'));
  });

  test(`${backend}: job merging: a second start joins the running one; only the newer BlueChi job ends, "done"`, async (t) => {
    const node = await nodeWith(t, backend, [{ name: 'merge-start.service', startMs: 800 }]);
    const first = await node.job('StartUnit', 'merge-start.service');
    await node.running(first);
    const second = await node.job('StartUnit', 'merge-start.service', 'fail');
    t.is(await node.ended(second), 'done');
    t.deepEqual((await node.listed('merge-start.service'))?.slice(3), ['active', 'exited']);
    // Upstream's agent completes only the newest BlueChi job on a systemd job: the first never ends.
    t.is(await node.run('StopUnit', 'merge-start.service'), 'done');
    t.deepEqual(node.client.received('JobRemoved', (signal) => signal.body[1] === first), []);
  });

  test(`${backend}: job merging: a restart into a running start re-runs it as a restart (the oneshot is killed, fails, starts again)`, async (t) => {
    const node = await nodeWith(t, backend, [{ name: 'merge-restart.service', startMs: 800 }]);
    const monitor = await node.monitor('merge-restart.service');
    const start = await node.job('StartUnit', 'merge-restart.service');
    await node.running(start);
    const restart = await node.job('RestartUnit', 'merge-restart.service');
    t.is(await node.ended(restart), 'done');
    t.deepEqual(monitor.activeStates(), ['activating', 'deactivating', 'failed', 'activating', 'active']);
    // One systemd job for both BlueChi jobs: the start was not canceled, it never ends.
    t.is(await node.run('StopUnit', 'merge-restart.service'), 'done');
    t.deepEqual(node.client.received('JobRemoved', (signal) => signal.body[1] === start), []);
  });

  test(`${backend}: job merging: a start into a restart's start phase joins it; a stop in mode "fail" is refused as destructive`, async (t) => {
    const node = await nodeWith(t, backend, [{ name: 'merge-into.service', startMs: 800 }]);
    t.is(await node.run('StartUnit', 'merge-into.service'), 'done');
    const monitor = await node.monitor('merge-into.service');
    const restart = await node.job('RestartUnit', 'merge-into.service');
    await monitor.waitFor('UnitStateChanged', (body) => body[2] === 'activating');
    const start = await node.job('StartUnit', 'merge-into.service', 'fail');
    t.deepEqual(
      await node.ask('StopUnit', 'ss', ['merge-into.service', 'fail']),
      fail(
        'org.freedesktop.systemd1.TransactionIsDestructive',
        "Transaction for merge-into.service/stop is destructive (merge-into.service has 'start' job queued, but 'stop' is included in transaction).",
      ),
    );
    t.is(await node.ended(start), 'done');
    t.is(await node.run('StopUnit', 'merge-into.service'), 'done');
    t.deepEqual(node.client.received('JobRemoved', (signal) => signal.body[1] === restart), []);
  });

  test(`${backend}: a stop replaces a running start: the start ends "canceled", the stop "done", the killed oneshot failed`, async (t) => {
    const node = await nodeWith(t, backend, [{ name: 'replace.service', startMs: 800 }]);
    const start = await node.job('StartUnit', 'replace.service');
    await node.running(start);
    const stop = await node.job('StopUnit', 'replace.service');
    t.is(await node.ended(start), 'canceled');
    t.is(await node.ended(stop), 'done');
    t.deepEqual((await node.listed('replace.service'))?.slice(3), ['failed', 'failed']);
  });

  test(`${backend}: Job.Cancel of a running start: "canceled" at once, and the unit goes on to start`, async (t) => {
    const node = await nodeWith(t, backend, [{ name: 'cancel.service', startMs: 800 }]);
    const monitor = await node.monitor('cancel.service');
    const start = await node.job('StartUnit', 'cancel.service');
    await node.running(start);
    await node.client.call(start, JOB_INTERFACE, 'Cancel');
    t.is(await node.ended(start), 'canceled');
    await monitor.waitFor('UnitStateChanged', (body) => body[2] === 'active');
    t.deepEqual((await node.listed('cancel.service'))?.slice(3), ['active', 'exited']);
  });

  test(`${backend}: jobs in every state: stop when inactive, restart when inactive, start when active, reload when inactive or without ExecReload`, async (t) => {
    const node = await nodeWith(t, backend, [{ name: 'jobs.service' }, { name: 'jobs-reload.service', canReload: true }]);
    t.is(await node.run('StopUnit', 'jobs.service'), 'done');
    t.deepEqual(
      await node.ask('ReloadUnit', 'ss', ['jobs.service', 'replace']),
      fail('org.freedesktop.systemd1.JobTypeNotApplicable', 'Job type reload is not applicable for unit jobs.service.'),
    );
    t.is(await node.run('ReloadUnit', 'jobs-reload.service'), 'invalid');
    t.is(await node.run('RestartUnit', 'jobs.service'), 'done');
    t.deepEqual((await node.listed('jobs.service'))?.slice(3), ['active', 'running']);
    t.is(await node.run('StartUnit', 'jobs.service'), 'done');
    t.is(await node.run('StartUnit', 'jobs-reload.service'), 'done');
    t.is(await node.run('ReloadUnit', 'jobs-reload.service'), 'done');
    t.deepEqual((await node.listed('jobs-reload.service'))?.slice(3), ['active', 'running']);
    for (const unit of ['jobs.service', 'jobs-reload.service']) t.is(await node.run('StopUnit', unit), 'done');
  });

  test(`${backend}: daemon-reload: enablement and files changed on disk take effect; every loaded unit is removed and new again`, async (t) => {
    const node = await nodeWith(t, backend, [{ name: 'reload-a.service' }, { name: 'reload-b.service', description: 'Before', activeState: 'active' }]);
    const monitor = await node.monitor('reload-b.service');
    t.like(await node.properties('reload-b.service'), { NeedDaemonReload: false });
    await node.enable(['reload-a.service'], false);
    t.like(await node.properties('reload-b.service'), { NeedDaemonReload: true }, 'enablement changed: every unit needs a reload');
    t.is(await node.listed('reload-a.service'), undefined, 'enabled, but multi-user.target was loaded before');
    await node.reload();
    t.like(await node.properties('reload-b.service'), { NeedDaemonReload: false });
    t.deepEqual(await node.listed('reload-a.service'), ['reload-a.service', 'reload-a.service', 'loaded', 'inactive', 'dead'], 'wanted now, so kept');
    await monitor.waitFor('UnitNew', (body) => body[2] === 'real');
    t.deepEqual(monitor.lifecycle(), ['UnitNew virtual', 'UnitRemoved real', 'UnitNew real']);

    await node.disable(['reload-a.service'], false);
    await node.reload();
    t.is(await node.listed('reload-a.service'), undefined, 'no longer wanted: collected');

    await node.standin.writeUnitFile(NODE_NAME, { name: 'reload-b.service', description: 'After' });
    t.like(await node.properties('reload-b.service'), { Description: 'Before', NeedDaemonReload: true });
    await node.reload();
    t.like(await node.properties('reload-b.service'), { Description: 'After', NeedDaemonReload: false, ActiveState: 'active' });

    await node.standin.writeUnitFile(NODE_NAME, { name: 'reload-new.service' });
    t.is(await node.run('StartUnit', 'reload-new.service'), 'done', 'a new file loads without a reload');
    t.is(await node.run('StopUnit', 'reload-new.service'), 'done');
  });

  test(`${backend}: a unit without a file: NoSuchUnit "not found" to start, "not loaded" to stop, "does not exist" to enable`, async (t) => {
    const node = await nodeWith(t, backend, []);
    const unit = 'parity-nosuch.service';
    for (const method of ['StartUnit', 'RestartUnit', 'ReloadUnit']) {
      t.deepEqual(await node.ask(method, 'ss', [unit, 'replace']), fail(NO_SUCH_UNIT, `Unit ${unit} not found.`), method);
    }
    t.deepEqual(await node.ask('StopUnit', 'ss', [unit, 'replace']), fail(NO_SUCH_UNIT, `Unit ${unit} not loaded.`));
    t.deepEqual(await node.ask('ResetFailedUnit', 's', [unit]), fail(NO_SUCH_UNIT, `Unit ${unit} not loaded.`));
    t.deepEqual(await node.ask('SetUnitProperties', 'sba(sv)', [unit, true, []]), fail(NO_SUCH_UNIT, `Unit ${unit} not found.`));
    t.like(await node.properties(unit), { LoadState: 'not-found', ActiveState: 'inactive', LoadError: [NO_SUCH_UNIT, `Unit ${unit} not found.`] });
    t.deepEqual(await node.fileState(unit), fail('org.freedesktop.DBus.Error.FileNotFound', 'No such file or directory'));
    t.deepEqual(await node.enable([unit], false), fail(NO_SUCH_UNIT, `Unit ${unit} does not exist`));
    t.deepEqual(await node.disable([unit], false), fail(NO_SUCH_UNIT, `Unit ${unit} does not exist`));
    t.is(await node.listed(unit), undefined);
  });
}
