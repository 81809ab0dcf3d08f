// The manual pages (man(7) roff): qmctl(1) and qm-controller(8) from the text their --help prints, qm(8) and
// qm-layout(5) from the Markdown in docs/. Pure: text in, page out; scripts/gen-docs.ts writes the files.
import { helpBlocks, type HelpBlock } from './help-text.ts';

export interface PageHeader {
  readonly name: string;
  readonly section: 1 | 5 | 8;
  /** The one line after the name in NAME: what it is. */
  readonly purpose: string;
  readonly version: string;
  /** YYYY-MM-DD; empty leaves the footer's date out (reproducible builds pass SOURCE_DATE_EPOCH's). */
  readonly date?: string;
}

/** A section of a page: its heading and its roff lines. */
export interface Section {
  readonly heading: string;
  readonly lines: readonly string[];
}

const MANUALS = { 1: 'User Commands', 5: 'File Formats', 8: 'System Administration' } as const;

// Characters outside ASCII as groff names them, so every output device has a glyph (or a fallback) for them.
const GLYPHS: Record<string, string> = {
  '—': '\\(em', '–': '\\(en', '→': '\\(->', '←': '\\(<-', '×': '\\(mu', '≤': '\\(<=', '≥': '\\(>=',
  '−': '\\-', '‘': '\\(oq', '’': '\\(cq', '“': '\\(lq', '”': '\\(rq', '·': '\\(pc', '²': '\\(S2', '≠': '\\(!=',
};

const FALLBACKS: Record<string, string> = { '\\[u21BB]': '(r)', '\\[u2026]': '...' };

/** Text as roff prints it literally: backslashes, minus signs, non-ASCII; not yet safe at the start of a line. */
export function escapeRoff(text: string): string {
  return text
    .replace(/[\\-]|[^\x20-\x7e]/gu, (char) => {
      if (char === '\\') return '\\e';
      if (char === '-') return '\\-';
      if (char === '\t') return ' ';
      return GLYPHS[char] ?? `\\[u${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`;
    })
    // A long path or field name may break after a slash, dot, comma or bracket on a narrow terminal.
    .replace(/\S{30,}/g, (token) => token.replace(/([/.,|\]])(?=\S)/g, '$1\\:'));
}

