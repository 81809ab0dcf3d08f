// Every edge of BlueChi's INI reading (inih 9cecf06 with BlueChi's build options, cfg.c's handler),
// one test each. The expected values were also checked against a real bluechi-agent's
// "Final configuration used" dump (see bluechi-agent.test.ts, QM_TEST_BLUECHI_AGENT).
import test from 'ava';
import { parseIni } from '../../agent-config/ini.ts';
import { fileSettings } from '../../agent-config/merge.ts';
import { parsed } from './helpers.ts';

const agent = (text: string) => parsed(`[bluechi-agent]\n${text}`)['bluechi-agent'] ?? {};

test('key=value: name and value are trimmed, inner spaces kept', (t) => {
  t.deepEqual(agent('  NodeName   =   my node  \n'), { NodeName: 'my node' });
});

test('":" separates too, and the first of "=" or ":" wins', (t) => {
  t.deepEqual(agent('NodeName: a\nControllerAddress=unix:path=/x\nA:b=c\n'), { NodeName: 'a', ControllerAddress: 'unix:path=/x', A: 'b=c' });
});

test('"#" and ";" start comments, also after leading whitespace; the key is not continued by them', (t) => {
  t.deepEqual(agent('# NodeName=x\n; NodeName=y\nLogLevel=INFO\n   # not a continuation\n\t; nor this\n'), { LogLevel: 'INFO' });
});

test('";" after whitespace starts an inline comment; without whitespace, or "#", it is part of the value', (t) => {
  t.deepEqual(agent('A=v ; comment\nB=v;kept\nC=v # kept\nD=v\t;comment\nE= ;only a comment\nF=;kept\n'), {
    A: 'v',
    B: 'v;kept',
    C: 'v # kept',
    D: 'v',
    E: null,
    F: ';kept',
  });
});

test('an indented line continues the previous value with nothing in between', (t) => {
  t.deepEqual(agent('ControllerAddress=tcp:\n  host=127.0.0.1,\n  port=842\nLogLevel=INFO\n'), {
    ControllerAddress: 'tcp:host=127.0.0.1,port=842',
    LogLevel: 'INFO',
  });
});

test('blank and comment lines do not end a continuation; a section header does', (t) => {
  const result = parsed('[bluechi-agent]\nA=one\n\n# comment\n  two\n[other]\n  B=three\n');
  t.deepEqual(result, { 'bluechi-agent': { A: 'onetwo' }, other: { B: 'three' } });
});

test('continuation pieces lose their inline comments and trailing space', (t) => {
  t.deepEqual(agent('A=one \n   two  ; c\n   three\n'), { A: 'onetwothree' });
});

test('an indented "[x]" after a key is a continuation, not a section', (t) => {
  t.deepEqual(parsed('[bluechi-agent]\nA=a\n  [other]\nB=b\n'), { 'bluechi-agent': { A: 'a[other]', B: 'b' } });
});

test('an indented line with no key before it is an ordinary setting', (t) => {
  t.deepEqual(parsed('[bluechi-agent]\n   A = a\n'), { 'bluechi-agent': { A: 'a' } });
});

test('a key given twice in one file is concatenated (cfg.c parsing_handler), not replaced', (t) => {
  t.deepEqual(agent('NodeName=a\nNodeName=b\n'), { NodeName: 'ab' });
});

test('an empty value is "no value": replaced by a later value in the file, ignored after one', (t) => {
  t.deepEqual(agent('A=\nA=x\nB=y\nB=\nC=\n'), { A: 'x', B: 'y', C: null });
});

test('section names are kept as written: no trimming, case-sensitive, text after "]" ignored', (t) => {
  t.deepEqual(parsed('[ bluechi-agent ]\nA=1\n[BlueChi-Agent]\nB=2\n[bluechi-agent] trailing text\nC=3\n'), {
    ' bluechi-agent ': { A: '1' },
    'BlueChi-Agent': { B: '2' },
    'bluechi-agent': { C: '3' },
  });
});

test('section names are cut to 49 bytes (inih MAX_SECTION)', (t) => {
  const long = 's'.repeat(60);
  t.deepEqual(Object.keys(parsed(`[${long}]\nA=1\n`)), ['s'.repeat(49)]);
});

test('settings before any section are in section ""', (t) => {
  t.deepEqual(parsed('NodeName=x\n[bluechi-agent]\nLogLevel=INFO\n'), { '': { NodeName: 'x' }, 'bluechi-agent': { LogLevel: 'INFO' } });
});

test('a "[" without "]" is a syntax error: the whole file is rejected', (t) => {
  const ini = parseIni('[bluechi-agent]\nNodeName=x\n[broken\nLogLevel=INFO\n', 'f.conf');
  t.true(ini.rejected);
  t.is(fileSettings(ini).size, 0);
  const [error] = ini.diagnostics;
  t.like(error, { severity: 'error', file: 'f.conf', line: 3 });
  t.regex(error!.message, /no closing "\]".*rejects the whole file/);
});

test('";" after whitespace inside a section header hides its "]"', (t) => {
  const ini = parseIni('[bluechi-agent ;x]\n', 'f.conf');
  t.true(ini.rejected);
  t.regex(ini.diagnostics[0]!.message, /";" after whitespace starts a comment/);
});

