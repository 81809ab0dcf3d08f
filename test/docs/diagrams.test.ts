// The book's diagrams: each Graphviz source in docs/diagrams/ renders with `dot -Tsvg` without a warning to a
// well-formed SVG; the SVG committed beside it is that rendering (`make diagrams` renders them all); and the book
// shows every one of them.
import test from 'ava';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseStringPromise } from 'xml2js';
import { bookFiles } from './blocks.ts';
import { markdownLinks } from './links.ts';
import { ROOT } from './shell.ts';

const DIR = 'docs/diagrams';
const names = await readdir(join(ROOT, DIR));
const sources = names.filter((name) => name.endsWith('.dot')).sort();
const svgs = names.filter((name) => name.endsWith('.svg')).sort();

function render(file: string): Promise<{ code: number; svg: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('dot', ['-Tsvg', file], { cwd: ROOT }, (error, svg, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') reject(new Error('dot is missing: install graphviz (scripts/install-deps.sh)'));
      else resolve({ code: error ? Number(error.code ?? 1) : 0, svg, stderr });
    });
  });
}

/** What a reader sees of a diagram, whatever the coordinates: its nodes' and edges' titles and every text. */
const content = (svg: string) =>
  [...svg.matchAll(/<(title|text)\b[^>]*>([^<]*)<\/\1>/g)].map(([, tag, text]) => `${tag}: ${text}`).sort();

test('there are diagrams, each source with its SVG and each SVG with its source', (t) => {
  t.true(sources.length >= 3);
  t.deepEqual(
    svgs,
    sources.map((name) => name.replace(/\.dot$/, '.svg')),
  );
});

for (const source of sources) {
  test(`${DIR}/${source} renders without warnings to a well-formed SVG, the one committed`, async (t) => {
    const rendered = await render(join(DIR, source));
    t.is(rendered.code, 0, rendered.stderr);
    t.is(rendered.stderr, '', 'dot warned');
    const parsed = (await parseStringPromise(rendered.svg)) as Record<string, unknown>;
    t.deepEqual(Object.keys(parsed), ['svg']);
    const committed = await readFile(join(ROOT, DIR, source.replace(/\.dot$/, '.svg')), 'utf8');
    t.deepEqual(Object.keys((await parseStringPromise(committed)) as Record<string, unknown>), ['svg']);
    t.deepEqual(content(committed), content(rendered.svg), `${DIR}/${source} changed since its SVG was rendered: run make diagrams`);
  });
}

test('the book shows every diagram', async (t) => {
  const shown = new Set<string>();
  for (const file of await bookFiles(ROOT)) {
    for (const link of markdownLinks(file, await readFile(join(ROOT, file), 'utf8'))) if (link.path) shown.add(link.path);
  }
  t.deepEqual(
    svgs.map((name) => `${DIR}/${name}`).filter((path) => !shown.has(path)),
    [],
  );
});
