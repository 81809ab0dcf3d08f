// Debian root filesystems for test containers, built once with mmdebstrap and cached by what went into them.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runChecked } from './command.ts';
import { withFileLock } from './file-lock.ts';
import { ensureHostPackages, vehicleNodeHostPackages } from './host-packages.ts';

export const defaultCacheDir = '/var/cache/qm-test';

/** What a vehicle node runs: systemd as PID 1, D-Bus, and podman 5 with quadlet for the QM partition. */
export const vehicleNodePackages: readonly string[] = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'podman',
  'crun',
  'runc',
  'conmon',
  'iproute2',
  'procps',
  'fuse-overlayfs',
  'netavark',
  'aardvark-dns',
  'uidmap',
  'iptables',
];

export interface RootfsRecipe {
  /** Debian suite. Default `trixie` (podman 5.4 with quadlet, systemd 257). */
  readonly suite?: string;
  /** Packages on top of `minbase`. Default: vehicleNodePackages. */
  readonly packages?: readonly string[];
}

export interface RootfsOptions extends RootfsRecipe {
  /** Where tarballs and unpacked trees are kept. Default `/var/cache/qm-test`. */
  readonly cacheDir?: string;
}

export interface Rootfs {
  /** Hash of the recipe; names the tarball and the tree. */
  readonly key: string;
  readonly suite: string;
  readonly packages: readonly string[];
  /** The cached `.tar.zst`, owners and xattrs preserved. */
  readonly tarball: string;
  /** The unpacked tree, shared by every caller: read it or mount it as an overlay's lower layer, never write to it. */
  readonly dir: string;
  /** How this call got the tree: built by mmdebstrap, unpacked from the tarball, or already unpacked. */
  readonly source: 'mmdebstrap' | 'tarball' | 'tree';
  readonly seconds: number;
}

// Bump when the way a tree is built changes, so old caches stop matching.
const recipeVersion = 1;

/** The cache key of a recipe: the suite and the sorted, de-duplicated package list. */
export function rootfsKey(recipe: RootfsRecipe = {}): string {
  const suite = recipe.suite ?? 'trixie';
  const packages = [...new Set(recipe.packages ?? vehicleNodePackages)].sort();
  const text = JSON.stringify({ recipeVersion, variant: 'minbase', suite, packages });
  return `${suite}-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

/**
 * Returns a rootfs tree for the recipe: unpacked from the cache when there, else built with mmdebstrap
 * (installing mmdebstrap on the host first if needed). Concurrent callers wait for one build.
 */
export async function buildRootfs(options: RootfsOptions = {}): Promise<Rootfs> {
  const started = performance.now();
  const suite = options.suite ?? 'trixie';
  const packages = [...new Set(options.packages ?? vehicleNodePackages)].sort();
  for (const name of [suite, ...packages]) {
    if (!/^[a-z0-9][a-z0-9+.:-]*$/.test(name)) throw new Error(`rootfs: not a Debian suite or package name: ${name}`);
  }
  const cacheDir = options.cacheDir ?? defaultCacheDir;
  const key = rootfsKey({ suite, packages });
  const tarball = join(cacheDir, `rootfs-${key}.tar.zst`);
  const dir = join(cacheDir, `rootfs-${key}`);
  const done = (source: Rootfs['source']): Rootfs => ({
    key,
    suite,
    packages,
    tarball,
    dir,
    source,
    seconds: (performance.now() - started) / 1000,
  });

  if (existsSync(dir) && existsSync(tarball)) return done('tree');
  await ensureHostPackages(vehicleNodeHostPackages);
  return withFileLock(join(cacheDir, `rootfs-${key}.lock`), async () => {
    // Work next to the results and rename into place, so a killed build never leaves half a tree or tarball.
    const scratch = join(cacheDir, `.rootfs-${key}.${process.pid}`);
    await rm(scratch, { recursive: true, force: true });
    await mkdir(scratch, { recursive: true });
    try {
      if (existsSync(dir)) {
        // Other nodes may have the tree mounted: never replace it, only (re)make the tarball from it.
        if (!existsSync(tarball)) await packTarball(dir, scratch, tarball);
        return done('tree');
      }
      let source: Rootfs['source'] = 'tarball';
      const tree = join(scratch, 'tree');
      if (existsSync(tarball)) {
        await mkdir(tree);
        await runChecked(['tar', ...tarOptions, '-I', 'zstd', '-C', tree, '-xpf', tarball]);
      } else {
        source = 'mmdebstrap';
        await runChecked(['mmdebstrap', '--quiet', '--variant=minbase', `--include=${packages.join(',')}`, suite, tree], {
          env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        });
        await packTarball(tree, scratch, tarball);
      }
      await rename(tree, dir);
      return done(source);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
}

async function packTarball(tree: string, scratch: string, tarball: string): Promise<void> {
  const partial = join(scratch, 'rootfs.tar.zst');
  await runChecked(['tar', ...tarOptions, '-I', 'zstd -T0 -3', '-C', tree, '-cf', partial, '.']);
  await rename(partial, tarball);
}

const tarOptions = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls'];
