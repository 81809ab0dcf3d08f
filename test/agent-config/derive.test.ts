// The QM agent's name and controller address, and the file written for it.
import test from 'ava';
import { agentView, renderFromHost } from '../../agent-config/apply.ts';
import { deriveQmAgentConfig, isLoopback, QM_SOCKET_ADDRESS, type DeriveOptions } from '../../agent-config/derive.ts';
import { parseIni } from '../../agent-config/ini.ts';
import { renderSetting } from '../../agent-config/render.ts';
import { parsed } from './helpers.ts';

const HOST = '/etc/bluechi/agent.conf';
function derive(text: string, options: Partial<DeriveOptions> = {}) {
  const view = agentView([parseIni(`[bluechi-agent]\n${text}`, HOST)], { hostname: options.hostname ?? 'vehicle-a' });
  return deriveQmAgentConfig(view.agent, { hostname: 'vehicle-a', ...options });
}
const settings = (text: string, options: Partial<DeriveOptions> = {}) => Object.fromEntries(derive(text, options).settings);

test('NodeName is qm.<the host NodeName>', (t) => {
  const config = derive('NodeName=ecu1\n');
  t.is(config.nodeName, 'qm.ecu1');
  t.is(config.nodeNameFrom, `the host's NodeName in ${HOST}`);
});

test('without a NodeName the hostname is used, or --hostname', (t) => {
  t.is(derive('LogLevel=INFO\n').nodeName, 'qm.vehicle-a');
  const given = derive('', { hostname: 'given', hostnameFrom: '--hostname' });
  t.is(given.nodeName, 'qm.given');
  t.regex(given.nodeNameFrom, /--hostname/);
});

test('an empty NodeName is warned about (the host agent would not start) and the hostname used', (t) => {
  const config = derive('NodeName=\n');
  t.is(config.nodeName, 'qm.vehicle-a');
  t.like(config.diagnostics[0], { severity: 'warning', file: HOST, line: 2, field: 'NodeName' });
});

test('a QM node name BlueChi cannot use is an error', (t) => {
  const config = derive('', { hostname: 'bad name' });
  t.like(config.diagnostics[0], { severity: 'error', field: 'NodeName' });
});

test('a loopback controller (the default 127.0.0.1) is reached through the mounted Unix socket', (t) => {
  const config = derive('NodeName=ecu1\n');
  t.is(config.controller.via, 'unix');
  t.deepEqual(settings('NodeName=ecu1\n'), { NodeName: 'qm.ecu1', ControllerAddress: QM_SOCKET_ADDRESS });
  t.regex(config.controller.reason, /ControllerHost \(default 127\.0\.0\.1\) is a loopback address/);
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'vehicle-a']) {
    t.is(derive(`ControllerHost=${host}\n`).controller.via, 'unix', host);
  }
});

test('a remote ControllerHost is kept, with the port', (t) => {
  t.deepEqual(settings('ControllerHost=192.168.10.1\nControllerPort=8420\n'), { NodeName: 'qm.vehicle-a', ControllerHost: '192.168.10.1', ControllerPort: '8420' });
  t.deepEqual(settings('ControllerHost=controller.vehicle\n'), { NodeName: 'qm.vehicle-a', ControllerHost: 'controller.vehicle', ControllerPort: '842' });
});

test('ControllerAddress: the host socket maps into QM, remote TCP is kept, loopback TCP becomes the socket', (t) => {
  t.is(settings('ControllerAddress=unix:path=/run/bluechi/bluechi.sock\n').ControllerAddress, QM_SOCKET_ADDRESS);
  t.is(settings('ControllerAddress=tcp:host=10.0.0.5,port=842\n').ControllerAddress, 'tcp:host=10.0.0.5,port=842');
  t.is(settings('ControllerAddress=tcp:host=127.0.0.1,port=842\nControllerHost=10.0.0.9\n').ControllerAddress, QM_SOCKET_ADDRESS);
  // The address overrides host and port in BlueChi; QM gets only the address.
  t.deepEqual(Object.keys(settings('ControllerAddress=unix:path=/run/bluechi/bluechi.sock\nControllerHost=10.1.1.1\nControllerPort=1\n')), ['NodeName', 'ControllerAddress']);
});

test('a Unix socket outside /run/bluechi cannot be reached from QM: error at its line', (t) => {
  const config = derive('ControllerAddress=unix:path=/srv/bluechi.sock\n');
  t.like(config.diagnostics[0], { severity: 'error', file: HOST, line: 2, field: 'ControllerAddress' });
});

