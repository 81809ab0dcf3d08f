// Every file checked on its own terms: a value is checked where it is written even when a later drop-in
// overrides it, and an error that only the merge causes names every file involved.
import test from 'ava';
import { readLayout, type Validated } from '../../controller/layout/index.ts';

const files = (...texts: string[]) => readLayout(texts.map((text, index) => ({ file: index === 0 ? 'layout.yaml' : `layout.d/${index}0-fleet.yaml`, text })));

function errors(result: Validated): string[] {
  if (result.ok) return [];
  return result.errors.map((error) => `${error.position}${error.origin.field ? `${error.origin.field}: ` : ''}${error.message}`);
}

const UNIT = 'nodes:\n  a:\n    units:\n      x.service:\n';

test('a wrong value in layout.yaml is an error even when a drop-in sets the same key', (t) => {
  t.deepEqual(errors(files(`${UNIT}        state: runing\n`, `${UNIT}        state: stopped\n`)), [
    'layout.yaml:5:16: nodes.a.units[x.service].state: state must be one of running, stopped, not "runing"',
  ]);
  t.deepEqual(errors(files(`${UNIT}        restart: { attempts: -3 }\n`, `${UNIT}        restart: { attempts: 2 }\n`)), [
    'layout.yaml:5:30: nodes.a.units[x.service].restart.attempts: attempts must be a whole number ≥ 0, not -3',
  ]);
});

test('a wrong value in a drop-in is reported once, at the drop-in', (t) => {
  t.deepEqual(errors(files(`${UNIT}        state: stopped\n`, `${UNIT}        state: sometimes\n`)), [
    'layout.d/10-fleet.yaml:5:16: nodes.a.units[x.service].state: state must be one of running, stopped, not "sometimes"',
  ]);
});

test('QM units left without QM by a drop-in: the error names the drop-in that turned qm off', (t) => {
  t.deepEqual(errors(files('nodes:\n  a:\n    qm: true\n    qm-units:\n      q.service: {}\n', 'nodes:\n  a:\n    qm: false\n')), [
    'layout.yaml:5:7: nodes.a.qm-units: node a has QM units but no QM partition: layout.d/10-fleet.yaml:3:9 sets "qm: false"; set "qm: true" on a or move the units to "units"',
  ]);
});

test('a running unit that needs a unit a drop-in stops: the error names where the stop is written', (t) => {
  t.deepEqual(errors(files(`${UNIT}        needs: [y.service]\n      y.service:\n`, 'nodes:\n  a:\n    units:\n      y.service: { state: stopped }\n')), [
    'layout.yaml:5:17: nodes.a.units[x.service].needs[0]: a/x.service should run but needs a/y.service, which the layout wants stopped (layout.d/10-fleet.yaml:4:27)',
  ]);
});

test('a dependency cycle closed by a drop-in names each file that wrote one of its links', (t) => {
  t.deepEqual(errors(files(`${UNIT}        needs: [y.service]\n      y.service:\n`, 'nodes:\n  a:\n    units:\n      y.service: { needs: [x.service] }\n')), [
    'layout.yaml:5:17: nodes.a.units[x.service].needs[0]: dependency cycle: a/x.service → a/y.service → a/x.service (links written in layout.yaml:5:17, layout.d/10-fleet.yaml:4:28)',
  ]);
});

test('a partition node declared as a node of its own while a drop-in gives its host QM names the drop-in', (t) => {
  t.deepEqual(errors(files('nodes:\n  a: {}\n  qm.a: {}\n', 'nodes:\n  a: { qm: true }\n')), [
    'layout.yaml:3:3: nodes[qm.a]: node qm.a is declared twice: it is the QM partition of a (qm: true at layout.d/10-fleet.yaml:2:12); put its units under a.qm-units',
  ]);
});

test('a drop-in of only comments changes nothing (it used to replace the whole layout with an empty value)', (t) => {
  const result = files(`${UNIT}        state: stopped\n`, '# nothing here yet\n');
  t.true(result.ok, errors(result).join('\n'));
});

test('durations past what a timer can wait (2^31-1 ms, about 24.8 days) are refused naming file, line and field', (t) => {
  t.deepEqual(errors(files(`${UNIT}        restart: { backoff: 600h, window: 30d }\n`)), [
    'layout.yaml:5:29: nodes.a.units[x.service].restart.backoff: backoff must be at most 596h31m23.647s (2147483647 ms, the longest a timer can wait), not "600h"',
    'layout.yaml:5:43: nodes.a.units[x.service].restart.window: window must be a duration such as 500ms, 10s, 5m or 1h30m (a bare number is seconds), not "30d"',
  ]);
  t.deepEqual(errors(files(`${UNIT}        restart: { window: 2147484 }\n`)), [
    'layout.yaml:5:28: nodes.a.units[x.service].restart.window: window must be at most 596h31m23.647s (2147483647 ms, the longest a timer can wait), not 2147484',
  ]);
  t.true(files(`${UNIT}        restart: { backoff: 596h31m23s, window: 2147483 }\n`).ok);
});
