// The layout: parse, merge drop-ins, validate — every error at once, with file:line:column and field.
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLayout, loadLayout, layoutFiles, parseDuration, findCycles, LAYOUT_KEYS, type Layout } from '../../controller/layout/index.ts';
import type { QmError } from '../../controller/errors.ts';

const layout = (...texts: string[]) => readLayout(texts.map((text, index) => ({ file: `f${index}.yaml`, text })));

function ok(result: ReturnType<typeof readLayout>): Layout {
  if (!result.ok) throw new Error(result.errors.map((error) => `${error.position}${error.message}`).join('\n'));
  return result.layout;
}

function errors(result: ReturnType<typeof readLayout>): string[] {
  if (result.ok) throw new Error('expected errors');
  return result.errors.map((error: QmError) => `${error.position}${error.origin.field ? `${error.origin.field}: ` : ''}${error.message}`);
}

test('a minimal layout: defaults are running, enablement left alone, the default restart budget', (t) => {
  const parsed = ok(layout('nodes:\n  ecu-a:\n    units:\n      a.service:\n'));
  const unit = parsed.units.get('ecu-a/a.service' as never)!;
  t.is(unit.state, 'running');
  t.is(unit.enabled, undefined);
  t.deepEqual(unit.needs, []);
  t.deepEqual(unit.restart, { attempts: 3, windowMs: 300_000, backoffMs: 1000 });
  t.deepEqual(unit.origin, { file: 'f0.yaml', line: 4, column: 7 });
});

test('QM units run on the node qm.<host>; dependencies resolve on their own node unless NODE/UNIT', (t) => {
  const parsed = ok(
    layout(`nodes:
  ecu-a:
    qm: true
    units:
      gw.service: { enabled: true }
    qm-units:
      radio.service:
        needs: [ecu-a/gw.service, ui.service]
        restart: { attempts: 1, window: 1m30s, backoff: 250ms }
      ui.service:
`),
  );
  const radio = parsed.units.get('qm.ecu-a/radio.service' as never)!;
  t.is<string, string>(radio.node, 'qm.ecu-a');
  t.is<string, string>(radio.host, 'ecu-a');
  t.true(radio.partition);
  t.deepEqual(radio.needs as unknown, [
    { node: 'ecu-a', unit: 'gw.service', key: 'ecu-a/gw.service' },
    { node: 'qm.ecu-a', unit: 'ui.service', key: 'qm.ecu-a/ui.service' },
  ]);
  t.deepEqual(radio.restart, { attempts: 1, windowMs: 90_000, backoffMs: 250 });
  t.is(parsed.units.get('ecu-a/gw.service' as never)!.enabled, true);
});

test('drop-ins merge in order: later keys win, maps merge, lists replace, positions follow the value', (t) => {
  const parsed = ok(
    layout(
      'nodes:\n  a:\n    units:\n      x.service: { state: stopped, enabled: true }\n      y.service: { needs: [x.service] }\n',
      'nodes:\n  a:\n    units:\n      x.service: { state: running }\n      y.service: { needs: [] }\n  b:\n    units: { z.service: {} }\n',
    ),
  );
  const x = parsed.units.get('a/x.service' as never)!;
  t.is(x.state, 'running');
  t.is(x.enabled, true);
  t.is(x.origin.file, 'f1.yaml');
  t.deepEqual(parsed.units.get('a/y.service' as never)!.needs, []);
  t.deepEqual([...parsed.nodes.keys()], ['a', 'b']);
});

