// Layering as bluechi-agent does it, and the checks on what it ends up with.
import test from 'ava';
import { agentView, renderFromHost } from '../../agent-config/apply.ts';
import { parseIni } from '../../agent-config/ini.ts';
import { BUILT_IN, builtInSettings, environmentSettings, fileSettings, mergeSettings, originOf } from '../../agent-config/merge.ts';
import { checkFiles, checkValues } from '../../agent-config/validate.ts';
import { QmError } from '../../controller/errors.ts';
import { valuesOf } from './helpers.ts';

const file = (name: string, text: string) => parseIni(text, name);

test('later files win key by key; keys only earlier files set survive', (t) => {
  const merged = mergeSettings([
    fileSettings(file('a.conf', '[bluechi-agent]\nNodeName=a\nLogLevel=INFO\n')),
    fileSettings(file('b.conf', '[bluechi-agent]\nLogLevel=DEBUG\n')),
  ]);
  t.deepEqual(valuesOf(merged), { 'bluechi-agent': { NodeName: 'a', LogLevel: 'DEBUG' } });
  t.is(originOf(merged.get('bluechi-agent')!.get('LogLevel')!), 'b.conf:2');
});

test('an empty value in a later file removes the earlier value (cfg_copy_overwrite copies "no value")', (t) => {
  const merged = mergeSettings([
    builtInSettings('bluechi-agent', 'host1'),
    fileSettings(file('a.conf', '[bluechi-agent]\nControllerPort=\n')),
  ]);
  const port = merged.get('bluechi-agent')!.get('ControllerPort')!;
  t.is(port.value, null);
  t.is(originOf(port), 'a.conf:2');
});

test('repeats within one file concatenate, across files replace', (t) => {
  const merged = mergeSettings([
    fileSettings(file('a.conf', '[bluechi-agent]\nNodeName=a\nNodeName=b\n')),
    fileSettings(file('b.conf', '[bluechi-agent]\nLogLevel=x\n')),
  ]);
  t.is(merged.get('bluechi-agent')!.get('NodeName')!.value, 'ab');
  const replaced = mergeSettings([merged, fileSettings(file('c.conf', '[bluechi-agent]\nNodeName=c\n'))]);
  t.is(replaced.get('bluechi-agent')!.get('NodeName')!.value, 'c');
});

test('a file with a syntax error contributes nothing', (t) => {
  const merged = mergeSettings([fileSettings(file('a.conf', '[bluechi-agent]\nNodeName=a\n')), fileSettings(file('b.conf', '[bluechi-agent]\nNodeName=b\nbroken\n'))]);
  t.is(merged.get('bluechi-agent')!.get('NodeName')!.value, 'a');
});

test('built-in defaults are those of cfg_agent_def_conf; NodeName is the hostname', (t) => {
  t.deepEqual(valuesOf(builtInSettings('bluechi-agent', 'host1')), {
    'bluechi-agent': {
      NodeName: 'host1',
      ControllerHost: '127.0.0.1',
      ControllerPort: '842',
      HeartbeatInterval: '2000',
      ControllerHeartbeatThreshold: '0',
      LogLevel: 'INFO',
      LogTarget: 'journald',
      IPReceiveErrors: 'true',
      TCPKeepAliveTime: '1',
      TCPKeepAliveInterval: '1',
      TCPKeepAliveCount: '6',
      ConnectionRetryCountUntilQuiet: '10',
    },
  });
});

test('the environment (BC_LOG_LEVEL, BC_LOG_TARGET, BC_LOG_IS_QUIET) comes after the files, empty ones ignored', (t) => {
  const merged = mergeSettings([fileSettings(file('a.conf', '[bluechi-agent]\nLogLevel=INFO\nLogTarget=stderr\n')), environmentSettings('bluechi-agent', { BC_LOG_LEVEL: 'DEBUG', BC_LOG_TARGET: '' })]);
  t.is(merged.get('bluechi-agent')!.get('LogLevel')!.value, 'DEBUG');
  t.is(originOf(merged.get('bluechi-agent')!.get('LogLevel')!), '(environment BC_LOG_LEVEL)');
  t.is(merged.get('bluechi-agent')!.get('LogTarget')!.value, 'stderr');
});

test('unknown keys, keys outside a section and other sections are warnings with file:line', (t) => {
  const diagnostics = checkFiles([file('a.conf', 'Orphan=1\n[bluechi-agent]\nNodename=x\nFrobnicate=1\n[ bluechi-agent ]\nNodeName=y\n[node x]\nAllowed=true\n')]);
  t.deepEqual(
    diagnostics.map((d) => [d.severity, d.line, d.field]),
    [
      ['warning', 1, 'Orphan'],
      ['warning', 3, 'Nodename'],
      ['warning', 4, 'Frobnicate'],
      ['warning', 6, undefined],
      ['warning', 8, undefined],
    ],
  );
  t.regex(diagnostics[1]!.message, /did you mean NodeName/);
  t.regex(diagnostics[3]!.message, /section \[ bluechi-agent \] is ignored.*no surrounding spaces/);
});

