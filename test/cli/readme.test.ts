// The README documents every qmctl verb in its command tables, and its bluechictl table names every bluechictl 1.2
// verb (and bluechi-is-online): a verb added without a row, or a bluechictl verb without a counterpart, fails here.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { commandNames } from '../../controller/cli/registry.ts';

const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
/** The first cell of each table row (a command form in backquotes), split at `\|` alternatives. */
const rowVerbs = (text: string, column = 0) =>
  new Set(
    text
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => (line.split(/(?<!\\)\|/)[column + 1] ?? '').match(/`[^`]+`/g) ?? [])
      .flatMap((cell) => cell.slice(1, -1).split(/\s/)[0]!.split('\\|')),
  );

test('every qmctl verb has a row in a README command table', (t) => {
  const documented = rowVerbs(readme);
  t.deepEqual(commandNames.filter((name) => !documented.has(name)), []);
});

test("the bluechictl table has every bluechictl 1.2 verb, and each qmctl form there is a real verb", (t) => {
  const start = readme.indexOf('### qmctl and bluechictl 1.2');
  const table = readme.slice(start, readme.indexOf('\n#', start + 1));
  // bluechictl 1.2's verbs (src/client/client.c's method table) and bluechi-is-online.
  const bluechictl = ['help', 'version', 'list-units', 'list-unit-files', 'start', 'stop', 'restart', 'reload', 'freeze', 'thaw', 'kill', 'reset-failed',
    'enable', 'disable', 'is-enabled', 'daemon-reload', 'status', 'monitor', 'metrics', 'set-loglevel', 'get-default', 'set-default', 'bluechi-is-online'];
  t.deepEqual(bluechictl.filter((verb) => !rowVerbs(table, 0).has(verb)), []);
  // `same` repeats the bluechictl form; help is main.ts's own, not a command module.
  const qmctlColumn = [...rowVerbs(table, 1)].filter((verb) => /^[a-z][a-z-]*$/.test(verb) && verb !== 'same' && verb !== 'help');
  t.deepEqual(qmctlColumn.filter((verb) => !commandNames.includes(verb)), []);
});
