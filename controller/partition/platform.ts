// What setup needs to know about the machine, parsed from what the machine says (os-release, podman --version).
import { QmError } from '../errors.ts';

export type DistroFamily = 'debian' | 'fedora';

export interface Distro {
  readonly id: string;
  readonly family: DistroFamily;
  /** Debian: the codename mmdebstrap takes (trixie); Fedora family: VERSION_ID for dnf --releasever. */
  readonly release: string;
  readonly prettyName: string;
}

export interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly text: string;
}

/** /etc/os-release as a map (shell-style quoting, comments and blank lines allowed). */
export function parseOsRelease(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2]!.trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\(["\\$`])/g, '$1');
    }
    fields.set(match[1]!, value);
  }
  return fields;
}

/** The distribution family QM's rootfs is built from, or a QmError naming what was found. */
export function distroOf(osRelease: Map<string, string>): Distro {
  const id = osRelease.get('ID') ?? 'linux';
  const like = (osRelease.get('ID_LIKE') ?? '').split(/\s+/).filter(Boolean);
  const kin = [id, ...like];
  const prettyName = osRelease.get('PRETTY_NAME') ?? id;
  if (kin.some((name) => name === 'debian' || name === 'ubuntu')) {
    const release = osRelease.get('VERSION_CODENAME') ?? osRelease.get('UBUNTU_CODENAME') ?? '';
    if (!/^[a-z][a-z0-9-]*$/.test(release)) {
      throw new QmError('config', `${prettyName}: /etc/os-release has no VERSION_CODENAME, so the rootfs suite is unknown`, { field: 'VERSION_CODENAME' });
    }
    return { id, family: 'debian', release, prettyName };
  }
  if (kin.some((name) => ['fedora', 'rhel', 'centos'].includes(name))) {
    const release = osRelease.get('VERSION_ID') ?? '';
    if (!/^[0-9][0-9.]*$/.test(release)) {
      throw new QmError('config', `${prettyName}: /etc/os-release has no numeric VERSION_ID for dnf --releasever`, { field: 'VERSION_ID' });
    }
    return { id, family: 'fedora', release, prettyName };
  }
  throw new QmError(
    'config',
    `unsupported distribution ${JSON.stringify(prettyName)} (ID=${id}${like.length ? `, ID_LIKE=${like.join(' ')}` : ''}); qmctl setup supports the Debian family (mmdebstrap or debootstrap) and the Fedora family (dnf)`,
    { field: 'ID' },
  );
}

/** `podman version 5.4.2` (or `podman version 4.9.4-rhel`) → 5.4.2; undefined when not a podman version line. */
export function parsePodmanVersion(output: string): Version | undefined {
  const match = /podman(?:\s+version)?\s+(\d+)\.(\d+)(?:\.(\d+))?\S*/i.exec(output);
  if (!match) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3] ?? 0), text: match[0].split(/\s+/).pop()! };
}

export function atLeast(version: Version, major: number, minor: number): boolean {
  return version.major > major || (version.major === major && version.minor >= minor);
}
