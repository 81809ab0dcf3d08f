// Docs that cannot rot: every `sh runnable` block of docs/**/*.md and examples/**/README.md runs here, in order per
// file, against the BlueChi stand-in on a private bus, and its shown output (a `text output` block right after it)
// must match what it printed. `sh runnable node` blocks need a vehicle node and are the vehicle-node harness's;
// an unknown marker fails. The convention: docs/development.md, "Docs that run". Needs `npm run build`.
import test from 'ava';
import { existsSync } from 'node:fs';
import { collectBlocks, outputMatches, type RunnableBlock } from './blocks.ts';
import { ROOT, startShell } from './shell.ts';
import { QMCTL_BIN } from '../support/qmctl.ts';

const { blocks, problems } = await collectBlocks(ROOT);

test('every runnable block has a known marker, and every output block follows one', (t) => {
  t.deepEqual(
    problems.map((problem) => `${problem.file}:${problem.line}: ${problem.message}`),
    [],
  );
});

test('the book has runnable blocks on the host', (t) => {
  t.true(blocks.filter((block) => block.where === 'host').length >= 10);
});

const byFile = new Map<string, RunnableBlock[]>();
for (const block of blocks.filter((block) => block.where === 'host')) byFile.set(block.file, [...(byFile.get(block.file) ?? []), block]);

for (const [file, fileBlocks] of byFile) {
  test(`${file}: its runnable blocks run and print what they show`, async (t) => {
    if (!existsSync(QMCTL_BIN)) return t.fail(`${QMCTL_BIN} is missing: run npm run build`);
    const shell = await startShell();
    t.teardown(() => shell.stop());
    for (const block of fileBlocks) {
      const where = `${block.file}:${block.line}`;
      const run = await shell.run(block.code);
      const ended = run.timedOut ? 'timed out' : run.signal ? `was killed by ${run.signal}` : `exited ${run.code}`;
      if (run.code !== 0) {
        t.fail(`${where}: the block ${ended}; it printed:\n${run.output}`);
        continue;
      }
      if (block.output && !outputMatches(block.output.text, run.output))
        t.fail(`${where}: the output shown at line ${block.output.line} is not what it printed.\nShown:\n${block.output.text}\nPrinted:\n${run.output}`);
      else t.pass();
    }
  });
}

test('vehicle-node blocks are left to the vehicle-node harness', (t) => {
  const node = blocks.filter((block) => block.where === 'node');
  t.log(`${node.length} block(s) marked "sh runnable node":`, node.map((block) => `${block.file}:${block.line}`).join(', '));
  t.pass();
});
