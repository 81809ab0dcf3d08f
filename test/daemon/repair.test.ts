// qm-controller's restart budget against the BlueChi stand-in: spent by repairs that ran, not by drift reports.
import test from 'ava';
import { starts, startDaemonVehicle, until } from './harness.ts';

const LAYOUT = `nodes:
  a:
    units:
      web.service: { restart: { attempts: 3, window: 1m, backoff: 300ms } }
`;

test('a unit that fails and comes back by itself before its repair runs costs no budget: four such flaps leave it whole', async (t) => {
  // In memory: the point is timing, a unit back before its repair's backoff runs out.
  const { standin, daemon, log } = await startDaemonVehicle(t, [{ name: 'a', units: [{ name: 'web.service' }] }], LAYOUT, { backend: 'memory' });
  await until('converged', async () => (await daemon.status()).converged);
  await daemon.settled();
  // Each drift is decided on once: a repair scheduled, or the budget found exhausted.
  const decisions = () => log.filter((line) => /^(warn|error): a\/web\.service (left its desired state|is failed)/.test(line)).length;
  for (let flap = 1; flap <= 4; flap++) {
    standin.setUnitState('a', 'web.service', 'failed', 'failed');
    await until(`the daemon decided on flap ${flap}`, () => decisions() === flap);
    // As systemd's Restart= would: back before the repair's backoff ran out.
    standin.setUnitState('a', 'web.service', 'active', 'running');
    await daemon.settled();
  }
  const web = () => daemon.status().then((status) => status.units.find((unit) => unit.unit === 'web.service')!);
  t.like((await web()).repairs, { done: 0, left: 3, budget: 3, exhausted: false });
  t.is(starts(standin, 'a', 'web.service'), 1, 'no repair had anything to do');
  t.false(log.some((line) => /exhausted/.test(line)));

  // A failure that stays is still repaired, and that repair is what the budget counts.
  standin.setUnitState('a', 'web.service', 'failed', 'failed');
  await until('web.service repaired', () => standin.unitState('a', 'web.service')?.activeState === 'active');
  await daemon.settled();
  t.like((await web()).repairs, { done: 1, left: 2, exhausted: false });
  t.is(starts(standin, 'a', 'web.service'), 2);
});
