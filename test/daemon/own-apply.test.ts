// qm-controller spends a restart budget only on repairs that ran, never on the transitions of its own apply: not on
// the unit states BlueChi resends after the apply's daemon-reload, not on the steps it runs. On real systemd 257.
import test from 'ava';
import { merge, Subject } from 'rxjs';
import { blueChi, type BlueChi, type MonitorEvent } from '../../controller/bluechi/client.ts';
import { realNodes, starts, until } from './harness.ts';
import { startDaemonWith } from './with-client.ts';

const real = realNodes(['a']);
test.before(() => real.boot());
test.after.always(() => real.stop());

/**
 * A real client, except that a node's daemon-reload is followed by UnitStateChanged for each unit loaded on it, as
 * real BlueChi's agent resends them (the stand-in's agent does not); the reload's reply comes after them.
 */
function resendingOnReload(...args: Parameters<typeof blueChi>): BlueChi {
  const client = blueChi(...args);
  const resent = new Subject<MonitorEvent>();
  const node = (name: string) => {
    const real = client.node(name);
    return {
      ...real,
      async reload() {
        await real.reload();
        for (const unit of await real.listUnits()) {
          resent.next({ kind: 'UnitStateChanged', node: name, unit: unit.name, activeState: unit.activeState, subState: unit.subState, reason: 'real' });
        }
        return undefined;
      },
    };
  };
  const watchUnits: BlueChi['watchUnits'] = (...watched) => {
    const stream = client.watchUnits(...watched);
    return Object.assign(merge(stream, resent), { ready: () => stream.ready() });
  };
  return { ...client, node, watchUnits };
}

test('restart { attempts: 1 }: the start-up apply\'s daemon-reload (BlueChi then resends the node\'s unit states) spends nothing; the first real failure is repaired', async (t) => {
  const { standin, daemon, log } = await startDaemonWith(
    t,
    [{ name: 'a', units: [{ name: 'web.service', activeState: 'active' }, { name: 'flag.service' }] }],
    // flag.service's enablement makes the apply reload a's unit files before it starts web.service.
    `nodes:
  a:
    units:
      web.service: { restart: { attempts: 1, window: 1m, backoff: 100ms } }
      flag.service: { enabled: true }
`,
    resendingOnReload,
    // web.service failed before qm-controller started: its apply starts it, after the reload.
    { before: (standin) => standin.onNode('a', 'web.service', 'kill') },
  );
  await until('converged', async () => (await daemon.status()).converged);
  await daemon.settled();
  t.deepEqual(
    (await daemon.status()).lastApply?.steps.map((step) => step.id),
    ['enable a/flag.service', 'daemon-reload a', 'start a/web.service', 'start a/flag.service'],
  );
  const web = async () => (await daemon.status()).units.find((unit) => unit.unit === 'web.service')!.repairs;
  t.like(await web(), { done: 0, left: 1, exhausted: false });
  t.true(log.some((line) => line.startsWith('info: apply (BlueChi up): applied, 4 of 4 steps done')), log.join('\n'));

  await standin.onNode('a', 'web.service', 'kill');
  await until('web.service repaired', async () => (await standin.readUnitState('a', 'web.service')).activeState === 'active');
  await daemon.settled();
  t.like(await web(), { done: 1, left: 0, exhausted: false });
  t.is(starts(standin, 'a', 'web.service'), 2, 'the start-up apply, then the repair');
  t.false(log.some((line) => /exhausted/.test(line)), log.join('\n'));
});
