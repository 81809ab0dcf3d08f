// Every relative link in README.md, docs/ and the examples' READMEs resolves: the file exists, and an anchor names a
// heading of the file it points to (as GitHub makes anchors of headings).
import test from 'ava';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bookFiles } from './blocks.ts';
import { headingAnchors, markdownLinks } from './links.ts';
import { ROOT } from './shell.ts';

test('links: a relative path, an anchor, a URL left alone, code ignored', (t) => {
  const markdown = [
    '# The `qmctl` book',
    'See [layout](layout.md#the-vehicle-layout), ![levels](diagrams/levels.svg "Levels") and [up](../README.md).',
    '[here](#the-qmctl-book) [web](https://example.org/x.md) [man](man:qm(8))',
    '`[not](a-link.md)`',
    '```sh',
    '[not](either.md)',
    '```',
    '[ref]: installing.md',
  ].join('\n');
  t.deepEqual(
    markdownLinks('docs/README.md', markdown).map((link) => [link.line, link.path, link.anchor]),
    [
      [2, 'docs/layout.md', 'the-vehicle-layout'],
      [2, 'docs/diagrams/levels.svg', undefined],
      [2, 'README.md', undefined],
      [3, undefined, 'the-qmctl-book'],
      [8, 'docs/installing.md', undefined],
    ],
  );
});

test("headings' anchors as GitHub makes them", (t) => {
  const anchors = headingAnchors('# QM\'s bluechi-agent\n## `qmctl check`: QM\'s isolation, tried\n## Files\n## Files\n');
  t.deepEqual([...anchors], ['qms-bluechi-agent', 'qmctl-check-qms-isolation-tried', 'files', 'files-1']);
});

test('every relative link in README.md, docs/ and examples/ resolves, anchors included', async (t) => {
  const files = ['README.md', ...(await bookFiles(ROOT)).filter((file) => file.endsWith('.md'))];
  const anchorsOf = new Map<string, Set<string>>();
  const anchors = async (file: string) => {
    if (!anchorsOf.has(file)) anchorsOf.set(file, headingAnchors(await readFile(join(ROOT, file), 'utf8')));
    return anchorsOf.get(file)!;
  };
  const broken: string[] = [];
  let count = 0;
  for (const file of files) {
    for (const link of markdownLinks(file, await readFile(join(ROOT, file), 'utf8'))) {
      count++;
      const where = `${file}:${link.line}: ${link.target}`;
      const path = link.path ?? file;
      if (!existsSync(join(ROOT, path))) broken.push(`${where}: no such file ${path}`);
      else if (link.anchor !== undefined) {
        if (!path.endsWith('.md') || statSync(join(ROOT, path)).isDirectory()) broken.push(`${where}: an anchor into something not Markdown`);
        else if (!(await anchors(path)).has(link.anchor)) broken.push(`${where}: ${path} has no heading with anchor #${link.anchor}`);
      }
    }
  }
  t.deepEqual(broken, []);
  t.true(count > 20, `only ${count} links found`);
});