const valueErrors = (text: string) => checkValues(mergeSettings([fileSettings(file('/etc/bluechi/agent.conf', `[bluechi-agent]\n${text}`))]).get('bluechi-agent')!);

test('each wrong value is an error naming file, line and key', (t) => {
  const errors = valueErrors(
    [
      'ControllerPort=0',
      'HeartbeatInterval=-1',
      'ControllerHeartbeatThreshold=soon',
      'LogLevel=debug',
      'LogTarget=syslog',
      'LogIsQuiet=1',
      'IPReceiveErrors=maybe',
      'TCPKeepAliveCount=128',
      'TCPKeepAliveTime=32768',
      'TCPKeepAliveInterval=-5',
      'ConnectionRetryCountUntilQuiet=1e3',
      'NodeName=a,b',
      'ControllerAddress=not an address',
      'ControllerHost=two words',
    ].join('\n'),
  );
  t.deepEqual(
    errors.map((d) => [d.severity, d.file, d.line, d.field]),
    [
      ['error', '/etc/bluechi/agent.conf', 2, 'ControllerPort'],
      ['error', '/etc/bluechi/agent.conf', 3, 'HeartbeatInterval'],
      ['error', '/etc/bluechi/agent.conf', 4, 'ControllerHeartbeatThreshold'],
      ['error', '/etc/bluechi/agent.conf', 5, 'LogLevel'],
      ['error', '/etc/bluechi/agent.conf', 6, 'LogTarget'],
      ['error', '/etc/bluechi/agent.conf', 7, 'LogIsQuiet'],
      ['error', '/etc/bluechi/agent.conf', 8, 'IPReceiveErrors'],
      ['error', '/etc/bluechi/agent.conf', 9, 'TCPKeepAliveCount'],
      ['error', '/etc/bluechi/agent.conf', 10, 'TCPKeepAliveTime'],
      ['error', '/etc/bluechi/agent.conf', 11, 'TCPKeepAliveInterval'],
      ['error', '/etc/bluechi/agent.conf', 12, 'ConnectionRetryCountUntilQuiet'],
      ['error', '/etc/bluechi/agent.conf', 13, 'NodeName'],
      ['error', '/etc/bluechi/agent.conf', 14, 'ControllerAddress'],
      ['error', '/etc/bluechi/agent.conf', 15, 'ControllerHost'],
    ],
  );
  t.regex(errors[0]!.message, /0 is outside 1–65535/);
  t.regex(errors[1]!.message, /-1 is outside 0–/);
  t.regex(errors[3]!.message, /not one of DEBUG, INFO, WARN, ERROR \(upper case\)/);
  t.regex(errors[5]!.message, /would read it as false/);
});

test('values BlueChi accepts pass: port limits, +sign, case-insensitive targets and booleans', (t) => {
  t.deepEqual(
    valueErrors('ControllerPort=65535\nHeartbeatInterval=+0\nLogTarget=Stderr-Full\nLogIsQuiet=YES\nIPReceiveErrors=off\nTCPKeepAliveCount=127\nLogLevel=WARN\nControllerAddress=tcp:host=10.0.0.1,port=842\n'),
    [],
  );
  t.deepEqual(valueErrors('ControllerPort=65536\n').map((d) => d.field), ['ControllerPort']);
});

test('only the value bluechi-agent ends up with is checked: a later file can fix an earlier one', (t) => {
  const view = agentView([file('a.conf', '[bluechi-agent]\nControllerPort=99999\n'), file('b.conf', '[bluechi-agent]\nControllerPort=8420\n')], { hostname: 'h' });
  t.deepEqual(view.diagnostics, []);
  t.is(view.agent.get('ControllerPort')!.file, 'b.conf');
  t.not(view.agent.get('LogLevel')!.file, 'a.conf');
  t.is(view.agent.get('LogLevel')!.file, BUILT_IN);
});

test('rendering refuses bad input with one QmError naming every error, the first as its origin', (t) => {
  const error = t.throws(() => renderFromHost([file('/etc/bluechi/agent.conf', '[bluechi-agent]\nControllerPort=70000\nLogLevel=LOUD\n')], { hostname: 'h' }), { instanceOf: QmError });
  t.is(error.code, 'config');
  t.is(error.exitCode, 2);
  t.deepEqual(error.origin, { file: '/etc/bluechi/agent.conf', line: 2, field: 'ControllerPort' });
  t.regex(error.message, /70000 is outside 1–65535[\s\S]*\/etc\/bluechi\/agent.conf:3: LogLevel: "LOUD"/);
});
