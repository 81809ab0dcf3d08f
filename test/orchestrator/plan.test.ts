// The planner, pure: layout + observed state → ordered steps. No bus.
import test from 'ava';
import fc from 'fast-check';
import { planLayout, isConverged, topologicalOrder, type Plan, type Step, type StepId } from '../../controller/orchestrator/plan.ts';
import { describePlan, countSteps } from '../../controller/orchestrator/describe.ts';
import { afterPlan, layoutOf, observedOf, unitFilesLayout, unitFilesObserved, type VehicleSketch } from './fixtures.ts';
import type { Layout } from '../../controller/layout/index.ts';
import type { Observed } from '../../controller/orchestrator/observed.ts';

function plan(layout: Layout, observed: Observed): Plan {
  const planned = planLayout(layout, observed);
  if (!planned.ok) throw new Error(planned.errors.map((error) => error.message).join('\n'));
  return planned.plan;
}

/** `id ← what it waits for to end done ⇠ what it waits for to end, however`. */
const steps = (p: Plan) => p.steps.map((step) => [step.id, ...step.after].join(' ← ') + (step.afterEnded.length > 0 ? ` ⇠ ${step.afterEnded.join(', ')}` : ''));

/** The steps that do not run when the refused steps end error: those that wait for one to end done, transitively. */
function notRun(p: Plan): string[] {
  const blocked = new Set<string>();
  for (const step of p.steps) if (step.error !== undefined || step.after.some((id) => blocked.has(id))) blocked.add(step.id);
  return [...blocked];
}

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

test('from cold: enable, daemon-reload once the enable ended, then starts in dependency order across nodes', (t) => {
  const p = plan(vehicle, observedOf({ a: { units: { 'gw.service': ['inactive', 'disabled'], 'debug.service': ['inactive', 'disabled'] } }, 'qm.a': {}, b: {} }));
  // In waves: everything ready at once first, then what waited for it.
  t.deepEqual(steps(p), [
    'enable a/gw.service',
    'start b/can.service',
    'daemon-reload a ⇠ enable a/gw.service',
    'start a/gw.service ← daemon-reload a ← enable a/gw.service',
    'start qm.a/radio.service ← start a/gw.service',
    'start b/climate.service ← start b/can.service ← start a/gw.service',
    'start qm.a/ui.service ← start qm.a/radio.service',
  ]);
  // Ordered so that every step comes after what it waits for.
  const position = new Map(p.steps.map((step, index) => [step.id, index]));
  for (const step of p.steps) for (const before of [...step.after, ...step.afterEnded]) t.true(position.get(before)! < position.get(step.id)!);
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
  t.deepEqual(steps(p), ['disable a/debug.service', 'daemon-reload a ⇠ disable a/debug.service', 'stop a/debug.service ← daemon-reload a']);
  t.deepEqual(p.steps.map((step) => step.change), ['enabled → disabled', 'reload unit files', 'active → stopped']);
});

test('enabled: false converges on a runtime enablement: disabled in the runtime scope, and the plan says so', (t) => {
  const layout = layoutOf(`nodes:
  a:
    units:
      run.service: { enabled: false, state: stopped }
      etc.service: { enabled: false, state: stopped }
`);
  const observed = observedOf({ a: { units: { 'run.service': ['inactive', 'enabled-runtime'], 'etc.service': ['inactive', 'enabled'] } } });
  const p = plan(layout, observed);
  t.deepEqual(
    p.steps.map((step) => [step.id, step.change, step.scopes]),
    [
      ['disable a/run.service', 'enabled-runtime → disabled (runtime)', ['runtime']],
      // systemd says `enabled` when /etc has links, whether or not /run has some too: both go.
      ['disable a/etc.service', 'enabled → disabled', ['persistent', 'runtime']],
      ['daemon-reload a', 'reload unit files', undefined],
    ],
  );
  t.regex(describePlan(p), /~ disable +run\.service +enabled-runtime → disabled \(runtime\)/);
  t.true(isConverged(plan(layout, afterPlan(observed, p))));
});