test('--controller tcp needs --controller-host when the host controller is loopback', (t) => {
  t.like(derive('', { controller: 'tcp' }).diagnostics[0], { severity: 'error', field: 'ControllerHost' });
  t.deepEqual(settings('ControllerPort=900\n', { controller: 'tcp', controllerHost: '10.88.0.1' }), { NodeName: 'qm.vehicle-a', ControllerHost: '10.88.0.1', ControllerPort: '900' });
  t.like(derive('', { controllerHost: '127.0.0.1' }).diagnostics[0], { severity: 'error' });
});

test('--controller unix uses the socket whatever the host has', (t) => {
  t.is(settings('ControllerHost=10.1.1.1\n', { controller: 'unix' }).ControllerAddress, QM_SOCKET_ADDRESS);
});

test('an empty ControllerPort with a TCP controller is an error (bluechi-agent would use port 0)', (t) => {
  t.like(derive('ControllerHost=10.1.1.1\nControllerPort=\n').diagnostics[0], { severity: 'error', line: 3, field: 'ControllerPort' });
});

test('other settings pass through in documented order, unknown keys last, built-in defaults not written', (t) => {
  t.deepEqual(Object.keys(settings('Zeta=1\nLogLevel=DEBUG\nAlpha=2\nHeartbeatInterval=100\nLogIsQuiet=\n')), [
    'NodeName',
    'ControllerAddress',
    'HeartbeatInterval',
    'LogLevel',
    'LogIsQuiet',
    'Alpha',
    'Zeta',
  ]);
  t.is(settings('LogIsQuiet=\n').LogIsQuiet, null);
});

test('isLoopback: literals and names only', (t) => {
  for (const host of ['127.0.0.1', 'LOCALHOST', 'a.localhost', '::1', '::', '0.0.0.0']) t.true(isLoopback(host), host);
  for (const host of ['10.0.0.1', '::2', '128.0.0.1', 'example.com', '1::1', 'fe80::1']) t.false(isLoopback(host), host);
});

test('the rendered file names its sources and reasons, and reads back as the settings', (t) => {
  const files = [parseIni('[bluechi-agent]\n#NodeName=\n', '/usr/share/bluechi-agent/config/agent.conf'), parseIni('[bluechi-agent]\nNodeName=ecu1\nLogLevel=DEBUG\n', HOST)];
  const { content } = renderFromHost(files, { hostname: 'h' });
  t.is(
    content,
    `# bluechi-agent configuration for QM, written by "qmctl agent-config apply" from the host's:
#   /usr/share/bluechi-agent/config/agent.conf
#   /etc/bluechi/agent.conf
# NodeName: "qm." + the host's NodeName in /etc/bluechi/agent.conf.
# Controller: the controller's Unix socket /run/bluechi/bluechi.sock, through the gate mounted into QM at /run/bluechi-controller: the host's ControllerHost (default 127.0.0.1) is a loopback address, which inside QM's private network means QM itself.
# Overwritten whenever the host's configuration changes: put QM-only settings in
# /etc/bluechi/agent.conf.d/*.conf inside QM instead.

[bluechi-agent]
NodeName=qm.ecu1
ControllerAddress=unix:path=/run/bluechi-controller/bluechi.sock
LogLevel=DEBUG
`,
  );
  t.deepEqual(parsed(content), { 'bluechi-agent': { NodeName: 'qm.ecu1', ControllerAddress: QM_SOCKET_ADDRESS, LogLevel: 'DEBUG' } });
  // Same input, same bytes: nothing time- or line-dependent in the header.
  t.is(renderFromHost(files, { hostname: 'h' }).content, content);
  const moved = [files[0]!, parseIni('[bluechi-agent]\n\n\n# moved down\nNodeName=ecu1\nLogLevel=DEBUG\n', HOST)];
  t.is(renderFromHost(moved, { hostname: 'h' }).content, content);
});

test('long values are written on continuation lines that read back unchanged', (t) => {
  const value = Array.from({ length: 60 }, (_, i) => `node-${i}`).join(', ') + ' ; x';
  const lines = renderSetting('Custom', value.replace(' ; x', ''));
  t.true(lines.length > 1);
  t.true(lines.every((line) => Buffer.byteLength(line) <= 400));
  t.is(parsed(`[s]\n${lines.join('\n')}\n`).s!.Custom, value.replace(' ; x', ''));
  t.deepEqual(renderSetting('Empty', null), ['Empty=']);
});
