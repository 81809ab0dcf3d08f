// The QM's agent.conf as text: a header naming its sources, then [bluechi-agent] with the settings.
// Deterministic (no dates, no line numbers): the same inputs give the same bytes, so an unchanged
// host configuration leads to no write and no restart.
import { QmError } from '../controller/errors.ts';
import { AGENT_SECTION } from './keys.ts';
import { MAX_NAME_BYTES } from './ini.ts';
import type { QmAgentConfig } from './derive.ts';

/** Longest key=value line written; BlueChi documents 500 characters and reads 518 bytes plus newline. */
const LINE_BYTES = 400;
const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

export interface RenderOptions {
  /** The host files the settings came from, in load order. */
  readonly sources: readonly string[];
  /** Where QM-only settings go, as seen inside QM. */
  readonly dropInDir?: string;
}

export function renderAgentConf(config: QmAgentConfig, options: RenderOptions): string {
  const header = [
    `# bluechi-agent configuration for QM, written by "qmctl agent-config apply" from the host's:`,
    ...(options.sources.length > 0 ? options.sources.map((source) => `#   ${source}`) : ['#   (no configuration files: BlueChi defaults)']),
    `# NodeName: "qm." + ${config.nodeNameFrom}.`,
    `# Controller: ${config.controller.reason}.`,
    `# Overwritten whenever the host's configuration changes: put QM-only settings in`,
    `# ${options.dropInDir ?? '/etc/bluechi/agent.conf.d'}/*.conf inside QM instead.`,
  ];
  const body = [...config.settings].flatMap(([key, value]) => renderSetting(key, value));
  return [...header.map(oneLine), '', `[${AGENT_SECTION}]`, ...body, ''].join('\n');
}

/** A comment stays one short line: a newline or an over-long line would let text be read as a setting. */
function oneLine(text: string): string {
  const chars = [...text.replace(/[\r\n\0]/g, ' ')].slice(0, LINE_BYTES);
  while (bytes(chars.join('')) > LINE_BYTES) chars.pop();
  return chars.join('');
}

/** `Key=value`, continued on indented lines when long (BlueChi concatenates the pieces as they are). */
export function renderSetting(key: string, value: string | null): string[] {
  if (value === null) return [`${key}=`];
  const first = `${key}=`;
  if (bytes(first + value) <= LINE_BYTES) return [first + value];
  if (bytes(key) > MAX_NAME_BYTES) {
    throw new QmError('config', `the value of ${key} is too long for one line and the key name too long for continuation lines (BlueChi keeps ${MAX_NAME_BYTES} bytes of a name)`, { field: key });
  }
  const pieces = splitValue(value, LINE_BYTES - bytes(first));
  return [first + pieces[0], ...pieces.slice(1).map((piece) => `  ${piece}`)];
}

/** Why `key` with `value` cannot be written as BlueChi would read it back, or undefined when it can. */
export function renderProblem(key: string, value: string | null): string | undefined {
  try {
    renderSetting(key, value);
    return undefined;
  } catch (error) {
    if (error instanceof QmError) return error.message;
    throw error;
  }
}

/**
 * Pieces of at most `limit` bytes that read back as `value`: a continuation piece is trimmed and cut
 * at a `;` after whitespace, and one starting with `#` or `;` is a comment, so no piece may start or
 * end with whitespace or start with those characters, and no cut may fall between whitespace and `;`.
 */
function splitValue(value: string, limit: number): string[] {
  const chars = [...value];
  const pieces: string[] = [];
  let start = 0;
  while (start < chars.length) {
    let end = start;
    let size = 0;
    while (end < chars.length && size + bytes(chars[end]!) <= limit) size += bytes(chars[end++]!);
    if (end < chars.length) {
      let cut = end;
      while (cut > start + 1 && !goodCut(chars, cut)) cut--;
      if (!goodCut(chars, cut)) throw new QmError('config', `cannot split a ${bytes(value)}-byte value into continuation lines BlueChi reads back unchanged`);
      end = cut;
    }
    pieces.push(chars.slice(start, end).join(''));
    start = end;
  }
  return pieces;
}

const space = /^[ \t\n\v\f\r]$/;
function goodCut(chars: readonly string[], at: number): boolean {
  const before = chars[at - 1]!;
  const after = chars[at]!;
  return !space.test(before) && !space.test(after) && after !== '#' && after !== ';';
}
