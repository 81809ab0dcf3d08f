// Quadlet and podman 5.4 from the cached trixie rootfs, run on this bookworm host without booting anything: a chroot
// in a private mount namespace (and pid namespace, for podman's /proc), over tmpfs mounts, so the shared cached
// tree is never written. Each call gets its own unit directories, /etc/containers and /dev; everything it made is
// gone when the namespace ends.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../support/command.ts';
import { buildRootfs } from '../support/rootfs.ts';

export const projectDir = fileURLToPath(new URL('../../', import.meta.url));

/** The sub-packages, by the name in `subpackages/<name>/` (the Makefile's `qm_dropin_<name>`). */
export const subpackageNames = [
  'img_tempdir',
  'mount_bind_tty7',
  'mount_bind_input',
  'mount_bind_video',
  'mount_bind_sound',
  'ros2_rolling',
  'mount_bind_kvm',
] as const;
export type SubpackageName = (typeof subpackageNames)[number];

/** Where quadlet looks for qm.container's drop-ins, by priority: the admin's, then the vendor's. */
export const adminUnitDir = '/etc/containers/systemd';
export const vendorUnitDir = '/usr/share/containers/systemd';

/** A character device node made in the chroot's /dev (a tmpfs): what the host is supposed to have. */
export interface DeviceNode {
  readonly path: string;
  readonly major: number;
  readonly minor: number;
}

/** The device nodes every chroot gets: what podman itself opens. */
const baseDevices: readonly DeviceNode[] = [
  { path: '/dev/null', major: 1, minor: 3 },
  { path: '/dev/urandom', major: 1, minor: 9 },
];

export interface ChrootRun {
  /** Files written into the chroot before the script runs, by absolute path in the chroot (on tmpfs mounts). */
  readonly files?: Readonly<Record<string, string>>;
  /** Device nodes the chroot's /dev holds besides /dev/null and /dev/urandom. */
  readonly devices?: readonly DeviceNode[];
  /** A shell script run by `sh` inside the chroot. */
  readonly script: string;
}

/** Directories of the rootfs covered by an empty tmpfs for the run: what podman and the script may write to. */
const emptiedDirs = ['/tmp', '/run', '/var/lib', '/var/tmp'];
/** Directories covered by a tmpfs holding a copy of what the rootfs has there: `files` may then replace or add to them. */
const copiedDirs = ['/etc/containers', '/usr/share/containers'];
/**
 * Directories the rootfs lacks that `files` may fill (the sub-packages' examples, QM's containers.conf.d): made
 * (`mkdir -p`, safe when runs race) and covered by an empty tmpfs. Copying files outside every covered directory wrote into the shared
 * cache, where two runs at once collided (`cp: cannot create directory …/usr/share/qm: File exists`).
 */
const madeDirs = ['/usr/share/qm', '/etc/qm'];
const coveredDirs = [...emptiedDirs, ...copiedDirs, ...madeDirs];

/**
 * Runs `script` in a chroot of the cached trixie rootfs (podman 5.4, quadlet at /usr/libexec/podman/quadlet), as root.
 * /etc/containers and /usr/share/containers are copies of the rootfs's own, so `files` may replace containers.conf,
 * add drop-ins or install units there.
 */
