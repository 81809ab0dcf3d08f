import test from 'ava';
import { escapePathLabel } from './escape.ts';

test('node names escape as upstream bus_path_escape does', (t) => {
  t.is(escapePathLabel('qm.vehicle-a'), 'qm_2evehicle_2da');
  t.is(escapePathLabel('node1'), 'node1');
  t.is(escapePathLabel('1node'), '_31node', 'a leading digit is escaped');
  t.is(escapePathLabel(''), '_');
  t.is(escapePathLabel('a_b'), 'a_5fb', 'the escape character itself is escaped');
  t.is(escapePathLabel('ü'), '_c3_bc', 'bytes of the UTF-8 encoding, not code points');
});