test('a line that is not key=value is a syntax error, and parsing stops there', (t) => {
  const ini = parseIni('[bluechi-agent]\nNodeName=x\nthis is garbage\nalso garbage\n', 'f.conf');
  t.true(ini.rejected);
  t.is(ini.diagnostics.length, 1);
  t.like(ini.diagnostics[0], { severity: 'error', line: 3 });
});

test('an inline comment before the "=" leaves no separator: syntax error', (t) => {
  t.true(parseIni('[bluechi-agent]\nNodeName ;c=x\n', 'f.conf').rejected);
});

test('"=value" sets the key with the empty name', (t) => {
  t.deepEqual(agent('=value\n'), { '': 'value' });
});

test('a UTF-8 byte order mark on the first line is skipped', (t) => {
  t.deepEqual(parsed('\ufeff[bluechi-agent]\nNodeName=x\n'), { 'bluechi-agent': { NodeName: 'x' } });
  // Only on the first line: elsewhere it is text.
  t.deepEqual(agent('NodeName=\ufeffx\n'), { NodeName: '\ufeffx' });
});

test('CRLF line endings read like LF', (t) => {
  t.deepEqual(parsed('[bluechi-agent]\r\nNodeName=x\r\n  y\r\n'), { 'bluechi-agent': { NodeName: 'xy' } });
});

test('whitespace is C isspace: \\v and \\f are trimmed, a no-break space is not', (t) => {
  t.deepEqual(agent('A=\va\f\nB=\u00a0b\n'), { A: 'a', B: '\u00a0b' });
});

test('a NUL byte ends the line, with a warning', (t) => {
  const ini = parseIni(Buffer.from('[bluechi-agent]\nNodeName=ab\0cd\nLogLevel=INFO\n'), 'f.conf');
  t.deepEqual(parsed(Buffer.from('[bluechi-agent]\nNodeName=ab\0cd\nLogLevel=INFO\n'))['bluechi-agent'], { NodeName: 'ab', LogLevel: 'INFO' });
  t.like(ini.diagnostics[0], { severity: 'warning', line: 2 });
});

test('a line of 518 bytes plus newline is read whole; over 500 it is warned about', (t) => {
  const value = 'v'.repeat(518 - 'A='.length);
  const ini = parseIni(`[bluechi-agent]\nA=${value}\n`, 'f.conf');
  t.is(fileSettings(ini).get('bluechi-agent')?.get('A')?.value, value);
  t.deepEqual(ini.diagnostics.map((d) => [d.severity, d.line]), [['warning', 2]]);
});

test('a longer line is read in 519-byte pieces: the rest becomes its own line (an error for us)', (t) => {
  const value = 'v'.repeat(600);
  const ini = parseIni(`[bluechi-agent]\nA=${value}\n`, 'f.conf');
  // The rest, "vvv...", has no "=": BlueChi rejects the file; we say why, at the physical line.
  t.true(ini.rejected);
  t.like(ini.diagnostics[0], { severity: 'error', line: 2 });
  t.regex(ini.diagnostics[0]!.message, /602 bytes long.*separate line/);
  t.regex(ini.diagnostics[1]!.message, /rest of an over-long line/);
});

test('the rest of an over-long line that starts with whitespace continues the value', (t) => {
  const head = `A=${'a'.repeat(517)}`; // 519 bytes: exactly one fgets
  const ini = parseIni(`[bluechi-agent]\n${head}   tail\n`, 'f.conf');
  t.false(ini.rejected);
  t.is(fileSettings(ini).get('bluechi-agent')?.get('A')?.value, `${'a'.repeat(517)}tail`);
  t.like(ini.diagnostics[0], { severity: 'error', line: 2 });
});

test('a line of exactly 519 bytes without a final newline fits', (t) => {
  const ini = parseIni(`[bluechi-agent]\nA=${'a'.repeat(517)}`, 'f.conf');
  t.deepEqual(ini.diagnostics.map((d) => d.severity), ['warning']);
});

test('continuation of a key longer than 49 bytes goes to the key cut to 49 bytes (inih MAX_NAME)', (t) => {
  const key = 'K'.repeat(60);
  t.deepEqual(agent(`${key}=a\n  b\n`), { [key]: 'a', ['K'.repeat(49)]: 'b' });
});

test('values are bytes: invalid UTF-8 is flagged, multi-byte text survives continuation', (t) => {
  const setting = fileSettings(parseIni(Buffer.from([...Buffer.from('[bluechi-agent]\nNodeName=a'), 0xff, 0x0a]), 'f.conf')).get('bluechi-agent')!.get('NodeName')!;
  t.false(setting.utf8);
  t.deepEqual(agent('NodeName=fahrzeug-\n  ä\n'), { NodeName: 'fahrzeug-ä' });
});

test('line numbers: assignments carry the physical line, continuations too', (t) => {
  const ini = parseIni('[bluechi-agent]\n\nA=1\n  2\nB=3\n', 'f.conf');
  t.deepEqual(ini.assignments.map((a) => [a.key, a.line, a.continuation]), [
    ['A', 3, false],
    ['A', 4, true],
    ['B', 5, false],
  ]);
  const a = fileSettings(ini).get('bluechi-agent')!.get('A')!;
  t.is(a.line, 3);
  t.deepEqual(a.lines, [3, 4]);
});
