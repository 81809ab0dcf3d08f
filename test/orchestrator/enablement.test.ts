// applyLayout's unit-file steps against systemd's enablement, the same on a real systemd 257 node and in memory:
// runtime and persistent enablement converge, a masked unit is refused without holding back the rest, and once
// applied again only the masked unit is refused.
import test from 'ava';
import { applyLayout, type ApplyResult } from '../../controller/orchestrator/apply.ts';
import { layoutOf } from './fixtures.ts';
import { realNodes, startVehicle } from './vehicle.ts';

const real = realNodes(['a']);
test.before(() => real.boot());
test.after.always(() => real.stop());

const layout = layoutOf(`nodes:
  a:
    units:
      run.service: { enabled: false, state: stopped }
      both.service: { enabled: false, state: stopped }
      boot.service: { enabled: true }
      radio.service: { enabled: true }
      after.service: { needs: [boot.service] }
`);

const results = (result: ApplyResult) => {
  if (result.kind !== 'applied') throw new Error(result.errors.map((error) => error.message).join('\n'));
  return Object.fromEntries(result.reports.map((report) => [report.step.id, report.result]));
};

for (const backend of ['systemd', 'memory'] as const) {
  test(`${backend}: runtime and persistent enablement converge, a masked unit is refused alone, and applying again refuses only it`, async (t) => {
    const { standin, client } = await startVehicle(
      t,
      [
        {
          name: 'a',
          units: [
            { name: 'run.service', unitFileState: 'enabled-runtime' },
            { name: 'both.service', unitFileState: 'enabled' },
            { name: 'boot.service' },
            { name: 'radio.service', unitFileState: 'masked' },
            { name: 'after.service' },
          ],
        },
      ],
      { backend },
    );
    // both.service also has a runtime link, as `systemctl enable --runtime` on an enabled unit leaves it.
    t.is((await client.node('a').enableUnitFiles(['both.service'], true)).changes.length, 1);

    t.deepEqual(results(await applyLayout(client, layout)), {
      'disable a/run.service': 'done',
      'disable a/both.service': 'done',
      'enable a/boot.service': 'done',
      'enable a/radio.service': 'error',
      'daemon-reload a': 'done',
      'start a/boot.service': 'done',
      'start a/after.service': 'done',
      'start a/radio.service': 'dependency',
    });
    const fileStates = async () =>
      Object.fromEntries(
        await Promise.all(['run.service', 'both.service', 'boot.service', 'radio.service'].map(async (unit) => [unit, (await standin.readUnitState('a', unit)).unitFileState])),
      );
    t.deepEqual(await fileStates(), { 'run.service': 'disabled', 'both.service': 'disabled', 'boot.service': 'enabled', 'radio.service': 'masked' });

    // Only the masked unit is left: refused again, nothing else to do.
    const again = await applyLayout(client, layout);
    t.deepEqual(results(again), { 'enable a/radio.service': 'error', 'start a/radio.service': 'dependency' });
    t.deepEqual(await fileStates(), { 'run.service': 'disabled', 'both.service': 'disabled', 'boot.service': 'enabled', 'radio.service': 'masked' });
  });
}
