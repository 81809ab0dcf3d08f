import test from 'ava';
import { escapePathLabel, unescapePathLabel, labelOf } from '../../controller/bus/path-label.ts';
import { nodePath } from '../../controller/bluechi/api.ts';
import { unitNameProblem, parseUnitName, parseNodeName } from '../../controller/unit-names.ts';
import { QmError } from '../../controller/errors.ts';
import fc from 'fast-check';

test('node object paths are escaped as BlueChi does', (t) => {
  t.is(nodePath('qm.vehicle-a'), '/org/eclipse/bluechi/node/qm_2evehicle_2da');
  t.is(nodePath('node1'), '/org/eclipse/bluechi/node/node1');
  t.is(escapePathLabel('1node'), '_31node');
  t.is(escapePathLabel(''), '_');
  t.is(escapePathLabel('a_b'), 'a_5fb');
});

test('path labels round-trip for any string', (t) => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (name) => unescapePathLabel(escapePathLabel(name)) === name));
  t.is(labelOf('/org/freedesktop/systemd1/unit/qm_2eservice'), 'qm.service');
});

test('unit names systemd would refuse are rejected before any call', (t) => {
  t.is(unitNameProblem('qm.service'), undefined);
  t.is(unitNameProblem('getty@tty1.service'), undefined);
  t.is(unitNameProblem('foo@.service'), undefined);
  t.regex(unitNameProblem('qm')!, /no unit type suffix/);
  t.regex(unitNameProblem('qm.bogus')!, /no unit type suffix/);
  t.regex(unitNameProblem('.service')!, /empty/);
  t.regex(unitNameProblem('a b.service')!, /" "/);
  t.regex(unitNameProblem('bad name')!, /contains " "/);
  t.regex(unitNameProblem(`${'a'.repeat(250)}.service`)!, /258 characters/);
  t.regex(unitNameProblem('@x.service')!, /template prefix/);
  const error = t.throws(() => parseUnitName('nope'), { instanceOf: QmError });
  t.is(error.code, 'invalid-unit-name');
  t.is(error.exitCode, 2);
  t.is(error.origin.unit, 'nope');
});

test('node names with separators or whitespace are rejected', (t) => {
  t.is(parseNodeName('qm.node-1') as string, 'qm.node-1');
  t.throws(() => parseNodeName(''), { message: /empty/ });
  t.throws(() => parseNodeName('a,b'), { message: /","/ });
  t.throws(() => parseNodeName('a b'), { message: /whitespace/ });
});