test('enabled: true on a masked unit is refused, naming node and unit; it holds back only its own start and what needs it', (t) => {
  const p = plan(unitFilesLayout, unitFilesObserved('masked'));
  const refused = p.steps.find((step) => step.id === 'enable a/radio.service')!;
  t.like(refused.error, { code: 'unit-masked', origin: { node: 'a', unit: 'radio.service', dbusName: 'org.freedesktop.systemd1.UnitMasked' } });
  t.is(refused.error?.message, 'radio.service on node a is masked: systemd refuses to enable it (unmask it, or leave out enabled)');
  t.is(refused.change, 'masked: cannot be enabled');
  // The reload does not wait for what will not run; it waits for the other enables to end, whatever their result.
  t.true(steps(p).includes('daemon-reload a ⇠ enable a/nav.service, enable a/clock.service'));
  t.deepEqual(notRun(p), ['enable a/radio.service', 'start a/radio.service', 'start a/nav.service', 'start a/map.service', 'start b/ui.service']);
  t.regex(describePlan(p), /! enable +radio\.service +masked: cannot be enabled/);
  t.regex(describePlan(p), /Plan: 6 to start, 0 to stop, 2 to enable, 0 to disable, 1 daemon-reload; 1 refused\.$/);
  t.like(countSteps(p), { enable: 2, refused: 1 });
  // A masked unit whose enablement the layout leaves alone, or wants off, needs nothing.
  const alone = plan(layoutOf('nodes:\n  a:\n    units:\n      radio.service: { enabled: false, state: stopped }\n'), observedOf({ a: { units: { 'radio.service': ['inactive', 'masked'] } } }));
  t.true(isConverged(alone));
});

