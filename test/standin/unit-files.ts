// A unit as a test declares it (UnitOptions), as files on a real systemd's disk: the same unit the in-memory node
// models (node-memory.ts), so a test states its units once and gets the same thing on either kind of node.
import { lstat, mkdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UNIT_DIR, type UnitOptions } from './node-memory.ts';

/** A file or a symlink, at an absolute path on the node (the shape of VehicleNodeOptions.files). */
export type UnitFileEntry = { readonly path: string; readonly content: string } | { readonly path: string; readonly symlink: string };

const WANTS = 'multi-user.target.wants';
/** Every path a unit's declaration may occupy: the unit file (or its mask) and its links in /etc and /run. */
const unitPaths = (name: string) => [`${UNIT_DIR}/${name}`, `${UNIT_DIR}/${WANTS}/${name}`, `/run/systemd/system/${WANTS}/${name}`];

/** The unit file and links that make a real systemd 257 answer as the in-memory node does for `unit`. */
export function unitFileEntries(unit: UnitOptions): UnitFileEntry[] {
  if (!unit.name.endsWith('.service')) throw new Error(`${unit.name}: a real node's test units are services`);
  if (unit.fails && unit.startMs !== undefined) throw new Error(`${unit.name}: a unit either fails at once or takes startMs to start`);
  const state = unit.unitFileState ?? 'disabled';
  const path = `${UNIT_DIR}/${unit.name}`;
  if (state === 'masked') return [{ path, symlink: '/dev/null' }];
  const service =
    unit.startMs !== undefined
      ? ['Type=oneshot', 'RemainAfterExit=yes', `ExecStart=/bin/sleep ${unit.startMs / 1000}`]
      : ['Type=simple', `ExecStart=${unit.fails ? '/bin/false' : '/bin/sleep infinity'}`];
  const lines = [
    '[Unit]',
    `Description=${unit.description ?? unit.name}`,
    '[Service]',
    ...service,
    ...(unit.canReload ? ['ExecReload=/bin/true'] : []),
    ...(state === 'static' ? [] : ['[Install]', 'WantedBy=multi-user.target']),
  ];
  const entries: UnitFileEntry[] = [{ path, content: `${lines.join('\n')}\n` }];
  if (state === 'enabled') entries.push({ path: `${UNIT_DIR}/${WANTS}/${unit.name}`, symlink: path });
  if (state === 'enabled-runtime') entries.push({ path: `/run/systemd/system/${WANTS}/${unit.name}`, symlink: path });
  return entries;
}

/** What is on the node's disk at `unit`'s paths, in the same shape, for comparing with what a test declares. */
export async function unitFilesOnDisk(root: string, name: string): Promise<UnitFileEntry[]> {
  const found: UnitFileEntry[] = [];
  for (const path of unitPaths(name)) {
    const stat = await lstat(join(root, path)).catch(() => undefined);
    if (!stat) continue;
    if (stat.isSymbolicLink()) found.push({ path, symlink: await readlink(join(root, path)) });
    else found.push({ path, content: await readFile(join(root, path), 'utf8') });
  }
  return found;
}

/**
 * Replaces whatever `unit`'s paths hold on the node whose `/` is at `root` (a host path) with its declaration, as an
 * administrator would edit files: no daemon-reload. `undefined` removes the unit's files and links.
 */
export async function writeUnitFiles(root: string, name: string, unit: UnitOptions | undefined): Promise<void> {
  for (const path of unitPaths(name)) await rm(join(root, path), { force: true });
  for (const entry of unit ? unitFileEntries(unit) : []) {
    const target = join(root, entry.path);
    await mkdir(dirname(target), { recursive: true });
    if ('symlink' in entry) await symlink(entry.symlink, target);
    else await writeFile(target, entry.content);
  }
}
