// QM's root filesystem: built from the host's own distribution, cached as a tarball keyed by what went in.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Distro } from './platform.ts';
import type { RootfsTool } from './preflight.ts';

/** What QM runs on a Debian-family host: systemd as PID 1, D-Bus, and podman with its runtimes and networking. */
export const debianPackages: readonly string[] = [
  'systemd', 'systemd-sysv', 'dbus', 'podman', 'crun', 'runc', 'conmon', 'iproute2', 'procps', 'fuse-overlayfs',
  'netavark', 'aardvark-dns', 'uidmap', 'iptables',
];
/** The same on a Fedora-family host (upstream's list, plus crun and iproute). */
export const fedoraPackages: readonly string[] = [
  'systemd', 'podman', 'crun', 'procps-ng', 'iptables-nft', 'iproute', 'hostname', 'jq', 'selinux-policy-targeted',
];
export const agentPackage = 'bluechi-agent';
export const rootfsCacheDir = '/var/cache/qm';
// Bump when the way a rootfs is built changes, so old tarballs stop matching.
const recipeVersion = 1;

export interface RootfsRecipe {
  readonly distro: Pick<Distro, 'id' | 'family' | 'release'>;
  readonly packages: readonly string[];
  /** Hash of distribution, release and sorted packages: names the tarball and the stamp beside the rootfs. */
  readonly key: string;
}

/** The recipe for this distribution; bluechi-agent joins the list only where the distribution packages it. */
export function rootfsRecipe(distro: Pick<Distro, 'id' | 'family' | 'release'>, hasAgentPackage: boolean): RootfsRecipe {
  const base = distro.family === 'debian' ? debianPackages : fedoraPackages;
  const packages = [...new Set([...base, ...(hasAgentPackage ? [agentPackage] : [])])].sort();
  const text = JSON.stringify({ recipeVersion, family: distro.family, id: distro.id, release: distro.release, packages });
  const key = `${distro.id}-${distro.release}-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
  return { distro, packages, key };
}

/** The cached tarball of a recipe. zstd when the machine has it, gzip otherwise. */
export function cachedTarball(recipe: RootfsRecipe, zstd: boolean, cacheDir = rootfsCacheDir): string {
  return join(cacheDir, `rootfs-${recipe.key}.tar.${zstd ? 'zst' : 'gz'}`);
}

/** The command that installs the recipe into `dir` (an empty directory). */
export function buildCommand(tool: RootfsTool, recipe: RootfsRecipe, dir: string): string[] {
  const packages = recipe.packages.join(',');
  switch (tool) {
    case 'mmdebstrap':
      return ['mmdebstrap', '--variant=minbase', `--include=${packages}`, recipe.distro.release, dir];
    case 'debootstrap':
      return ['debootstrap', '--variant=minbase', `--include=${packages}`, recipe.distro.release, dir];
    case 'dnf':
      return [
        'dnf', '-y', 'install', `--releasever=${recipe.distro.release}`, `--installroot=${dir}`,
        ...(recipe.distro.id === 'fedora' && Number(recipe.distro.release) >= 41 ? ['--use-host-config'] : []),
        ...recipe.packages,
      ];
  }
}

/** Whether the distribution's package manager knows the agent package (argv to run; exit 0 = yes). */
export function agentProbe(distro: Pick<Distro, 'family'>): string[] {
  return distro.family === 'debian' ? ['apt-cache', 'show', '--no-all-versions', agentPackage] : ['dnf', '-q', 'info', agentPackage];
}

export const tarOptions = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls'] as const;
