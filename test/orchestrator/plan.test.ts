// The planner, pure: layout + observed state → ordered steps. No bus.
import test from 'ava';
import fc from 'fast-check';
import { planLayout, isConverged, type Plan } from '../../controller/orchestrator/plan.ts';
import { describePlan, countSteps } from '../../controller/orchestrator/describe.ts';
import { afterPlan, layoutOf, observedOf, type VehicleSketch } from './fixtures.ts';
import type { Layout } from '../../controller/layout/index.ts';
import type { Observed } from '../../controller/orchestrator/observed.ts';

function plan(layout: Layout, observed: Observed): Plan {
  const planned = planLayout(layout, observed);
  if (!planned.ok) throw new Error(planned.errors.map((error) => error.message).join('\n'));
  return planned.plan;
}

const steps = (p: Plan) => p.steps.map((step) => [step.id, ...step.after].join(' ← '));

const vehicle = layoutOf(`nodes:
  a:
    qm: true
    units:
      gw.service: { enabled: true }
      debug.service: { state: stopped, enabled: false }
    qm-units:
      radio.service: { needs: [a/gw.service] }
      ui.service: { needs: [radio.service] }
  b:
    units:
      can.service: {}
      climate.service: { needs: [can.service, a/gw.service] }
`);

const allUp: VehicleSketch = {
  a: { units: { 'gw.service': ['active', 'enabled'], 'debug.service': ['inactive', 'disabled'] } },
  'qm.a': { units: { 'radio.service': 'active', 'ui.service': 'active' } },
  b: { units: { 'can.service': 'active', 'climate.service': 'active' } },
};

test('a vehicle that matches its layout needs nothing', (t) => {
  const p = plan(vehicle, observedOf(allUp));
  t.deepEqual(p.steps, []);
  t.true(isConverged(p));
  t.is(describePlan(p), 'No changes: the vehicle matches the layout.');
});

test('from cold: enable, daemon-reload, then starts in dependency order across nodes', (t) => {
  const p = plan(vehicle, observedOf({ a: { units: { 'gw.service': ['inactive', 'disabled'], 'debug.service': ['inactive', 'disabled'] } }, 'qm.a': {}, b: {} }));
  // In waves: everything ready at once first, then what waited for it.
  t.deepEqual(steps(p), [
    'enable a/gw.service',
    'start b/can.service',
    'daemon-reload a ← enable a/gw.service',
    'start a/gw.service ← daemon-reload a',
    'start qm.a/radio.service ← start a/gw.service',
    'start b/climate.service ← start b/can.service ← start a/gw.service',
    'start qm.a/ui.service ← start qm.a/radio.service',
  ]);
  // Ordered so that every step comes after what it waits for.
  const position = new Map(p.steps.map((step, index) => [step.id, index]));
  for (const step of p.steps) for (const before of step.after) t.true(position.get(before)! < position.get(step.id)!);
});

test('a dependency already running is not waited for; a start is only ordered after starts', (t) => {
  const p = plan(vehicle, observedOf({ ...allUp, 'qm.a': { units: { 'radio.service': 'active', 'ui.service': 'failed' } }, b: { units: { 'can.service': 'inactive', 'climate.service': 'inactive' } } }));
  t.deepEqual(steps(p), ['start qm.a/ui.service', 'start b/can.service', 'start b/climate.service ← start b/can.service']);
});

test('stops run in reverse dependency order: a unit stops before what it needs', (t) => {
  const layout = layoutOf(`nodes:
  a:
    units:
      db.service: { state: stopped }
      app.service: { state: stopped, needs: [db.service, b/cache.service] }
  b:
    units:
      cache.service: { state: stopped }
`);
  const p = plan(layout, observedOf({ a: { units: { 'db.service': 'active', 'app.service': 'active' } }, b: { units: { 'cache.service': 'active' } } }));
  t.deepEqual(steps(p), ['stop a/app.service', 'stop a/db.service ← stop a/app.service', 'stop b/cache.service ← stop a/app.service']);
});

test('enabling and disabling: only what differs; static units are left alone; stopping a unit needs no reload wait elsewhere', (t) => {
  const p = plan(
    vehicle,
    observedOf({
      ...allUp,
      a: { units: { 'gw.service': ['active', 'static'], 'debug.service': ['active', 'enabled'] } },
    }),
  );
  t.deepEqual(steps(p), ['disable a/debug.service', 'daemon-reload a ← disable a/debug.service', 'stop a/debug.service ← daemon-reload a']);
  t.deepEqual(p.steps.map((step) => step.change), ['enabled → disabled', 'reload unit files', 'active → stopped']);
});