test('every error at once, in reading order, with file:line:column and field', (t) => {
  const result = layout(
    `nodes:
  ecu-a:
    qm: yes please
    units:
      good.service:
        stat: running
        needs: [missing.service, ecu-z/x.service]
      "bad name.service": {}
      stopped.service: { state: stopped }
      runner.service: { state: sometimes, needs: [stopped.service] }
    qm-units:
      q.service:
        restart: { attempts: -1, window: soon }
`,
  );
  t.deepEqual(errors(result), [
    'f0.yaml:3:9: nodes.ecu-a.qm: qm must be true or false, not "yes please"',
    'f0.yaml:6:9: nodes.ecu-a.units[good.service].stat: unknown key "stat" (did you mean "state"?); known keys: state, enabled, needs, restart',
    'f0.yaml:7:17: nodes.ecu-a.units[good.service].needs[0]: ecu-a/good.service needs ecu-a/missing.service, which the layout does not declare',
    'f0.yaml:7:34: nodes.ecu-a.units[good.service].needs[1]: ecu-a/good.service needs ecu-z/x.service, but node ecu-z is not in the layout',
    'f0.yaml:8:7: nodes.ecu-a.units[bad name.service]: invalid unit name "bad name.service": it contains " ", which systemd does not allow (use systemd-escape)',
    'f0.yaml:10:32: nodes.ecu-a.units[runner.service].state: state must be one of running, stopped, not "sometimes"',
    'f0.yaml:10:51: nodes.ecu-a.units[runner.service].needs[0]: ecu-a/runner.service should run but needs ecu-a/stopped.service, which the layout wants stopped',
    'f0.yaml:12:7: nodes.ecu-a.qm-units: node ecu-a has QM units but no QM partition: set "qm: true" on ecu-a or move the units to "units"',
    'f0.yaml:13:30: nodes.ecu-a.qm-units[q.service].restart.attempts: attempts must be a whole number ≥ 0, not -1',
    'f0.yaml:13:42: nodes.ecu-a.qm-units[q.service].restart.window: window must be a duration such as 500ms, 10s, 5m or 1h30m (a bare number is seconds), not "soon"',
  ]);
});

test('errors carry code config and origin {file, line, column, field}', (t) => {
  const result = layout('nodes:\n  a:\n    bogus: 1\n');
  t.false(result.ok);
  if (result.ok) return;
  t.is(result.errors[0]!.code, 'config');
  t.deepEqual(result.errors[0]!.origin, { file: 'f0.yaml', line: 3, column: 5, field: 'nodes.a.bogus' });
});

test('cycles are named, across nodes too, once per cycle', (t) => {
  const result = layout(`nodes:
  a:
    units:
      one.service: { needs: [b/two.service] }
      self.service: { needs: [self.service] }
  b:
    units:
      two.service: { needs: [three.service] }
      three.service: { needs: [a/one.service] }
`);
  t.deepEqual(errors(result), [
    'f0.yaml:4:30: nodes.a.units[one.service].needs[0]: dependency cycle: a/one.service → b/two.service → b/three.service → a/one.service',
    'f0.yaml:5:31: nodes.a.units[self.service].needs[0]: dependency cycle: a/self.service → a/self.service',
  ]);
});

test('duplicate nodes: a key twice in a file, or a host partition declared as a node of its own', (t) => {
  t.deepEqual(errors(layout('nodes:\n  a: {}\n  a: {}\n')), ['f0.yaml:3:3: nodes.a: "a" appears twice in this map (first on line 2); a key may appear once in a file']);
  t.deepEqual(errors(layout('nodes:\n  a: { qm: true }\n  qm.a: {}\n')), [
    'f0.yaml:3:3: nodes[qm.a]: node qm.a is declared twice: it is the QM partition of a (qm: true at f0.yaml:2:12); put its units under a.qm-units',
  ]);
});

test('a dependency on a partition that does not exist says so', (t) => {
  t.deepEqual(errors(layout('nodes:\n  a:\n    units:\n      x.service: { needs: [qm.a/y.service] }\n')), [
    'f0.yaml:4:28: nodes.a.units[x.service].needs[0]: a/x.service needs qm.a/y.service, but node qm.a is not in the layout (a has no QM partition)',
  ]);
});

test('syntax errors of several files are all reported, and the structure must be maps', (t) => {
  const result = layout('nodes: [\n', 'nodes:\n  a: {\n');
  t.is(errors(result).length, 2);
  t.deepEqual(errors(layout('- 1\n')), ['f0.yaml:1:1: the layout must be a map with "nodes", not a list']);
  t.deepEqual(errors(layout('version: 2\nnodes: {}\n')), ['f0.yaml:1:10: version: version must be 1, the only layout version this controller reads']);
  t.deepEqual(errors(layout('')), ['f0.yaml:1:1: the layout must be a map with "nodes", not an empty value']);
});

test('QM units made invalid by a drop-in that turns QM off point at the unit', (t) => {
  const result = layout('nodes:\n  a:\n    qm: true\n    qm-units:\n      q.service: {}\n', 'nodes:\n  a:\n    qm: false\n');
  t.deepEqual(errors(result), [
    'f0.yaml:5:7: nodes.a.qm-units: node a has QM units but no QM partition: f1.yaml:3:9 sets "qm: false"; set "qm: true" on a or move the units to "units"',
  ]);
});

