// The pure parts of the manual and completion generators: reading a --help text back, roff, Markdown, usage lines.
import test from 'ava';
import { completionTable, usageSlots } from '../../controller/cli/completion.ts';
import { describedOptions, helpBlocks } from '../../controller/cli/help-text.ts';
import { globalOptions, qmctlHelp } from '../../controller/cli/main.ts';
import { escapeRoff, formatSynopsis, helpToRoff, markdownSections, textLine } from '../../controller/cli/man.ts';
import { commandNames, loadCommand } from '../../controller/cli/registry.ts';

test('a help text reads back as paragraphs, option and sub-command items with their continuations, and examples', (t) => {
  const help = `Does a thing.
More of it.
  --mode MODE   how: a, b
                or c
  -w, --watch   keep going
  render        a sub-command
Examples:
  qmctl x --mode a
JSON: { a }`;
  t.deepEqual(helpBlocks(help), [
    { kind: 'text', lines: ['Does a thing.', 'More of it.'] },
    { kind: 'item', term: '--mode MODE', lines: ['how: a, b', 'or c'] },
    { kind: 'item', term: '-w, --watch', lines: ['keep going'] },
    { kind: 'item', term: 'render', lines: ['a sub-command'] },
    { kind: 'text', lines: ['Examples:'] },
    { kind: 'literal', lines: ['qmctl x --mode a'] },
    { kind: 'text', lines: ['JSON: { a }'] },
  ]);
  t.deepEqual(describedOptions(help), [
    { long: 'mode', value: 'MODE', description: 'how: a, b or c' },
    { long: 'watch', short: 'w', description: 'keep going' },
  ]);
});

test("every option a command takes is described in its --help (and so in qmctl(1)), and so are the common ones", async (t) => {
  for (const name of commandNames) {
    const command = (await loadCommand(name))!;
    const described = describedOptions(command.help ?? '').map((option) => option.long);
    t.deepEqual(Object.keys(command.options ?? {}).filter((option) => !described.includes(option)), [], name);
  }
  const common = describedOptions(qmctlHelp.commonOptions).map((option) => option.long);
  t.deepEqual(Object.keys(globalOptions).filter((option) => !common.includes(option)), []);
});

test('roff: backslashes, minus signs and non-ASCII escaped; a leading dot or apostrophe made text', (t) => {
  t.is(escapeRoff('a\\b --x ü'), 'a\\eb \\-\\-x \\[u00FC]');
  t.is(escapeRoff('a — b → c'), 'a \\(em b \\(-> c');
  t.is(textLine(escapeRoff('.d/*.yaml')), '\\&.d/*.yaml');
  t.is(textLine("'quoted'"), "\\&'quoted'");
  t.is(formatSynopsis('start NODE[,NODE...] [--mode MODE]'), '\\fBstart\\fR \\fINODE\\fR[,\\fINODE\\fR...] [\\fB\\-\\-mode\\fR \\fIMODE\\fR]');
  t.deepEqual(helpToRoff('  --force   replace links'), ['.TP', '\\fB\\-\\-force\\fR', 'replace links']);
});

test('Markdown: sections, lists, code, tables and inline marks', (t) => {
  const sections = markdownSections(`# Title

Intro with \`code\` and **bold**.

## Files

- \`/etc/x\`: one
  continued
| key | where | meaning |
|---|---|---|
| \`a\` | top | the \\| bar |

\`\`\`yaml
.not: a request
\`\`\`
`);
  t.deepEqual(sections, [
    { heading: 'DESCRIPTION', lines: ['.PP', 'Intro with \\fBcode\\fR and \\fBbold\\fR.'] },
    {
      heading: 'Files',
      lines: ['.IP \\(bu 2', '\\fB/etc/x\\fR: one', 'continued', '.TP', '\\fBa\\fR (top)', 'the | bar', '.PP', '.RS 4', '.nf', '\\&.not: a request', '.fi', '.RE'],
    },
  ]);
});

test('usage lines name the positional arguments: nodes, units, files, literal choices, and what repeats', (t) => {
  t.deepEqual(usageSlots('start', 'start NODE[,NODE...] UNIT... [--mode MODE]'), [
    { kinds: ['nodes'], words: [], repeats: false },
    { kinds: ['unit'], words: [], repeats: true },
  ]);
  t.deepEqual(usageSlots('monitor', 'monitor [NODE|*] [UNIT...]'), [
    { kinds: ['node'], words: [], repeats: false },
    { kinds: ['unit'], words: [], repeats: true },
  ]);
  t.deepEqual(usageSlots('layout', 'layout check FILE|DIR...'), [
    { kinds: [], words: ['check'], repeats: false },
    { kinds: ['file'], words: [], repeats: true },
  ]);
  // Alternatives, on lines of their own or either side of a lone bar, merge by position.
  t.deepEqual(usageSlots('x', 'x render|check [--a | --b]\n       x apply [--c DIR] | x show'), [{ kinds: [], words: ['render', 'check', 'apply', 'show'], repeats: false }]);
});

test('completion table: option values from the usage, the help and the known choices', (t) => {
  const table = completionTable(
    [{ name: 'kill', summary: 's', usage: 'kill NODE [--whom all|main] [--dir DIR]', help: '  --whom WHO   which\n  --dir DIR    where\n  --mode MODE  how', options: { whom: { type: 'string' }, dir: { type: 'string' }, mode: { type: 'string' }, force: { type: 'boolean', short: 'f' } } }],
    { json: { type: 'boolean' } },
    '  --json   machine-readable',
    { mode: ['a', 'b'] },
  );
  t.deepEqual(table.global, [{ long: 'json', description: 'machine-readable' }]);
  t.deepEqual(table.verbs[0]!.options, [
    { long: 'whom', description: 'which', value: { kind: 'none', words: ['all', 'main'] } },
    { long: 'dir', description: 'where', value: { kind: 'dir', words: [] } },
    { long: 'mode', description: 'how', value: { kind: 'none', words: ['a', 'b'] } },
    { long: 'force', short: 'f', description: '' },
  ]);
});
