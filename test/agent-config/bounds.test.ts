// What any input costs: the largest file the reader accepts is checked in linear time without exhausting
// the call stack, messages quote a bounded prefix of what was written, and bytes that are not UTF-8 are
// named (\xff), never shown as U+FFFD.
import test from 'ava';
import { performance } from 'node:perf_hooks';
import { agentView, renderFromHost } from '../../agent-config/apply.ts';
import { MAX_AGENT_FILE_BYTES } from '../../agent-config/files.ts';
import { parseIni } from '../../agent-config/ini.ts';
import { formatDiagnostic, type Diagnostic } from '../../agent-config/diagnostics.ts';
import { QmError } from '../../controller/errors.ts';

const view = (text: string | Uint8Array) => agentView([parseIni(text, 'agent.conf')], { hostname: 'vehicle-a' });

/** `count` distinct keys in [bluechi-agent], as many as fit the limit. */
function manyKeys(count: number): string {
  const lines = ['[bluechi-agent]'];
  for (let index = 0; index < count; index += 1) lines.push(`K${index.toString(36)}=`);
  return `${lines.join('\n')}\n`;
}

test('a file of 150,000 keys (within the 1 MiB limit) is checked without exhausting the call stack, in linear time', (t) => {
  const small = manyKeys(15_000);
  const large = manyKeys(150_000);
  t.true(large.length <= MAX_AGENT_FILE_BYTES, `${large.length} bytes`);
  const time = (text: string) => {
    const start = performance.now();
    const result = view(text);
    return { ms: performance.now() - start, result };
  };
  time(small); // warm-up
  const a = time(small);
  const b = time(large);
  t.is(b.result.diagnostics.length, 150_000);
  t.true(b.result.diagnostics.every((d) => d.severity === 'warning' && d.line !== undefined));
  // Linear: ten times the keys, about ten times the time (quadratic would be a hundred).
  t.true(b.ms < 30 * a.ms + 200, `15,000 keys: ${a.ms.toFixed(0)} ms; 150,000 keys: ${b.ms.toFixed(0)} ms`);
});

test('a value of a megabyte (continued over 2,000 lines) is quoted in messages by a bounded prefix', (t) => {
  const piece = '9'.repeat(500);
  const text = `[bluechi-agent]\nControllerPort=${piece}\n${`  ${piece}\n`.repeat(2000)}LogLevel=${'x'.repeat(400)}\n`;
  const diagnostics = view(text).diagnostics.filter((d) => d.severity === 'error');
  t.deepEqual(diagnostics.map((d) => d.field), ['ControllerPort', 'LogLevel']);
  for (const diagnostic of diagnostics) t.true(formatDiagnostic(diagnostic).length < 300, `${formatDiagnostic(diagnostic).length} characters`);
  t.regex(diagnostics[0]!.message.slice(0, 300), /^"9{60}…" \(1000500 characters\) is not a whole number/);
});

test('a number behind 800 kB of leading zeros is read as strtol reads it, and quoted by a bounded prefix', (t) => {
  const diagnostics = view(`[bluechi-agent]\nControllerPort=${'0'.repeat(500)}\n${'  00000000\n'.repeat(100_000)}  70000\n`).diagnostics;
  t.regex(diagnostics.find((d) => d.field === 'ControllerPort')!.message.slice(0, 300), /^"0{60}…" \(800505 characters\) is outside 1–65535$/);
});

function messages(diagnostics: readonly Diagnostic[]): string {
  return diagnostics.map(formatDiagnostic).join('\n');
}

test('bytes that are not UTF-8 are named as \\xNN in keys, sections, values and syntax errors, never shown as U+FFFD', (t) => {
  const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : Buffer.from(part))));
  const unknownKey = view(bytes('[bluechi-agent]\nNode', [0xff], 'Name=a\n')).diagnostics;
  t.is(messages(unknownKey), 'agent.conf:2: Node\\xffName: unknown key, not UTF-8 text (byte 0xff cannot start a character); bluechi-agent ignores it');

  const section = view(bytes('[bluechi-', [0xc3], 'agent]\nNodeName=a\n')).diagnostics;
  t.is(messages(section), 'agent.conf:2: section [bluechi-\\xc3agent] is ignored by bluechi-agent, which reads only [bluechi-agent]; its name is not UTF-8 text (the character that starts with byte 0xc3 is cut short)');

  const value = view(bytes('[bluechi-agent]\nNodeName=a', [0xe2, 0x82], '\n')).diagnostics;
  t.is(messages(value), 'agent.conf:2: NodeName: value is not UTF-8 text: the character that starts with byte 0xe2 is cut short');

  const syntax = parseIni(bytes('[bluechi-agent]\nnot a setting ', [0xfe], '\n'), 'agent.conf').diagnostics;
  t.is(messages(syntax), 'agent.conf:2: "not a setting \\xfe" is not a "key=value" setting, a [section] header, a comment or an indented continuation; bluechi-agent rejects the whole file');
  t.false(/\uFFFD/.test(messages([...unknownKey, ...section, ...value, ...syntax])));
});

test('a value that cannot be written back (too long, its key too long to continue it) is an error at the host file and line', (t) => {
  const key = 'K'.repeat(60);
  const error = t.throws(() => renderFromHost([parseIni(`[bluechi-agent]\n${key}=${'x'.repeat(450)}\n`, 'agent.conf')], { hostname: 'vehicle-a' }), { instanceOf: QmError });
  t.like(error.origin, { file: 'agent.conf', line: 2, field: key });
  t.regex(error.message, /too long for one line and the key name too long for continuation lines/);
});
