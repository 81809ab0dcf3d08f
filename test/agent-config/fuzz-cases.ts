// Fuzzing the agent-config parser and merge: a packaged default, agent.conf and drop-ins generated from
// BlueChi's INI dialect (and what breaks it), then mutated at the byte level, read as qmctl reads them.
// Shared by test/agent-config/fuzz.test.ts (a few thousand cases in npm test) and bench/fuzz.ts.
import fc from 'fast-check';
import { renderFromHost } from '../../agent-config/apply.ts';
import { formatDiagnostic } from '../../agent-config/diagnostics.ts';
import { parseIni } from '../../agent-config/ini.ts';
import { AGENT_KEY_NAMES } from '../../agent-config/keys.ts';
import { isQmError } from '../../controller/errors.ts';
import { describeFiles, lineCount, measured, MESSAGE_MAX, mutated, type CaseCost } from '../support/fuzz.ts';

const space = fc.constantFrom('', ' ', '  ', '\t');
const key = fc.constantFrom(...AGENT_KEY_NAMES, 'nodename', 'Unknown', 'K'.repeat(60), 'Node Name');
const value = fc.constantFrom(
  '',
  'ecu1',
  'bad name',
  'qm.ecu1',
  '842',
  '0',
  '65536',
  '-1',
  `0000${'0'.repeat(40)}70`,
  '99999999999999999999999',
  'INFO',
  'debug',
  'stderr',
  'yes',
  'maybe',
  'unix:path=/run/bluechi/bluechi.sock',
  'tcp:host=10.0.0.1,port=842',
  'tcp:host',
  '127.0.0.1',
  'a b',
  'v ; comment',
  'v;kept',
  'x'.repeat(600),
  'ä☃',
);
const line = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom('[bluechi-agent]', '[ bluechi-agent ]', '[other]', '[bluechi-controller]', '[unterminated', '[x] trailing', `[${'s'.repeat(60)}]`) },
  { weight: 6, arbitrary: fc.tuple(key, space, fc.constantFrom('=', ':'), space, value).map((parts) => parts.join('')) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(' ', '  ', '\t'), value).map(([indent, text]) => `${indent}${text}`) },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', '# comment', '; comment', '  # indented', 'not a setting', '=value', `${'y'.repeat(700)}=1`) },
);
// A value continued over many lines, so that values longer than any line occur.
const longValue = fc
  .tuple(key, fc.constantFrom('9'.repeat(100), 'x'.repeat(100), 'unix:path=/run/', 'a b '), fc.integer({ min: 2, max: 40 }))
  .map(([name, piece, lines]) => [`${name}=${piece}`, ...Array<string>(lines).fill(`  ${piece}`)].join('\n'));
const file = fc
  .tuple(fc.array(fc.oneof({ weight: 12, arbitrary: line }, { weight: 1, arbitrary: longValue }), { maxLength: 16 }), fc.constantFrom('\n', '\r\n'), fc.boolean())
  .map(([lines, newline, bom]) => `${bom ? '\ufeff' : ''}${lines.join(newline)}${newline}`);

const REPLACEMENT = Buffer.from('\uFFFD');

/** INI, and bytes that are anything but: what edits put into a file. */
const PIECES = ['[', ']', '=', ':', ';', ' ;', '#', ' ', '\t', '\n', '\r', '\r\n', '\0', '\ufeff', 'é', '\u00a0', '[bluechi-agent]\n', 'NodeName=', '\n  continued', 'z'.repeat(520)];

/** Up to four files in bluechi-agent's load order. */
export const agentCase = fc.array(mutated(file, PIECES), { minLength: 1, maxLength: 4 }).map((files) =>
  files.map((bytes, index) => ({ file: ['/usr/share/bluechi-agent/config/agent.conf', '/etc/bluechi/agent.conf'][index] ?? `/etc/bluechi/agent.conf.d/${index}0-x.conf`, bytes })),
);

/**
 * Parses, merges, validates and renders as `qmctl agent-config render` does. What any input must give:
 * no exception but a config QmError, bounded CPU time and heap, every error with file and line, messages
 * of bounded length.
 */
export function checkAgentCase(files: ReadonlyArray<{ readonly file: string; readonly bytes: Buffer }>): CaseCost {
  const describe = () => describeFiles(files);
  const { result, cost } = measured(() => {
    const parsed = files.map(({ file, bytes }) => parseIni(bytes, file));
    try {
      return { diagnostics: renderFromHost(parsed, { hostname: 'vehicle-a' }).diagnostics, thrown: undefined };
    } catch (error) {
      if (!isQmError(error) || error.code !== 'config') throw new Error(`${String(error)} for ${describe()}`, { cause: error });
      return { diagnostics: [], thrown: error };
    }
  }, describe);
  const lines = (name: string | undefined) => {
    const source = files.find(({ file }) => file === name);
    return source ? lineCount(source.bytes) : 0;
  };
  if (result.thrown) {
    const { file: name, line } = result.thrown.origin;
    if (line === undefined || line < 1 || line > lines(name)) throw new Error(`an error without a line of its file: ${result.thrown.message.slice(0, 300)} for ${describe()}`);
    // One error naming every error found: bounded by the count of lines, each line bounded.
    if (result.thrown.message.length > MESSAGE_MAX * (1 + files.reduce((total, { bytes }) => total + lineCount(bytes), 0))) throw new Error(`a message of ${result.thrown.message.length} characters`);
  }
  const replacementInInput = files.some(({ bytes }) => bytes.includes(REPLACEMENT));
  for (const diagnostic of result.diagnostics) {
    const text = formatDiagnostic(diagnostic);
    if (text.length > MESSAGE_MAX) throw new Error(`a message of ${text.length} characters: ${text.slice(0, 300)}`);
    // Bytes that are not UTF-8 are named (\xff), never shown as U+FFFD.
    if (text.includes('\uFFFD') && !replacementInInput) throw new Error(`U+FFFD in ${text.slice(0, 300)} for ${describe()}`);
    if (diagnostic.severity === 'error' && (diagnostic.line === undefined || diagnostic.line < 1 || diagnostic.line > lines(diagnostic.file))) {
      throw new Error(`an error without a line of its file: ${text.slice(0, 300)} for ${describe()}`);
    }
  }
  return cost;
}
