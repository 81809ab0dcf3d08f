// What any layout costs: alias bombs are refused at the alias, time grows linearly with the input, no
// input drives recursion, and every error names file and line and quotes a bounded prefix of the text.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { readLayout } from '../../controller/layout/index.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

interface ChildOutcome {
  /** `file:line:column: field: message` of each error, when the child finished. */
  readonly errors?: string[];
  /** Why the child did not finish: killed at the time limit, out of memory, crashed. */
  readonly failure?: string;
  /** How long loadLayout took in the child (its start-up not counted). */
  readonly ms?: number;
}

/**
 * loadLayout on each text, in one child with a small heap and a time limit: what the input does to qmctl
 * or the daemon, without taking the test process down with it.
 */
async function loadInChild(t: ExecutionContext, texts: readonly string[], limitMs = 20_000): Promise<ChildOutcome[]> {
  const dirs: string[] = [];
  for (const text of texts) {
    const dir = await mkdtemp(join(tmpdir(), 'qm-layout-bounds-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'layout.yaml'), text);
    dirs.push(dir);
  }
  const script = `const { loadLayout } = await import(${JSON.stringify(join(REPO, 'controller/layout/index.ts'))});
for (const dir of process.argv.slice(1)) {
  const start = performance.now();
  const result = await loadLayout([dir]);
  const ms = performance.now() - start;
  console.log(JSON.stringify({ ms, errors: result.ok ? [] : result.errors.map((e) => e.position + (e.origin.field ? e.origin.field + ': ' : '') + e.message) }));
}`;
  const child = spawnSync(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', '--input-type=module', '-e', script, ...dirs], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: limitMs,
    maxBuffer: 1024 * 1024,
  });
  const outcomes = child.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as ChildOutcome);
  const failure = `${child.signal ?? `exit ${child.status}`}: ${child.stderr.split('\n').filter((line) => /Error|heap/.test(line)).slice(0, 2).join(' ')}`;
  return texts.map((_, index) => outcomes[index] ?? { failure });
}

/** The classic "billion laughs": each level an anchored list of nine aliases of the level before. */
function laughs(levels: number, width: number): string {
  const lines = [`l0: &l0 [${Array(width).fill('"lol"').join(',')}]`];
  for (let level = 1; level < levels; level += 1) lines.push(`l${level}: &l${level} [${Array(width).fill(`*l${level - 1}`).join(',')}]`);
  return `${lines.join('\n')}\nnodes:\n  a:\n    units:\n      x.service:\n        needs: *l${levels - 1}\n`;
}

test('alias bombs are refused at once, naming the file and line of the alias that crosses the limit', async (t) => {
  const [nested, million] = [laughs(9, 9), laughs(6, 10)];
  t.true(nested.length < 600, `${nested.length} bytes`); // 9^9 values
  t.true(million.length < 400, `${million.length} bytes`); // 10^6 values
  const outcomes = await loadInChild(t, [nested, million]);
  for (const outcome of outcomes) {
    t.is(outcome.failure, undefined);
    t.true(outcome.ms! < 1000, `${outcome.ms?.toFixed(0)} ms`);
  }
  t.is(outcomes[0]!.errors?.length, 1);
  t.regex(outcomes[0]!.errors?.[0] ?? '', /\/layout\.yaml:\d+:\d+: .*aliases would expand to more than/);
  t.deepEqual(
    outcomes[1]!.errors?.map((error) => error.replace(/^.*\/layout\.yaml/, 'layout.yaml')),
    ['layout.yaml:4:42: l3[8]: aliases would expand to more than 10,440 values, 10 times what the file writes plus 10,000; is this an alias bomb?'],
  );
});

test('aliases used the way people use them — one restart budget shared by many units — are fine', (t) => {
  const units = Array.from({ length: 2000 }, (_, index) => `      u${index}.service: { restart: *budget }`).join('\n');
  const result = readLayout([{ file: 'f.yaml', text: `budgets:\n  - &budget { attempts: 5, window: 10m, backoff: 2s }\nnodes:\n  a:\n    units:\n${units}\n` }]);
  t.false(result.ok); // "budgets" is not a layout key; everything else is read
  if (!result.ok) t.deepEqual(result.errors.map((error) => error.message), ['unknown key "budgets"; known keys: version, nodes']);
});