export async function runInTrixie(run: ChrootRun): Promise<{ code: number; stdout: string; stderr: string }> {
  const rootfs = (await buildRootfs()).dir;
  for (const dir of [...emptiedDirs, ...copiedDirs, '/proc', '/sys', '/dev']) {
    if (!(await stat(join(rootfs, dir)).catch(() => undefined))?.isDirectory()) throw new Error(`${rootfs} has no ${dir}: not the trixie rootfs expected`);
  }
  const outside = Object.keys(run.files ?? {}).filter((path) => !coveredDirs.some((dir) => path.startsWith(`${dir}/`)));
  if (outside.length > 0) throw new Error(`runInTrixie: ${outside.join(', ')} would be written into the shared rootfs; put them under ${coveredDirs.join(', ')}`);
  const scratch = await mkdtemp('/tmp/qm-subpackages-');
  try {
    const staged = join(scratch, 'files');
    await mkdir(staged);
    for (const [path, text] of Object.entries(run.files ?? {})) {
      await mkdir(dirname(join(staged, path)), { recursive: true });
      await writeFile(join(staged, path), text);
    }
    const devices = [...baseDevices, ...(run.devices ?? [])];
    const setup = [
      'set -e',
      `R=${quote(rootfs)} S=${quote(scratch)}`,
      ...copiedDirs.flatMap((dir, index) => [`cp -a "$R${dir}" "$S/copy${index}"`, `mount -t tmpfs none "$R${dir}"`, `cp -a "$S/copy${index}/." "$R${dir}/"`]),
      ...emptiedDirs.map((dir) => `mount -t tmpfs none "$R${dir}"`),
      ...madeDirs.map((dir) => `mkdir -p "$R${dir}" && mount -t tmpfs none "$R${dir}"`),
      'mkdir -p "$R/var/lib/containers"',
      'mount -t proc proc "$R/proc"',
      'mount --rbind /sys "$R/sys"',
      'mount -t tmpfs none "$R/dev"',
      'mkdir "$R/dev/shm" && mount -t tmpfs none "$R/dev/shm"',
      ...devices.map((device) => `mkdir -p "$R${dirname(device.path)}" && mknod -m 666 "$R${device.path}" c ${device.major} ${device.minor}`),
      'cp -a "$S/files/." "$R/"',
      'set +e',
      `exec chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root PODMAN_IGNORE_CGROUPSV1_WARNING=1 sh -c ${quote(run.script)}`,
    ].join('\n');
    // The rootfs is the shared cache: its directories are only covered, in a mount namespace of our own.
    return await runCommand(['unshare', '--mount', '--propagation', 'private', '--pid', '--fork', 'sh', '-c', setup], { timeoutMs: 120_000 });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

/** The text of every file below `subpackages/<name>/files/`, by its installed path. */
export async function subpackageFiles(name: SubpackageName): Promise<Record<string, string>> {
  const root = join(projectDir, 'subpackages', name, 'files');
  const files: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    files[full.slice(root.length)] = await readFile(full, 'utf8');
  }
  return files;
}

/** qm.container and its vendor drop-ins as the qm package installs them (units/ → /usr/share/containers/systemd). */
export async function qmUnitFiles(): Promise<Record<string, string>> {
  const units = join(projectDir, 'units');
  const files: Record<string, string> = { [`${vendorUnitDir}/qm.container`]: await readFile(join(units, 'qm.container'), 'utf8') };
  for (const name of await readdir(join(units, 'qm.container.d'))) {
    files[`${vendorUnitDir}/qm.container.d/${name}`] = await readFile(join(units, 'qm.container.d', name), 'utf8');
  }
  return files;
}

/** What quadlet --dryrun generated, unit by unit (`qm.service` → its text). Rejects when quadlet fails. */
export async function quadletDryrun(options: { files: Readonly<Record<string, string>>; devices?: readonly DeviceNode[]; unitDirs?: readonly string[] }): Promise<Record<string, string>> {
  const dirs = (options.unitDirs ?? [adminUnitDir, vendorUnitDir]).join(':');
  const result = await runInTrixie({
    files: options.files,
    devices: options.devices,
    script: `QUADLET_UNIT_DIRS=${dirs} exec /usr/libexec/podman/quadlet --dryrun`,
  });
  if (result.code !== 0) throw new Error(`quadlet --dryrun exited ${result.code}:\n${result.stderr.trim().split('\n').slice(-8).join('\n')}`);
  const units: Record<string, string> = {};
  for (const part of result.stdout.split(/^---(?=[^\n]+---$)/m).slice(1)) {
    const [header = '', ...body] = part.split('\n');
    units[header.replace(/---$/, '')] = body.join('\n');
  }
  return units;
}

/** The ExecStart= command line of a generated service. */
export function execStart(service: string | undefined): string {
  const line = service?.split('\n').find((text) => text.startsWith('ExecStart='));
  if (!line) throw new Error(`no ExecStart= in:\n${service}`);
  return line.slice('ExecStart='.length);
}

/** The `--device` arguments of a podman run line, in order: podman's own, before the image (or --rootfs) and the command. */
export function devicesOf(podmanRun: string, image?: string): string[] {
  const options = podmanRun.split(image ? ` ${image} ` : ' --rootfs ')[0]!;
  return [...options.matchAll(/--device (\S+)/g)].map((match) => match[1]!);
}