test('durations', (t) => {
  t.is(parseDuration('1h30m'), 5_400_000);
  t.is(parseDuration('500ms'), 500);
  t.is(parseDuration(2), 2000);
  t.is(parseDuration('1.5s'), 1500);
  t.is(parseDuration('5 minutes'), undefined);
  t.is(parseDuration(-1), undefined);
});

test('findCycles on a long chain does not overflow and finds the closing edge', (t) => {
  const n = 100_000;
  const cycles = findCycles(
    Array.from({ length: n }, (_, index) => index),
    (index) => [(index + 1) % n],
  );
  t.is(cycles.length, 1);
  t.is(cycles[0]!.length, n + 1);
});

const example = fileURLToPath(new URL('../../examples/vehicle/', import.meta.url));

test('the example vehicle: layout.yaml then layout.d/ in lexical order', async (t) => {
  const files = { files: [`${example}layout.yaml`, `${example}layout.d/50-integrator.yaml`], errors: [] };
  t.deepEqual(await layoutFiles([example]), files);
  t.deepEqual(await layoutFiles([`${example}layout.yaml`]), files);
  const parsed = ok(await loadLayout([example]));
  t.is(parsed.units.get('ecu-main/diagnostics.service' as never)!.state, 'running');
  t.deepEqual([...parsed.units.keys()], [
    'ecu-main/vehicle-gateway.service',
    'ecu-main/diagnostics.service',
    'qm.ecu-main/infotainment.service',
    'qm.ecu-main/media-indexer.service',
    'ecu-body/can-bridge.service',
    'ecu-body/climate.service',
    'ecu-body/seat-memory.service',
  ]);
});

test('a missing file is a config error naming it', async (t) => {
  const result = await loadLayout(['/nonexistent/layout.yaml']);
  t.false(result.ok);
  if (!result.ok) t.is(`${result.errors[0]!.position}${result.errors[0]!.message}`, '/nonexistent/layout.yaml: cannot read the layout: no such file or directory');
});

test('drop-ins that cannot be read are errors naming the path, not "no drop-ins"; only a missing layout.d means none', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qm-layout-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'layout.yaml'), 'nodes:\n  a: {}\n');
  t.true((await loadLayout([dir])).ok, 'no layout.d at all: no drop-ins');

  // layout.d a regular file: readdir fails ENOTDIR.
  await writeFile(join(dir, 'layout.d'), 'units: {}\n');
  const notDirectory = await loadLayout([dir]);
  t.false(notDirectory.ok);
  if (!notDirectory.ok) {
    t.like(notDirectory.errors[0]!, { code: 'config', origin: { file: join(dir, 'layout.d') } });
    t.is(notDirectory.errors[0]!.message, 'cannot read the layout drop-ins: not a directory');
  }

  // layout.d a symlink whose path runs through a file.
  await rm(join(dir, 'layout.d'));
  await writeFile(join(dir, 'plain'), '');
  await symlink(join(dir, 'plain', 'inner'), join(dir, 'layout.d'));
  const through = await loadLayout([join(dir, 'layout.yaml')]);
  t.false(through.ok);
  if (!through.ok) t.is(`${through.errors[0]!.position}${through.errors[0]!.message}`, `${join(dir, 'layout.d')}: cannot read the layout drop-ins: not a directory`);

  // A layout argument whose path runs through a file: stat fails ENOTDIR, named as such.
  const argument = await loadLayout([join(dir, 'plain', 'layout.yaml')]);
  t.false(argument.ok);
  if (!argument.ok) t.is(`${argument.errors[0]!.position}${argument.errors[0]!.message}`, `${join(dir, 'plain', 'layout.yaml')}: cannot read the layout: not a directory`);
});

test('the JSON Schema knows exactly the keys the validator knows', async (t) => {
  const schema = JSON.parse(await readFile(new URL('../../controller/layout/layout.schema.json', import.meta.url), 'utf8'));
  const keys = (definition: { properties: object }) => Object.keys(definition.properties).sort();
  t.deepEqual(keys(schema), [...LAYOUT_KEYS.layout].sort());
  t.deepEqual(keys(schema.$defs.node), [...LAYOUT_KEYS.node].sort());
  t.deepEqual(keys(schema.$defs.unit), [...LAYOUT_KEYS.unit].sort());
  t.deepEqual(keys(schema.$defs.restart), [...LAYOUT_KEYS.restart].sort());
});