test('a unit-file step holds back only its own unit: the reload waits for it to end, a start only for its own', (t) => {
  const layout = layoutOf(`nodes:
  a:
    units:
      one.service: { enabled: true }
      two.service: { enabled: false }
      three.service: {}
      four.service: { state: stopped }
`);
  const p = plan(layout, observedOf({ a: { units: { 'one.service': ['inactive', 'disabled'], 'two.service': ['inactive', 'enabled'], 'four.service': 'active' } } }));
  t.deepEqual(steps(p), [
    'enable a/one.service',
    'disable a/two.service',
    'daemon-reload a ⇠ enable a/one.service, disable a/two.service',
    'start a/one.service ← daemon-reload a ← enable a/one.service',
    'start a/two.service ← daemon-reload a ← disable a/two.service',
    'start a/three.service ← daemon-reload a',
    'stop a/four.service ← daemon-reload a',
  ]);
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
  t.deepEqual(countSteps(p), { start: 3, stop: 1, enable: 1, disable: 0, 'daemon-reload': 1, refused: 0, waiting: 2 });
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

test('property: steps come after what they wait for, starts follow needs, a unit-file step holds back only its own unit, and a perfect apply converges', (t) => {
  fc.assert(
    fc.property(arbitraryVehicle, ({ layout, observed }) => {
      const p = plan(layout, observed);
      const position = new Map(p.steps.map((step, index) => [step.id, index]));
      for (const step of p.steps) {
        for (const before of [...step.after, ...step.afterEnded]) if (!(position.get(before)! < position.get(step.id)!)) return false;
        // The reload runs whatever the unit-file steps' results: it never waits for one to end done.
        if (step.action === 'daemon-reload' && step.after.length > 0) return false;
        if (step.action === 'start' || step.action === 'stop') {
          const unit = layout.units.get(`${step.node}/${step.unit}` as never)!;
          const related = step.action === 'start' ? unit.needs.map((need) => `start ${need.node}/${need.unit}`) : [];
          const allowed = new Set([`daemon-reload ${step.node}`, ...related, ...(step.action === 'start' ? [`enable ${unit.key}`, `disable ${unit.key}`] : [])]);
          for (const before of step.after) if (!allowed.has(before) && !before.startsWith('stop ')) return false;
          for (const id of related) if (position.has(id as never) && !step.after.includes(id as never)) return false;
        }
      }
      // What is left after a perfect apply: only what systemd refuses (enabling a masked unit) and what waits on it.
      const second = plan(layout, afterPlan(observed, p));
      const left = new Set(notRun(second));
      return second.waiting.length === 0 && second.steps.every((step) => left.has(step.id));
    }),
    { numRuns: 300 },
  );
  t.pass();
});

/** topologicalOrder as it was before the level-bucket order (O(S²)): the reference the new one must match exactly. */
function quadraticOrder(steps: readonly Step[]): Step[] {
  const remaining = new Map(steps.map((step) => [step.id, new Set([...step.after, ...step.afterEnded])]));
  const ordered: Step[] = [];
  while (ordered.length < steps.length) {
    const ready = steps.filter((step) => remaining.get(step.id)?.size === 0);
    if (ready.length === 0) throw new Error(`plan has a cycle among ${[...remaining.keys()].join(', ')}`);
    for (const step of ready) {
      remaining.delete(step.id);
      ordered.push(step);
    }
    for (const pending of remaining.values()) for (const step of ready) pending.delete(step.id);
  }
  return ordered;
}

/** Steps with ids drawn from a small pool (so ids repeat), each after any others — cycles, self and unknown ids included. */
const arbitrarySteps = fc
  .array(
    fc.record({ id: fc.nat({ max: 40 }), after: fc.array(fc.nat({ max: 45 }), { maxLength: 4 }), afterEnded: fc.array(fc.nat({ max: 45 }), { maxLength: 2 }) }),
    { maxLength: 40 },
  )
  .map((specs) =>
    specs.map(
      ({ id, after, afterEnded }, index): Step => ({
        id: `s${id}` as StepId,
        node: 'n' as never,
        action: 'daemon-reload',
        after: after.map((other) => `s${other}` as StepId),
        afterEnded: afterEnded.map((other) => `s${other}` as StepId),
        change: `#${index}`,
      }),
    ),
  );

/** Acyclic steps: each after earlier ones only, in a shuffled input order. */
const arbitraryAcyclic = fc
  .array(fc.array(fc.nat(), { maxLength: 4 }), { maxLength: 60 })
  .chain((needs) => fc.tuple(fc.constant(needs), fc.shuffledSubarray([...needs.keys()], { minLength: needs.length, maxLength: needs.length })))
  .map(([needs, order]) =>
    order.map((index): Step => {
      const after = index === 0 ? [] : needs[index]!.map((pick) => `s${pick % index}` as StepId);
      return { id: `s${index}` as StepId, node: 'n' as never, action: 'daemon-reload', after: after.slice(1), afterEnded: after.slice(0, 1), change: '' };
    }),
  );

const outcome = (order: (steps: readonly Step[]) => Step[], steps: readonly Step[]) => {
  try {
    return { order: order(steps).map((step) => step.change || step.id) };
  } catch (error) {
    return { error: (error as Error).message };
  }
};

test('property: the level-bucket topological order is the old quadratic one, step for step, and fails on the same cycles with the same message', (t) => {
  for (const steps of [arbitrarySteps, arbitraryAcyclic]) {
    fc.assert(
      fc.property(steps, (input) => {
        t.deepEqual(outcome(topologicalOrder, input), outcome(quadraticOrder, input));
      }),
      { numRuns: 2_000 },
    );
  }
  // And on the plans the layouts give.
  fc.assert(
    fc.property(arbitraryVehicle, ({ layout, observed }) => {
      const steps = [...plan(layout, observed).steps].reverse();
      t.deepEqual(outcome(topologicalOrder, steps), outcome(quadraticOrder, steps));
    }),
    { numRuns: 300 },
  );
});
