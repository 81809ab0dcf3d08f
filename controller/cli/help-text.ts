// The structure of a --help text, for the manual and the shell completion: the help is written for a terminal
// (aligned option lists, indented examples), and this reads that layout back instead of keeping a second copy.
// Pure.

/** A run of prose, one term and its description, or literal lines (an example, a command line). */
export type HelpBlock =
  | { readonly kind: 'text'; readonly lines: readonly string[] }
  | { readonly kind: 'item'; readonly term: string; readonly lines: readonly string[] }
  | { readonly kind: 'literal'; readonly lines: readonly string[] };

// A term is an option (`-w, --watch`, `--mode MODE`) or one word (a sub-command, a topic), then two spaces or more.
const ITEM = /^( {0,4})(-\S+(?: \S+)*?|[a-z][\w.-]*) {2,}(\S.*)$/;
// A prose line that opens with a label (`JSON:`, `Exit:`, `With NODE:`) starts a paragraph of its own.
const LABEL = /^[A-Z][\w ]{0,20}:(\s|$)/;

export function helpBlocks(help: string): HelpBlock[] {
  const blocks: { kind: HelpBlock['kind']; term?: string; lines: string[]; indent: number }[] = [];
  const last = () => blocks.at(-1);
  for (const line of help.replace(/\s+$/, '').split('\n')) {
    const indent = line.length - line.trimStart().length;
    const text = line.trim();
    const item = ITEM.exec(line);
    const previous = last();
    if (text === '') blocks.push({ kind: 'text', lines: [], indent: 0 });
    else if (item) blocks.push({ kind: 'item', term: item[2]!, lines: [item[3]!], indent: item[1]!.length });
    // Deeper than a term: the description or the paragraph above goes on.
    else if (previous && previous.lines.length > 0 && previous.kind !== 'literal' && indent > previous.indent + 2) previous.lines.push(text);
    else if (indent > 0) {
      if (previous?.kind === 'literal') previous.lines.push(line.slice(previous.indent));
      else blocks.push({ kind: 'literal', lines: [text], indent });
    } else if (previous?.kind === 'text' && previous.lines.length > 0 && !LABEL.test(text)) previous.lines.push(text);
    else blocks.push({ kind: 'text', lines: [text], indent: 0 });
  }
  return blocks
    .filter((block) => block.lines.length > 0)
    .map((block) => (block.kind === 'item' ? { kind: 'item', term: block.term!, lines: block.lines } : { kind: block.kind as 'text' | 'literal', lines: block.lines }));
}

/** An option as a help text describes it: its names, what its value is called, and what it does. */
export interface DescribedOption {
  readonly long: string;
  readonly short?: string;
  /** `MODE`, `DIR`, or the choices written out: `auto|unix|tcp`. */
  readonly value?: string;
  readonly description: string;
}

/** The options a help text describes, `--mode MODE   what it does` as `{ long: 'mode', value: 'MODE', ... }`. */
export function describedOptions(help: string): DescribedOption[] {
  return helpBlocks(help).flatMap((block) => {
    if (block.kind !== 'item' || !block.term.startsWith('-')) return [];
    const names = block.term.split(/,\s*/);
    const [long, value] = names.find((name) => name.startsWith('--'))?.split(' ') ?? [];
    const short = names.find((name) => /^-\w$/.test(name))?.slice(1);
    if (!long) return [];
    return [{ long: long.slice(2), ...(short ? { short } : {}), ...(value ? { value } : {}), description: block.lines.join(' ') }];
  });
}
