// The contents setup writes, as pure functions of its options and the platform: drop-ins, storage, id ranges.
import { defaultPaths, type SetupOptions } from './setup-options.ts';

/** QM's own containers get these subordinate ids inside QM (upstream's ranges). */
export const qmContainerIds = '1000000000:1500000000';
/** On the host: QM's range (qmcontainers) and the host's own containers' range, kept apart from QM's. */
export const hostIdRanges = [
  { name: 'qmcontainers', range: qmContainerIds },
  { name: 'containers', range: '2500000000:1500000000' },
] as const;

export interface PlatformTraits {
  /** SELinux is enabled (/sys/fs/selinux/enforce exists). */
  readonly selinux: boolean;
}

/**
 * The drop-in setup writes to /etc/containers/systemd/qm.container.d/: QM's paths when not the defaults, and the
 * platform adjustments, each with its reason. Undefined when nothing differs from qm.container.
 */
export function setupDropIn(options: SetupOptions, platform: PlatformTraits): string | undefined {
  const service: string[] = [];
  const container: string[] = [];
  for (const [name, variable] of [['rootfs', 'ROOTFS'], ['rwetcfs', 'RWETCFS'], ['rwvarfs', 'RWVARFS']] as const) {
    if (options[name] !== defaultPaths[name]) service.push(`Environment=${variable}=${options[name]}`);
  }
  if (service.length > 0) service.unshift('# The paths given to qmctl setup (--rootfs, --rwetcfs, --rwvarfs).');
  if (!platform.selinux) {
    container.push(
      '# SELinux is not enabled here. The SecurityLabel* types are then ignored by podman, but SecurityLabelNested',
      '# bind-mounts /sys/fs/selinux into QM, which fails without SELinux and would keep QM from starting.',
      'SecurityLabelNested=false',
    );
  }
  if (service.length === 0 && container.length === 0) return undefined;
  const sections = [
    '# Written by qmctl setup; removed by qmctl setup --remove. Local changes belong in a drop-in of your own.',
    ...(service.length > 0 ? ['', '[Service]', ...service] : []),
    ...(container.length > 0 ? ['', '[Container]', ...container] : []),
  ];
  return `${sections.join('\n')}\n`;
}

/** A subordinate-id line (`name:start:count`), added to `text` unless an entry for `name` is there already. */
export function withIdRange(text: string, name: string, range: string): { text: string; added?: string } {
  if (text.split('\n').some((line) => line.startsWith(`${name}:`))) return { text };
  const line = `${name}:${range}`;
  const base = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  return { text: `${base}${line}\n`, added: line };
}

/** `text` without the lines setup added (exact matches only: an administrator's edits stay). */
export function withoutLines(text: string, lines: readonly string[]): string {
  const drop = new Set(lines);
  return text
    .split('\n')
    .filter((line, index, all) => !drop.has(line) || (index === all.length - 1 && line === ''))
    .join('\n');
}

const minimalStorage = `[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"

[storage.options]
`;

/**
 * QM's storage.conf: the distribution's default with upstream's QM settings — a transient store (container
 * state does not survive a QM restart) and /var/lib/shared as an additional, read-only image store.
 */
export function qmStorageConf(distributionDefault: string | undefined): string {
  let lines = (distributionDefault ?? minimalStorage).split('\n');
  lines = setKey(lines, 'storage', 'transient_store', 'true');
  const stores = arrayValue(lines, 'storage.options', 'additionalimagestores');
  const wanted = stores.includes('/var/lib/shared') ? stores : [...stores, '/var/lib/shared'];
  lines = setKey(lines, 'storage.options', 'additionalimagestores', `[${wanted.map((store) => JSON.stringify(store)).join(', ')}]`);
  const text = lines.join('\n');
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** The line range [start, end) of a TOML table's body. */
function section(lines: readonly string[], name: string): { start: number; end: number } | undefined {
  const header = lines.findIndex((line) => line.trim() === `[${name}]`);
  if (header < 0) return undefined;
  let end = header + 1;
  while (end < lines.length && !/^\s*\[[^\]]+\]\s*$/.test(lines[end]!)) end++;
  return { start: header + 1, end };
}

/** Where `key = …` starts and ends in a table (a multi-line array ends at its closing bracket). */
function keyRange(lines: readonly string[], table: string, key: string): { start: number; end: number } | undefined {
  const body = section(lines, table);
  if (!body) return undefined;
  const pattern = new RegExp(`^\\s*${key}\\s*=`);
  for (let index = body.start; index < body.end; index++) {
    if (!pattern.test(lines[index]!)) continue;
    let end = index;
    if (/=\s*\[/.test(lines[index]!) && !/\]/.test(lines[index]!.split('=').slice(1).join('='))) {
      while (end < body.end - 1 && !/\]/.test(lines[end]!)) end++;
    }
    return { start: index, end: end + 1 };
  }
  return undefined;
}

function arrayValue(lines: readonly string[], table: string, key: string): string[] {
  const range = keyRange(lines, table, key);
  if (!range) return [];
  const text = lines.slice(range.start, range.end).join('\n').split('=').slice(1).join('=');
  return [...text.matchAll(/"([^"]*)"/g)].map((match) => match[1]!);
}

function setKey(lines: string[], table: string, key: string, value: string): string[] {
  const line = `${key} = ${value}`;
  const range = keyRange(lines, table, key);
  if (range) return [...lines.slice(0, range.start), line, ...lines.slice(range.end)];
  const body = section(lines, table);
  if (body) return [...lines.slice(0, body.start), line, ...lines.slice(body.start)];
  const trimmed = lines.at(-1) === '' ? lines.slice(0, -1) : lines;
  return [...trimmed, '', `[${table}]`, line, ''];
}