/** A line of text that roff must not take for a request: one starting with `.` or `'` gets a zero-width `\&`. */
export function textLine(roff: string): string {
  const trimmed = roff.trimStart();
  return /^[.']/.test(trimmed) ? `\\&${trimmed}` : trimmed;
}

const bold = (text: string) => `\\fB${escapeRoff(text)}\\fR`;
const italic = (text: string) => `\\fI${escapeRoff(text)}\\fR`;

/**
 * A usage line or option term in the usual man style: options and literal words bold, placeholders (NODE, UNIT)
 * italic, brackets and separators plain.
 */
export function formatSynopsis(text: string): string {
  return text.replace(/(--?[A-Za-z0-9][\w-]*)|([A-Z][A-Z0-9_]*(?![a-z]))|([a-z][\w.-]*)|([^\w-]+|[\w-])/g, (_match, option, placeholder, word, other) => {
    if (option) return bold(option);
    if (placeholder) return italic(placeholder);
    if (word) return bold(word);
    // A long list of choices may break after a bar (hyphenation, which would otherwise break it, is off).
    return escapeRoff(other as string).replace(/\|/g, '|\\:');
  });
}

/** A help text (as `--help` prints it) as roff: paragraphs, tagged items for options and sub-commands, examples. */
export function helpToRoff(help: string): string[] {
  return blocksToRoff(helpBlocks(help));
}

function blocksToRoff(blocks: readonly HelpBlock[]): string[] {
  return blocks.flatMap((block) => {
    if (block.kind === 'item') return ['.TP', textLine(formatSynopsis(block.term)), ...block.lines.map((line) => textLine(escapeRoff(line)))];
    if (block.kind === 'literal') return literal(block.lines);
    return ['.PP', ...block.lines.map((line) => textLine(escapeRoff(line)))];
  });
}

function literal(lines: readonly string[]): string[] {
  return ['.PP', '.RS 4', '.nf', ...lines.map((line) => `\\&${escapeRoff(line)}`), '.fi', '.RE'];
}

/** The whole page: .TH, NAME, then the sections in order. */
export function manPage(header: PageHeader, sections: readonly Section[]): string {
  const quote = (text: string) => `"${text.replace(/"/g, '\\(dq')}"`;
  const body = sections.flatMap((section) => section.lines).join('\n');
  // Where the output device has no glyph for a character (a C locale's ASCII terminal), groff prints this instead.
  const fallbacks = [...new Set(body.match(/\\\[u[0-9A-F]{4,}\]/g) ?? [])].map((glyph) => `.if \\n(.g .fchar ${glyph} ${FALLBACKS[glyph] ?? '?'}`);
  const lines = [
    `.TH ${header.name.toUpperCase().replace(/-/g, '\\-')} ${header.section} ${quote(header.date ?? '')} ${quote(`qm ${header.version}`)} ${quote(MANUALS[header.section])}`,
    ...fallbacks,
    // Paths, options and JSON read badly broken by hyphenation and stretched by justification.
    '.nh',
    '.ad l',
    '.SH NAME',
    `${escapeRoff(header.name)} \\- ${escapeRoff(header.purpose)}`,
    ...sections.filter((section) => section.lines.length > 0).flatMap((section) => [`.SH ${section.heading.toUpperCase()}`, ...section.lines]),
  ];
  // Paragraph requests right after a heading or another paragraph request only add warnings' worth of nothing.
  return `${lines.filter((line, index) => !(line === '.PP' && /^\.(SH|SS|PP)\b/.test(lines[index - 1] ?? ''))).join('\n')}\n`;
}

/** `name(section)` references, comma-separated, for SEE ALSO. */
export function seeAlso(pages: readonly string[]): Section {
  return { heading: 'SEE ALSO', lines: [pages.map((page) => page.replace(/^([^(]+)\((\w+)\)$/, (_m, name: string, section: string) => `${bold(name)}(${section})`)).join(',\n')] };
}

/** What qmctl(1) is made of: qmctl's own help and every command's. */
export interface QmctlManual {
  readonly synopsis: string;
  readonly description: string;
  readonly exitCodes: string;
  readonly commonOptions: string;
  readonly commands: readonly { readonly name: string; readonly summary: string; readonly usage: string; readonly help?: string }[];
}

export function qmctlPage(header: PageHeader, manual: QmctlManual, extra: readonly Section[]): string {
  const commands = manual.commands.flatMap((command) => [
    `.SS ${command.name.replace(/-/g, '\\-')}`,
    ...command.usage.split('\n').flatMap((line, index) => [...(index > 0 ? ['.br'] : []), textLine(`${bold('qmctl')} ${formatSynopsis(line.trim())}`)]),
    '.PP',
    textLine(escapeRoff(sentence(command.summary))),
    ...(command.help ? helpToRoff(command.help) : []),
  ]);
  return manPage(header, [
    { heading: 'SYNOPSIS', lines: [textLine(formatSynopsis(manual.synopsis))] },
    { heading: 'DESCRIPTION', lines: helpToRoff(manual.description) },
    { heading: 'COMMANDS', lines: commands },
    { heading: 'COMMON OPTIONS', lines: helpToRoff(manual.commonOptions) },
    { heading: 'EXIT STATUS', lines: helpToRoff(manual.exitCodes) },
    ...extra,
  ]);
}

/**
 * A daemon's page from its --help: `Usage: …` is the synopsis, the option list OPTIONS, an `Exit:` paragraph
 * EXIT STATUS, the rest DESCRIPTION.
 */
export function servicePage(header: PageHeader, usage: string, extra: readonly Section[]): string {
  const [first, ...rest] = usage.split('\n');
  const blocks = helpBlocks(rest.join('\n'));
  const exit = /^Exit( codes)?: */;
  const isExit = (block: HelpBlock) => block.kind === 'text' && exit.test(block.lines[0]!);
  return manPage(header, [
    { heading: 'SYNOPSIS', lines: [textLine(formatSynopsis(first!.replace(/^Usage: */, '')))] },
    { heading: 'DESCRIPTION', lines: blocksToRoff(blocks.filter((block) => block.kind !== 'item' && !isExit(block))) },
    { heading: 'OPTIONS', lines: blocksToRoff(blocks.filter((block) => block.kind === 'item')) },
    { heading: 'EXIT STATUS', lines: blocksToRoff(blocks.filter(isExit).map((block) => ({ ...block, lines: [block.lines[0]!.replace(exit, ''), ...block.lines.slice(1)] }))) },
    ...extra,
  ]);
}

function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/**
 * Markdown as docs/ writes it, as sections: `##` a section, `###` a subsection, paragraphs, `-` lists, fenced code,
 * tables (each row a tagged paragraph: first cell the tag, middle cells after it in parentheses, last cell the text),
 * inline `code`, **bold**, *emphasis* and links (their text). What comes before the first `##` is the DESCRIPTION.
 */
export function markdownSections(markdown: string): Section[] {
  const sections: { heading: string; lines: string[] }[] = [{ heading: 'DESCRIPTION', lines: [] }];
  const out = () => sections.at(-1)!.lines;
  const lines = markdown.replace(/\r\n/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^# /.test(line) || line.trim() === '') continue;
    if (/^## /.test(line)) {
      sections.push({ heading: line.slice(3).trim(), lines: [] });
    } else if (/^### /.test(line)) {
      out().push(`.SS ${inline(line.slice(4).trim())}`);
    } else if (/^```/.test(line)) {
      const code: string[] = [];
      while (i + 1 < lines.length && !/^```/.test(lines[i + 1]!)) code.push(lines[++i]!);
      i++;
      out().push(...literal(code));
    } else if (/^\|/.test(line)) {
      const rows: string[][] = [];
      for (; i < lines.length && /^\|/.test(lines[i]!); i++) rows.push(tableCells(lines[i]!));
      i--;
      // The header row and the |---| line are for the eye; the tags say what each row is about.
      for (const cells of rows.slice(2)) {
        const middle = cells.slice(1, -1).map((cell) => `(${cell})`);
        out().push('.TP', textLine([inline(cells[0]!), ...middle.map(inline)].join(' ')), textLine(inline(cells.at(-1)!)));
      }
    } else if (/^\s*[-*] /.test(line)) {
      const item = [line.replace(/^\s*[-*] /, '')];
      while (i + 1 < lines.length && /^\s+\S/.test(lines[i + 1]!) && !/^\s*[-*] /.test(lines[i + 1]!)) item.push(lines[++i]!.trim());
      out().push('.IP \\(bu 2', ...item.map((text) => textLine(inline(text))));
    } else {
      const paragraph = [line];
      while (i + 1 < lines.length && lines[i + 1]!.trim() !== '' && !/^(#|```|\||\s*[-*] )/.test(lines[i + 1]!)) paragraph.push(lines[++i]!);
      out().push('.PP', ...paragraph.map((text) => textLine(inline(text))));
    }
  }
  return sections;
}

function tableCells(row: string): string[] {
  // `\|` inside a cell is a literal bar.
  return row.replace(/^\||\|$/g, '').split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, '|'));
}

/** Inline Markdown: `code` and **bold** bold, *emphasis* italic, [text](link) its text; the rest escaped. */
export function inline(text: string): string {
  return text.replace(/`([^`]+)`|\*\*([^*]+)\*\*|(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])|\[([^\]]+)\]\([^)]*\)|([^`*[]+|[`*[])/g, (_m, code, strong, emphasis, link, other) => {
    if (code !== undefined) return bold(code as string);
    if (strong !== undefined) return `\\fB${inline(strong as string)}\\fR`;
    if (emphasis !== undefined) return `\\fI${inline(emphasis as string)}\\fR`;
    if (link !== undefined) return inline(link as string);
    return escapeRoff(other as string);
  });
}

/** Everything the four pages are made of; scripts/gen-docs.ts gathers it from the commands and docs/. */
export interface ManualSources {
  readonly version: string;
  readonly date?: string;
  readonly qmctl: QmctlManual;
  /** qm-controller --help. */
  readonly controllerUsage: string;
  /** docs/qm.md and docs/layout.md. */
  readonly partitionMarkdown: string;
  readonly layoutMarkdown: string;
}

/** The pages by file name: qmctl.1, qm-controller.8, qm.8, qm-layout.5. */
export function manualPages(sources: ManualSources): Record<string, string> {
  const header = (name: string, section: PageHeader['section'], purpose: string): PageHeader => ({ name, section, purpose, version: sources.version, date: sources.date ?? '' });
  const env = (name: string, text: string) => ['.TP', bold(name), textLine(escapeRoff(text))];
  const files = (...entries: [string, string][]) => entries.flatMap(([path, text]) => ['.TP', bold(path), textLine(escapeRoff(text))]);
  const layoutFiles = files(
    ['/etc/qm-controller/layout.yaml', 'the vehicle layout, read by qm-controller and by plan and apply without LAYOUT (qm-layout(5))'],
    ['/etc/qm-controller/layout.d/*.yaml', 'its drop-ins, merged in lexical order'],
  );
  return {
    'qmctl.1': qmctlPage(header('qmctl', 1, 'drive BlueChi nodes and the QM partition'), sources.qmctl, [
      {
        heading: 'ENVIRONMENT',
        lines: [
          ...env('DBUS_SYSTEM_BUS_ADDRESS', 'the bus BlueChi is on, unless --bus-address is given; otherwise the system bus'),
          ...env('NO_COLOR', 'when set, no colour even on a terminal'),
          ...env('QMCTL_PODMAN', "the podman executable agent-config restarts QM's agent with (default podman)"),
        ],
      },
      { heading: 'FILES', lines: layoutFiles },
      seeAlso(['qm(8)', 'qm-controller(8)', 'qm-layout(5)', 'bluechictl(1)', 'systemctl(1)', 'podman(1)']),
    ]),
    'qm-controller.8': servicePage(header('qm-controller', 8, 'keep a vehicle matching its layout through BlueChi'), sources.controllerUsage, [
      {
        heading: 'FILES',
        lines: [
          ...layoutFiles,
          ...files(
            ['/usr/lib/systemd/system/qm-controller.service', "starts it at boot; Type=dbus: ready once it owns org.qm.Controller1; systemctl reload sends SIGHUP"],
            ['/usr/share/dbus-1/system.d/org.qm.Controller1.conf', "only root owns the daemon's name; root and the group qm-operators may call it"],
          ),
        ],
      },
      seeAlso(['qmctl(1)', 'qm-layout(5)', 'qm(8)', 'bluechi-controller(8)']),
    ]),
    'qm.8': manPage(header('qm', 8, 'the QM partition: systemd and podman isolated from the ASIL host'), [
      ...markdownSections(sources.partitionMarkdown),
      seeAlso(['qmctl(1)', 'qm-controller(8)', 'qm-layout(5)', 'podman-systemd.unit(5)', 'containers.conf(5)', 'bluechi-agent(8)', 'systemd.exec(5)']),
    ]),
    'qm-layout.5': manPage(header('qm-layout', 5, 'the vehicle layout qmctl and qm-controller make the vehicle match'), [
      ...markdownSections(sources.layoutMarkdown),
      seeAlso(['qmctl(1)', 'qm-controller(8)', 'qm(8)']),
    ]),
  };
}
