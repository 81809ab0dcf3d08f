// Everything setup refuses for, checked together before anything is touched.
import { QmError } from '../errors.ts';
import { atLeast, distroOf, parseOsRelease, parsePodmanVersion, type Distro, type Version } from './platform.ts';
import type { SetupOptions } from './setup-options.ts';

/** What the machine is, as observed (see observePlatform in setup.ts). */
export interface PlatformFacts {
  readonly uid: number;
  /** Contents of /etc/os-release, undefined when missing. */
  readonly osRelease: string | undefined;
  /** Output of `podman --version`, undefined when podman is not installed. */
  readonly podmanVersion: string | undefined;
  /** The quadlet binary, undefined when podman came without it. */
  readonly quadlet: string | undefined;
  /** Which rootfs builders are on PATH. */
  readonly tools: { readonly mmdebstrap: boolean; readonly debootstrap: boolean; readonly dnf: boolean };
  /** Free bytes on the filesystem that will hold the rootfs. */
  readonly freeBytes: number;
  /** The rootfs is already there and built from the same package list: nothing to build. */
  readonly rootfsCurrent: boolean;
  /** A cached tarball of the same package list is there: nothing to build, only to unpack. */
  readonly rootfsCached: boolean;
  /** A systemd runs this machine (/run/systemd/system exists). */
  readonly systemdBooted: boolean;
  /** The platform's default seccomp profile, undefined when none was found. */
  readonly defaultSeccomp: string | undefined;
}

export type RootfsTool = 'mmdebstrap' | 'debootstrap' | 'dnf';

export interface Preflight {
  readonly distro: Distro;
  readonly podman: Version;
  readonly tool: RootfsTool;
  readonly quadlet: string;
  readonly defaultSeccomp: string;
}

/** Quadlet appeared in 4.4; the keys qm.container uses (ReadOnlyTmpfs, SecurityLabelNested, Sysctl …) need 4.8. */
export const podmanNeeded = { major: 4, minor: 8 } as const;
/** qm.container.d/ drop-ins are read from podman 5.0 on. */
export const podmanForDropIns = { major: 5, minor: 0 } as const;
/** A minbase rootfs with systemd and podman is ~310 MB; leave room for its tarball and the first images. */
export const rootfsBytesNeeded = 1024 * 1024 * 1024;

/**
 * Checks the machine against what setup needs. Returns what setup will use, or throws one QmError
 * listing every problem (exit code 1 for "not root", 2 otherwise). `needsDropIns`: setup will write drop-ins.
 */
export function preflight(options: SetupOptions, facts: PlatformFacts, needsDropIns: boolean): Preflight {
  const problems: string[] = [];
  const notRoot = facts.uid !== 0;
  if (notRoot) problems.push(`qmctl setup must run as root (running as uid ${facts.uid})`);

  let distro: Distro | undefined;
  if (facts.osRelease === undefined) problems.push('/etc/os-release is missing: cannot tell which distribution to build QM from');
  else {
    try {
      distro = distroOf(parseOsRelease(facts.osRelease));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }

  const podman = facts.podmanVersion === undefined ? undefined : parsePodmanVersion(facts.podmanVersion);
  const needed = needsDropIns ? podmanForDropIns : podmanNeeded;
  const neededText = `${needed.major}.${needed.minor}`;
  if (facts.podmanVersion === undefined) problems.push(`podman is not installed; QM needs podman >= ${neededText} with quadlet`);
  else if (podman === undefined) problems.push(`cannot read podman's version from ${JSON.stringify(facts.podmanVersion.trim())}`);
  else if (!atLeast(podman, needed.major, needed.minor)) {
    problems.push(
      `podman ${podman.text} found; QM needs podman >= ${neededText} (${needsDropIns ? 'quadlet reading qm.container.d/ drop-ins' : "quadlet with the keys qm.container uses"})`,
    );
  } else if (facts.quadlet === undefined) {
    problems.push(`podman ${podman.text} found without quadlet (no /usr/libexec/podman/quadlet); install podman's quadlet`);
  }

  let tool: RootfsTool | undefined;
  if (distro?.family === 'debian') {
    tool = facts.tools.mmdebstrap ? 'mmdebstrap' : facts.tools.debootstrap ? 'debootstrap' : undefined;
    if (!tool && !facts.rootfsCurrent && !facts.rootfsCached) problems.push('neither mmdebstrap nor debootstrap is installed: apt-get install mmdebstrap');
  } else if (distro?.family === 'fedora') {
    tool = facts.tools.dnf ? 'dnf' : undefined;
    if (!tool && !facts.rootfsCurrent && !facts.rootfsCached) problems.push('dnf is not installed: it builds the QM rootfs with --installroot');
  }

  if (!facts.rootfsCurrent && facts.freeBytes < rootfsBytesNeeded) {
    problems.push(
      `only ${mib(facts.freeBytes)} MiB free where ${options.rootfs} goes; QM's rootfs needs ${mib(rootfsBytesNeeded)} MiB`,
    );
  }
  if (facts.defaultSeccomp === undefined) {
    problems.push("no default seccomp profile (/usr/share/containers/seccomp.json); install podman's containers-common");
  }
  if (!options.skipSystemctl && !facts.systemdBooted) {
    problems.push('this machine is not running systemd, so qm.service cannot be started; use --skip-systemctl to prepare the files only');
  }

  if (problems.length > 0) {
    const message = problems.length === 1 ? problems[0]! : `cannot set up QM:\n  - ${problems.join('\n  - ')}`;
    throw new QmError(notRoot ? 'access-denied' : 'config', message);
  }
  return { distro: distro!, podman: podman!, tool: tool ?? 'mmdebstrap', quadlet: facts.quadlet!, defaultSeccomp: facts.defaultSeccomp! };
}

const mib = (bytes: number) => Math.floor(bytes / (1024 * 1024));
