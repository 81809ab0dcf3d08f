// The runnable-block convention itself: which fences run, which markers are known, how shown output matches.
import test from 'ava';
import { outputMatches, runnableBlocks } from './blocks.ts';

const fence = '```';

test('a runnable block, its output block, and a node block', (t) => {
  const markdown = [
    '# Title',
    `${fence}sh runnable`,
    'qmctl list-nodes',
    fence,
    '',
    `${fence}text output`,
    'ecu-main online',
    fence,
    `${fence}sh`,
    'not run',
    fence,
    `${fence}sh runnable node`,
    'qmctl setup',
    fence,
  ].join('\n');
  const { blocks, problems } = runnableBlocks('x.md', markdown);
  t.deepEqual(problems, []);
  t.deepEqual(blocks, [
    { file: 'x.md', line: 2, where: 'host', code: 'qmctl list-nodes\n', output: { text: 'ecu-main online\n', line: 6 } },
    { file: 'x.md', line: 12, where: 'node', code: 'qmctl setup\n' },
  ]);
});

test('indented fences inside a list item', (t) => {
  const { blocks } = runnableBlocks('x.md', ['1. Run:', '', `   ${fence}sh runnable`, '   qmctl version', `   ${fence}`].join('\n'));
  t.is(blocks[0]?.code, 'qmctl version\n');
});

test('an unknown marker, a stray output block and runnable in the wrong place are each a problem', (t) => {
  const markdown = [
    `${fence}sh runnable vehicle`,
    'x',
    fence,
    `${fence}text output`,
    'y',
    fence,
    `${fence}yaml runnable`,
    'z: 1',
    fence,
    `${fence}sh runnable`,
    'echo a',
    fence,
    'Some words.',
    `${fence}text output`,
    'a',
    fence,
  ].join('\n');
  const { problems } = runnableBlocks('x.md', markdown);
  t.deepEqual(
    problems.map((problem) => problem.line),
    [1, 4, 7, 14],
  );
  t.regex(problems[0]!.message, /unknown marker "vehicle"/);
});

test('shown output: exact lines, trailing blanks ignored, <...> within a line, ... for any lines', (t) => {
  t.true(outputMatches('a\nb\n', 'a  \nb\n\n'));
  t.false(outputMatches('a\nb\n', 'a\nc\n'));
  t.true(outputMatches('applied in <...> s\n', 'applied in 0.31 s\n'));
  t.false(outputMatches('applied in <...> s\n', 'applied\n'));
  t.true(outputMatches('first\n...\nlast\n', 'first\nx\ny\nlast\n'));
  t.true(outputMatches('first\n...\nlast\n', 'first\nlast\n'));
  t.false(outputMatches('first\n...\nlast\n', 'first\nx\n'));
  t.true(outputMatches('a (b) [c] $d\n', 'a (b) [c] $d\n'));
});

test('shown output: a table column as wide as this run\'s values, still two spaces apart at least', (t) => {
  const shown = 'RESULT  TIME   DETAIL\ndone    12 ms\n';
  t.true(outputMatches(shown, 'RESULT  TIME  DETAIL\ndone    12 ms\n'));
  t.true(outputMatches(shown, 'RESULT  TIME    DETAIL\ndone    12 ms\n'));
  t.false(outputMatches(shown, 'RESULT TIME DETAIL\ndone    12 ms\n'));
  t.false(outputMatches(shown, 'RESULT  TIME   DETAIL\ndone 12 ms\n'));
});