/** The least of two timings of `run`, in ms of CPU time (the wall clock would time the machine's other work too). */
function fastest(run: () => unknown): number {
  let best = Infinity;
  for (let round = 0; round < 2; round += 1) {
    const start = process.cpuUsage();
    run();
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  return best;
}

/** `count` units in one node, each needing the one before: about 40 bytes a unit. */
function chain(count: number, node = 'ecu'): string {
  const lines = ['nodes:', `  ${node}:`, '    units:'];
  for (let index = 0; index < count; index += 1) lines.push(`      u${index}.service: {${index > 0 ? ` needs: u${index - 1}.service` : ''} }`);
  return `${lines.join('\n')}\n`;
}

// Eight times the input may take eight times as long, with room for the garbage collector; quadratic would be 64 times.
const LINEAR = 24;

test.serial('checking grows linearly: eight times the units in one map, about eight times the time (it was quadratic: 17 s of 30 in the duplicate-key check)', (t) => {
  const small = chain(3_000);
  const large = chain(24_000);
  t.true(large.length > 900_000, `${large.length} bytes`);
  const check = (text: string) => () => t.true(readLayout([{ file: 'f.yaml', text }]).ok);
  check(small)(); // warm-up
  const [a, b] = [fastest(check(small)), fastest(check(large))];
  t.true(b < LINEAR * a + 100, `3,000 units: ${a.toFixed(0)} ms; 24,000 units: ${b.toFixed(0)} ms`);
});

test.serial('a drop-in over a large layout merges in linear time', (t) => {
  const merge = (count: number) => () => t.true(readLayout([{ file: 'a.yaml', text: chain(count) }, { file: 'b.yaml', text: chain(count) }]).ok);
  merge(2_000)();
  const [a, b] = [fastest(merge(2_000)), fastest(merge(16_000))];
  t.true(b < LINEAR * a + 100, `2,000 units: ${a.toFixed(0)} ms; 16,000 units: ${b.toFixed(0)} ms`);
});

test.serial('a unit that needs thousands of units is checked in linear time', (t) => {
  const needsAll = (count: number) => {
    const names = Array.from({ length: count }, (_, index) => `u${index}.service`);
    return () => t.true(readLayout([{ file: 'f.yaml', text: `nodes:\n  a:\n    units:\n      all.service: { needs: [${names.join(', ')}] }\n${names.map((name) => `      ${name}:\n`).join('')}` }]).ok);
  };
  needsAll(5_000)();
  const [a, b] = [fastest(needsAll(5_000)), fastest(needsAll(40_000))];
  t.true(b < LINEAR * a + 100, `5,000 needs: ${a.toFixed(0)} ms; 40,000 needs: ${b.toFixed(0)} ms`);
});

test('a duplicate key is still reported with file:line:column and field, naming the line of its first use', (t) => {
  const result = readLayout([{ file: 'f.yaml', text: 'nodes:\n  a:\n    units:\n      x.service: {}\n      y.service: {}\n      x.service: { state: stopped }\n' }]);
  t.false(result.ok);
  if (!result.ok) {
    t.deepEqual(
      result.errors.map((error) => `${error.position}${error.origin.field}: ${error.message}`),
      ['f.yaml:6:7: nodes.a.units[x.service]: "x.service" appears twice in this map (first on line 4); a key may appear once in a file'],
    );
  }
});

test('nesting deeper than 64 levels is an error at the 65th, not a stack overflow', (t) => {
  for (const text of [`nodes: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`, `nodes:\n${Array.from({ length: 3000 }, (_, index) => `${' '.repeat(index + 2)}k${index}:`).join('\n')}\n`]) {
    const result = readLayout([{ file: 'f.yaml', text }]);
    t.false(result.ok);
    if (!result.ok) {
      t.is(result.errors.length, 1);
      t.like(result.errors[0]!.origin, { file: 'f.yaml', line: text.startsWith('nodes: [') ? 1 : 65 });
      t.regex(result.errors[0]!.message, /^nested deeper than 64 levels/);
    }
  }
});

test('error texts quote a bounded prefix of what was written: a 10 MB value yields a short line', (t) => {
  const huge = 'x'.repeat(10 * 1024 * 1024);
  const result = readLayout([{ file: 'f.yaml', text: `nodes:\n  a:\n    units:\n      x.service:\n        state: "${huge}"\n        needs: ${huge}\n` }]);
  t.false(result.ok);
  if (!result.ok) {
    const lines = result.errors.map((error) => `${error.position}${error.origin.field}: ${error.message}`);
    t.true(lines.every((line) => line.length < 400), lines.map((line) => line.length).join(', '));
    t.is(lines[0], `f.yaml:5:16: nodes.a.units[x.service].state: state must be one of running, stopped, not "${'x'.repeat(60)}…" (10485760 characters)`);
  }
});

test('a second document is named in our words, not the YAML library\'s', (t) => {
  const result = readLayout([{ file: 'f.yaml', text: 'nodes:\n  a: {}\n---\nnodes:\n  b: {}\n' }]);
  t.false(result.ok);
  if (!result.ok) {
    t.deepEqual(
      result.errors.map((error) => `${error.position}${error.message}`),
      ['f.yaml:3:1: a layout file holds one YAML document; a second one starts here (merge layouts as drop-ins in layout.d/ instead)'],
    );
  }
});

test('YAML syntax errors carry the field they are in (none at the top level), not field ""', (t) => {
  const inside = readLayout([{ file: 'f.yaml', text: 'nodes:\n  a:\n    units: [x.service,\n' }]);
  const top = readLayout([{ file: 'f.yaml', text: 'nodes: {}\n]\n' }]);
  t.false(inside.ok || top.ok);
  if (!inside.ok) t.like(inside.errors[0]!.toJSON(), { file: 'f.yaml', line: 4, column: 1, field: 'nodes.a.units' });
  if (!top.ok) {
    t.like(top.errors[0]!.toJSON(), { file: 'f.yaml', line: 2, column: 1 });
    t.false('field' in top.errors[0]!.toJSON());
  }
});