test('an offline node waits, and so does what needs its units; the rest goes ahead', (t) => {
  const p = plan(vehicle, observedOf({ a: { online: false }, 'qm.a': {}, b: {} }));
  t.deepEqual(steps(p), ['start b/can.service']);
  t.deepEqual(p.offline, ['a']);
  t.deepEqual(
    p.waiting.map((wait) => `${wait.key}: ${wait.reason}`),
    [
      'a/gw.service: node a is offline',
      'a/debug.service: node a is offline',
      'qm.a/radio.service: a/gw.service is on node a, which is offline',
      'qm.a/ui.service: qm.a/radio.service waits: a/gw.service is on node a, which is offline',
      'b/climate.service: a/gw.service is on node a, which is offline',
    ],
  );
  t.false(isConverged(p));
});

test('layout nodes BlueChi does not know are errors naming node and position; nothing is planned', (t) => {
  const planned = planLayout(vehicle, observedOf({ a: {}, b: {} }));
  t.false(planned.ok);
  if (planned.ok) return;
  t.is(planned.errors.length, 1);
  const [error] = planned.errors;
  t.is(error!.code, 'node-unknown');
  t.like(error!.origin, { node: 'qm.a', file: 'layout0.yaml', line: 2, column: 3 });
  t.regex(error!.message, /node qm.a \(the QM partition of a\) is in the layout but not known to the BlueChi controller; known nodes: a, b/);
});

test('the diff reads per node, names dependencies and sums up', (t) => {
  const p = plan(vehicle, observedOf({ a: { units: { 'gw.service': ['inactive', 'disabled'], 'debug.service': ['active', 'disabled'] } }, 'qm.a': {}, b: { online: false } }));
  t.is(
    describePlan(p),
    `a
  ~ enable         gw.service     disabled → enabled
  ↻ daemon-reload                 reload unit files
  + start          gw.service     inactive → running
  - stop           debug.service  active → stopped

qm.a
  + start  radio.service  inactive → running  after a/gw.service
  + start  ui.service     inactive → running  after qm.a/radio.service

waiting
  b/can.service: node b is offline
  b/climate.service: node b is offline

Plan: 3 to start, 1 to stop, 1 to enable, 0 to disable, 1 daemon-reload; 2 waiting (offline: b).`,
  );
  t.deepEqual(countSteps(p), { start: 3, stop: 1, enable: 1, disable: 0, 'daemon-reload': 1, waiting: 2 });
});

// Random acyclic layouts (a unit needs only earlier units; a running unit only running ones) and random states.
const ACTIVE = ['active', 'inactive', 'failed', 'activating', 'deactivating', 'reloading'];
const FILES = ['enabled', 'disabled', 'static', 'enabled-runtime', 'masked', 'linked'];

const arbitraryVehicle = fc
  .array(
    fc.record({
      node: fc.integer({ min: 0, max: 3 }),
      running: fc.boolean(),
      enabled: fc.constantFrom(true, false, undefined),
      needs: fc.array(fc.nat(), { maxLength: 3 }),
      active: fc.constantFrom(...ACTIVE),
      file: fc.constantFrom(...FILES),
    }),
    { maxLength: 25 },
  )
  .map((specs) => {
    const nodes: Record<string, { units: Record<string, object> }> = {};
    const sketch: VehicleSketch = {};
    specs.forEach((spec, index) => {
      const node = `n${spec.node}`;
      const unit = `u${index}.service`;
      const candidates = specs.slice(0, index).map((other, at) => ({ other, at })).filter(({ other }) => !spec.running || other.running);
      const needs = [...new Set(spec.needs.filter(() => candidates.length > 0).map((pick) => candidates[pick % candidates.length]!))].map(
        ({ other, at }) => `n${other.node}/u${at}.service`,
      );
      (nodes[node] ??= { units: {} }).units[unit] = { state: spec.running ? 'running' : 'stopped', enabled: spec.enabled, needs };
      ((sketch[node] ??= { units: {} }).units as Record<string, [string, string]>)[unit] = [spec.active, spec.file];
    });
    return { layout: layoutOf(JSON.stringify({ nodes })), observed: observedOf(sketch) };
  });

test('property: steps come after what they wait for, starts follow needs, and a perfect apply converges', (t) => {
  fc.assert(
    fc.property(arbitraryVehicle, ({ layout, observed }) => {
      const p = plan(layout, observed);
      const position = new Map(p.steps.map((step, index) => [step.id, index]));
      for (const step of p.steps) {
        for (const before of step.after) if (!(position.get(before)! < position.get(step.id)!)) return false;
        if (step.action === 'start') {
          const unit = layout.units.get(`${step.node}/${step.unit}` as never)!;
          for (const need of unit.needs) {
            const id = `start ${need.node}/${need.unit}`;
            if (position.has(id as never) && !step.after.includes(id as never)) return false;
          }
        }
      }
      return isConverged(plan(layout, afterPlan(observed, p)));
    }),
    { numRuns: 300 },
  );
  t.pass();
});
