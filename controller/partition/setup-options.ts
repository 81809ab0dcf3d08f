// `qmctl setup` options, checked before anything is touched: upstream's names and defaults.
import { hostname as systemHostname } from 'node:os';
import { isAbsolute, normalize, relative } from 'node:path';
import { QmError } from '../errors.ts';
import { nodeNameProblem } from '../unit-names.ts';

export interface SetupOptions {
  /** QM's read-only root filesystem. */
  readonly rootfs: string;
  /** Backs /etc inside QM. */
  readonly rwetcfs: string;
  /** Backs /var inside QM. */
  readonly rwvarfs: string;
  /** The host name QM's bluechi agent is named after: NodeName=qm.<hostname>. */
  readonly hostname: string;
  /** Prepare files only: no daemon-reload, no start of qm.service. */
  readonly skipSystemctl: boolean;
  /** Stop QM and remove what setup made. */
  readonly remove: boolean;
}

export const defaultPaths = { rootfs: '/usr/lib/qm/rootfs', rwetcfs: '/etc/qm', rwvarfs: '/var/qm' } as const;

// setup --remove deletes these trees: never one the system itself needs.
const systemDirectories = new Set([
  '/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/media', '/mnt', '/opt', '/proc', '/root', '/run',
  '/sbin', '/srv', '/sys', '/tmp', '/usr', '/usr/bin', '/usr/lib', '/usr/lib64', '/usr/libexec', '/usr/local',
  '/usr/sbin', '/usr/share', '/var', '/var/cache', '/var/lib', '/var/log', '/var/tmp',
]);

type RawOptions = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

/** Turns parsed command-line values into SetupOptions, or throws a usage QmError naming the option. */
export function parseSetupOptions(values: RawOptions, defaultHostname: string = systemHostname()): SetupOptions {
  const text = (name: string): string | undefined => {
    const value = values[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw usage(name, 'takes a value');
    return value;
  };
  const remove = values.remove === true || values['remove-qm-rootfs'] === true;
  if (remove && values.hostname !== undefined) throw usage('hostname', 'has no meaning with --remove');

  const paths = {
    rootfs: directory('rootfs', text('rootfs') ?? defaultPaths.rootfs),
    rwetcfs: directory('rwetcfs', text('rwetcfs') ?? defaultPaths.rwetcfs),
    rwvarfs: directory('rwvarfs', text('rwvarfs') ?? defaultPaths.rwvarfs),
  };
  const entries = Object.entries(paths);
  for (const [name, path] of entries) {
    for (const [other, otherPath] of entries) {
      if (name !== other && isWithin(path, otherPath)) {
        throw usage(name, `${path} lies within --${other} ${otherPath}; the three trees must be separate`);
      }
    }
  }
  const hostname = text('hostname') ?? defaultHostname;
  const problem = nodeNameProblem(hostname) ?? (hostname.includes('=') ? 'it contains "="' : undefined);
  if (problem) throw usage('hostname', `${JSON.stringify(hostname)} cannot name a bluechi node: ${problem}`);
  return { ...paths, hostname, skipSystemctl: values['skip-systemctl'] === true, remove };
}

function directory(name: string, value: string): string {
  if (!isAbsolute(value)) throw usage(name, `takes an absolute path, not ${JSON.stringify(value)}`);
  const path = normalize(value).replace(/(.)\/+$/, '$1');
  if (systemDirectories.has(path)) throw usage(name, `${path} is a system directory; QM needs a directory of its own`);
  return path;
}

/** Whether `path` is `parent` or below it. */
export function isWithin(path: string, parent: string): boolean {
  const rel = relative(parent, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function usage(option: string, message: string): QmError {
  return new QmError('usage', `--${option} ${message}`, { field: option });
}
