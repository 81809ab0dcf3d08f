// Links in Markdown: found outside code, resolved against the file that holds them, and headings turned into the
// anchors GitHub gives them.
import { dirname, join, normalize } from 'node:path';
import { fencedBlocks } from './blocks.ts';

export interface MarkdownLink {
  /** The file holding the link, relative to the repository root. */
  readonly file: string;
  readonly line: number;
  readonly target: string;
  /** The file it points to, relative to the repository root; undefined for a link within the same file. */
  readonly path?: string;
  readonly anchor?: string;
}

/** The text of a Markdown file with fenced blocks and code spans blanked, lines kept where they were. */
function withoutCode(markdown: string): string {
  return withoutCodeBlocks(markdown)
    .map((line) => line.replace(/(`+)[^`]*?\1/g, ''))
    .join('\n');
}

/** Relative links of a Markdown file: `[text](target)`, `![alt](target)`, `[label]: target`. Not URLs, not man: pages. */
export function markdownLinks(file: string, markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  withoutCode(markdown)
    .split('\n')
    .forEach((text, index) => {
      const targets = [
        ...[...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]!),
        ...[...text.matchAll(/^\s*\[[^\]]+\]:\s+<?(\S+?)>?(?:\s+"[^"]*")?\s*$/g)].map((match) => match[1]!),
      ];
      for (const target of targets) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
        const [path = '', anchor] = target.split('#', 2);
        links.push({
          file,
          line: index + 1,
          target,
          ...(path ? { path: normalize(join(dirname(file), decodeURIComponent(path))) } : {}),
          ...(anchor !== undefined ? { anchor: decodeURIComponent(anchor) } : {}),
        });
      }
    });
  return links;
}

/** GitHub's anchor for each heading of a Markdown file (github-slugger: lower case, punctuation dropped, -N for repeats). */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCodeBlocks(markdown)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .replace(/[`*_]/g, (mark) => (mark === '_' ? '_' : ''));
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count ? `${slug}-${count}` : slug);
  }
  return anchors;
}

/** The lines of a Markdown file with its fenced blocks (fences included) blanked. */
function withoutCodeBlocks(markdown: string): string[] {
  const lines = markdown.replace(/\r\n/g, '\n').split('\n');
  for (const fence of fencedBlocks(markdown)) {
    // The opening fence, the body, the closing fence.
    const close = fence.line + fence.text.split('\n').length - 1;
    for (let index = fence.line - 1; index <= Math.min(close, lines.length - 1); index++) lines[index] = '';
  }
  return lines;
}
