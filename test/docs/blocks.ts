// Runnable shell blocks in the book (docs/) and the examples' READMEs: found, checked for their marker, and their
// shown output compared with what they printed. The convention is documented in docs/development.md
// ("Docs that run"); test/docs/runnable.test.ts runs the host blocks, the vehicle-node harness the `node` ones.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Where a block runs: on the host beside the BlueChi stand-in, or on a vehicle node (a real systemd container). */
export type Where = 'host' | 'node';

export interface ShownOutput {
  readonly text: string;
  /** 1-based line of the output block's opening fence. */
  readonly line: number;
}

export interface RunnableBlock {
  /** Relative to the repository root. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly where: Where;
  readonly code: string;
  readonly output?: ShownOutput;
}

/** A block the convention does not allow, named by file and line. */
export interface BlockProblem {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

const LANGUAGES = new Set(['sh', 'bash']);
const MARKERS: Record<string, Where> = { '': 'host', node: 'node' };

interface Fence {
  readonly info: string;
  readonly text: string;
  readonly line: number;
  /** Only blank lines lie between this fence's close and the previous fence's. */
  readonly followsPrevious: boolean;
}

/** The fenced code blocks of a Markdown text (``` or ~~~, indented up to 3 spaces or inside a list item). */
export function fencedBlocks(markdown: string): Fence[] {
  const lines = markdown.replace(/\r\n/g, '\n').split('\n');
  const fences: Fence[] = [];
  let lastClose = -1;
  for (let index = 0; index < lines.length; index++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[index]!);
    if (!open) continue;
    const [, indent = '', mark = '', info = ''] = open;
    if (mark[0] === '`' && info.includes('`')) continue;
    const body: string[] = [];
    let end = index + 1;
    const closing = new RegExp(`^\\s*${mark[0] === '`' ? '`' : '~'}{${mark.length},}\\s*$`);
    while (end < lines.length && !closing.test(lines[end]!)) {
      const text = lines[end]!;
      body.push(text.startsWith(indent) ? text.slice(indent.length) : text.trimStart());
      end++;
    }
    const between = lines.slice(lastClose + 1, index);
    fences.push({
      info: info.trim(),
      text: body.length ? `${body.join('\n')}\n` : '',
      line: index + 1,
      followsPrevious: lastClose >= 0 && between.every((line) => line.trim() === ''),
    });
    lastClose = end;
    index = end;
  }
  return fences;
}

/** The runnable blocks of one Markdown file, and every way it breaks the convention. */
export function runnableBlocks(file: string, markdown: string): { blocks: RunnableBlock[]; problems: BlockProblem[] } {
  const blocks: RunnableBlock[] = [];
  const problems: BlockProblem[] = [];
  let previous: { block: RunnableBlock; index: number } | undefined;
  const fences = fencedBlocks(markdown);
  fences.forEach((fence, index) => {
    const words = fence.info.split(/\s+/).filter(Boolean);
    const problem = (message: string) => problems.push({ file, line: fence.line, message });
    if (words[0] === 'text' && words[1] === 'output') {
      if (words.length > 2) problem(`an output block's info string is "text output", not "${fence.info}"`);
      else if (!previous || previous.index !== index - 1 || !fence.followsPrevious)
        problem('an output block must come right after a runnable block (only blank lines between)');
      else if (previous.block.output) problem('a runnable block has one output block at most');
      else blocks[blocks.length - 1] = previous.block = { ...previous.block, output: { text: fence.text, line: fence.line } };
      return;
    }
    const at = words.indexOf('runnable');
    if (at < 0) return;
    if (at !== 1 || !LANGUAGES.has(words[0]!)) return problem(`"runnable" follows the language, sh or bash: "${fence.info}"`);
    const marker = words.slice(2).join(' ');
    const where = Object.hasOwn(MARKERS, marker) ? MARKERS[marker] : undefined;
    if (!where)
      return problem(`unknown marker "${marker}" (known: "${words[0]} runnable" on the host, "${words[0]} runnable node" on a vehicle node)`);
    if (fence.text.trim() === '') return problem('an empty runnable block');
    const block: RunnableBlock = { file, line: fence.line, where, code: fence.text };
    blocks.push(block);
    previous = { block, index };
  });
  return { blocks, problems };
}

/** The Markdown files whose blocks may run: docs/**\/*.md and examples/**\/README.md, relative to `root`. */
export async function bookFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, take: (name: string) => boolean): Promise<void> => {
    const entries = await readdir(join(root, dir), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path, take);
      else if (entry.isFile() && take(entry.name)) found.push(path);
    }
  };
  await walk('docs', (name) => name.endsWith('.md'));
  await walk('examples', (name) => name === 'README.md');
  return found.sort();
}

/** Every runnable block of the book and the examples, with every problem found on the way. */
export async function collectBlocks(root: string): Promise<{ blocks: RunnableBlock[]; problems: BlockProblem[] }> {
  const blocks: RunnableBlock[] = [];
  const problems: BlockProblem[] = [];
  for (const file of await bookFiles(root)) {
    const found = runnableBlocks(relative(root, join(root, file)), await readFile(join(root, file), 'utf8'));
    blocks.push(...found.blocks);
    problems.push(...found.problems);
  }
  return { blocks, problems };
}

/** A line of shown output that stands for any number of lines, none included. */
export const ANY_LINES = '...';
/** Within a line of shown output: any text (a time, a path, an id). */
export const ANY_TEXT = '<...>';

const normalise = (text: string): string[] => {
  const lines = text.replace(/\r\n/g, '\n').split('\n').map((line) => line.trimEnd());
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
};

/**
 * A shown line as a pattern. Columns of a table are two or more spaces apart and as wide as
 * what they hold this time (a TIME of `12 ms` widens its column), so a run of two or more
 * spaces stands for any such run.
 */
const linePattern = (line: string): RegExp => {
  const literal = (part: string): string =>
    part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ {2,}/g, ' {2,}');
  return new RegExp(`^${line.split(ANY_TEXT).map(literal).join('.*')}$`);
};

/** Whether `actual` is what `shown` shows, `...` lines and `<...>` standing for what varies. */
export function outputMatches(shown: string, actual: string): boolean {
  const want = normalise(shown);
  const got = normalise(actual);
  const patterns = want.map((line) => (line === ANY_LINES ? undefined : linePattern(line)));
  const memo = new Map<string, boolean>();
  const match = (w: number, g: number): boolean => {
    const key = `${w}:${g}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (w === patterns.length) result = g === got.length;
    else if (patterns[w] === undefined) result = match(w + 1, g) || (g < got.length && match(w, g + 1));
    else result = g < got.length && patterns[w]!.test(got[g]!) && match(w + 1, g + 1);
    memo.set(key, result);
    return result;
  };
  return match(0, 0);
}
