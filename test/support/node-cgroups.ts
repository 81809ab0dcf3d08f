// Where a test container's cgroups go: one directory below our own cgroup in every hierarchy the host mounts.
// Creating children of our own cgroups is all we do: the machine's hierarchies are never remounted or moved.
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CgroupMount {
  readonly mountPoint: string;
  readonly version: 1 | 2;
  /** v1: the controllers and `name=` options of the hierarchy; v2: empty. */
  readonly controllers: readonly string[];
}

/** The cgroup file systems mounted at their hierarchy's root, from /proc/self/mountinfo text. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (before === undefined || after === undefined) continue;
    const [, , , root, mountPoint] = before.split(' ');
    const [fsType, , superOptions = ''] = after.split(' ');
    if (root !== '/' || mountPoint === undefined) continue;
    if (fsType === 'cgroup2') mounts.push({ mountPoint, version: 2, controllers: [] });
    if (fsType === 'cgroup') {
      const controllers = superOptions.split(',').filter((option) => !['rw', 'ro', 'xattr', 'none'].includes(option));
      mounts.push({ mountPoint, version: 1, controllers });
    }
  }
  return mounts;
}

/**
 * The directory `leaf` below our cgroup in each mounted hierarchy, from /proc/self/cgroup and mountinfo text.
 * Hierarchies that are not mounted (e.g. v1 controllers the host left unused) are skipped.
 */
export function childCgroupDirs(procCgroup: string, mounts: readonly CgroupMount[], leaf: string): string[] {
  const dirs: string[] = [];
  for (const line of procCgroup.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    const [, id, list = '', path = '/'] = match;
    const controllers = list === '' ? [] : list.split(',');
    const mount =
      id === '0'
        ? mounts.find((m) => m.version === 2)
        : mounts.find((m) => m.version === 1 && controllers.every((c) => m.controllers.includes(c)));
    if (mount) dirs.push(join(mount.mountPoint, path, leaf));
  }
  return dirs;
}

export function currentCgroupMounts(): CgroupMount[] {
  return parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** Creates `leaf` below our own cgroup in every hierarchy and returns the directories. */
export async function createChildCgroups(leaf: string): Promise<string[]> {
  const dirs = childCgroupDirs(await readFile('/proc/self/cgroup', 'utf8'), currentCgroupMounts(), leaf);
  for (const dir of dirs) {
    await mkdir(dir, { recursive: true });
    // A v1 cpuset cgroup starts with no CPUs or memory nodes, and no process may join it until it has some.
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const parent = await readFile(join(dir, '..', file), 'utf8').catch(() => undefined);
      if (parent !== undefined) await writeFile(join(dir, file), parent.trim() || '\n');
    }
  }
  return dirs;
}
