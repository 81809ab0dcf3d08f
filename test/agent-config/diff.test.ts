// Key-by-key changes for the log, unified diffs for --dry-run (checked with patch(1)).
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { describeChange, settingChanges, unifiedDiff } from '../../agent-config/diff.ts';
import { tempTree } from './helpers.ts';

test('settingChanges: changed, added, removed, emptied; order of the new file then removed keys', (t) => {
  const before = new Map<string, string | null>([['NodeName', 'qm.a'], ['LogLevel', 'INFO'], ['Gone', 'x'], ['Same', 'y']]);
  const after = new Map<string, string | null>([['NodeName', 'qm.b'], ['Same', 'y'], ['LogLevel', null], ['New', '1']]);
  const changes = settingChanges(before, after);
  t.deepEqual(changes, [
    { key: 'NodeName', before: 'qm.a', after: 'qm.b' },
    { key: 'LogLevel', before: 'INFO', after: null },
    { key: 'New', before: undefined, after: '1' },
    { key: 'Gone', before: 'x', after: undefined },
  ]);
  t.deepEqual(changes.map(describeChange), ['NodeName: "qm.a" → "qm.b"', 'LogLevel: "INFO" → (empty)', 'New: (unset) → "1"', 'Gone: "x" → (unset)']);
});

test('unifiedDiff: empty for equal texts, hunks with three lines of context', (t) => {
  t.is(unifiedDiff('a\n', 'a\n', { before: 'x', after: 'y' }), '');
  const before = 'l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\n';
  const after = 'l1\nL2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\nl11\n';
  t.is(
    unifiedDiff(before, after, { before: 'old', after: 'new' }),
    ['--- old', '+++ new', '@@ -1,5 +1,5 @@', ' l1', '-l2', '+L2', ' l3', ' l4', ' l5', '@@ -8,3 +8,4 @@', ' l8', ' l9', ' l10', '+l11', ''].join('\n'),
  );
  t.is(unifiedDiff('', 'a\nb\n', { before: '/dev/null', after: 'f' }), '--- /dev/null\n+++ f\n@@ -0,0 +1,2 @@\n+a\n+b\n');
});

test('patch(1) turns the old text into the new one with our diff', async (t) => {
  const root = await tempTree(t);
  const lines = fc.array(fc.constantFrom('a', 'b', 'c', 'NodeName=x', '', '# c'), { maxLength: 15 });
  await fc.assert(
    fc.asyncProperty(lines, lines, async (a, b) => {
      const before = a.map((line) => `${line}\n`).join('');
      const after = b.map((line) => `${line}\n`).join('');
      const diff = unifiedDiff(before, after, { before: 'f', after: 'f' });
      if (diff === '') return t.is(before, after);
      await writeFile(join(root, 'f'), before);
      await writeFile(join(root, 'f.diff'), diff);
      const result = spawnSync('patch', ['--quiet', '--force', '-p0', join(root, 'f'), join(root, 'f.diff')], { encoding: 'utf8' });
      t.is(result.status, 0, `${result.stdout}${result.stderr}\n${diff}`);
      t.is(await readFile(join(root, 'f'), 'utf8'), after);
    }),
    { numRuns: 60 },
  );
});
