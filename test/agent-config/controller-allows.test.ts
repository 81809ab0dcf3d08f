// The host controller's AllowedNodeNames, read as controller.c reads it, against the QM agent's name.
import { join } from 'node:path';
import test from 'ava';
import { allowedNodeNames, checkControllerAllows } from '../../agent-config/controller-allows.ts';
import { parseIni } from '../../agent-config/ini.ts';
import { fileSettings } from '../../agent-config/merge.ts';
import { qmctl } from '../support/qmctl.ts';
import { tempTree } from './helpers.ts';

const names = (text: string) => [...allowedNodeNames(fileSettings(parseIni(text, 'controller.conf')))].sort();

test('AllowedNodeNames splits at commas, skips empty pieces, trims nothing; continuation lines join', (t) => {
  t.deepEqual(names('[bluechi-controller]\nAllowedNodeNames=a,,b, c\n'), [' c', 'a', 'b']);
  t.deepEqual(names('[bluechi-controller]\nAllowedNodeNames=ecu1,\n  qm.ecu1\n'), ['ecu1', 'qm.ecu1']);
});

test('[node NAME] sections add NAME when Allowed is a true word', (t) => {
  t.deepEqual(names('[node qm.ecu1]\nAllowed=yes\n[node other]\nAllowed=false\n[node third]\nRequiredSelinuxContext=x\n'), ['qm.ecu1']);
});

test('no controller configuration on the host: nothing to say', async (t) => {
  const root = await tempTree(t);
  t.deepEqual(await checkControllerAllows(root, 'qm.x', join(root, 'none')), []);
});

test('a controller that does not list the QM name is a warning at its AllowedNodeNames line', async (t) => {
  const root = await tempTree(t, { 'controller.conf': '[bluechi-controller]\n\nAllowedNodeNames=ecu1\n' });
  const [diagnostic] = await checkControllerAllows(root, 'qm.ecu1', join(root, 'none'));
  t.like(diagnostic, { severity: 'warning', file: join(root, 'controller.conf'), line: 3, field: 'AllowedNodeNames' });
  t.regex(diagnostic!.message, /does not allow qm\.ecu1 .*"Unexpected node name"/);
  t.deepEqual(await checkControllerAllows(root, 'ecu1', join(root, 'none')), []);
});

test('qmctl agent-config check warns about it', async (t) => {
  const root = await tempTree(t, {
    'etc/agent.conf': '[bluechi-agent]\nNodeName=ecu1\n',
    'etc/controller.conf': '[bluechi-controller]\nAllowedNodeNames=ecu1\n',
  });
  const result = await qmctl(['agent-config', 'check', '--host-config-dir', join(root, 'etc'), '--packaged-default', join(root, 'none')]);
  t.is(result.code, 0);
  t.regex(result.stderr, /warning: .*controller\.conf:2: AllowedNodeNames: the host's bluechi-controller does not allow qm\.ecu1/);
});
