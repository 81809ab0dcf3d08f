// A vehicle node with this project installed (qmctl bundle, units/, node) and QM's rootfs cache provided,
// for the QM end-to-end test and bench. Wraps test/support/vehicle-node.ts.
import { link, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rootfsRecipe } from '../../controller/partition/rootfs.ts';
import { runChecked } from '../support/command.ts';
import { ensureHostPackages } from '../support/host-packages.ts';
import { buildRootfs } from '../support/rootfs.ts';
import { bootVehicleNode, type VehicleNode, type VehicleNodeBind } from '../support/vehicle-node.ts';

export const projectDir = fileURLToPath(new URL('../../', import.meta.url));
/** Where the node sees the project: `node /opt/qm/dist/qmctl.cjs` is the installed qmctl. */
export const installedProject = '/opt/qm';
/** Where provideQmRootfsCache puts setup's rootfs tarball; a node sees it as /var/cache/qm, where setup looks. */
export const setupCacheDir = '/var/cache/qm-test/qm-setup-cache';

/** The trixie rootfs `qmctl setup` would build on a trixie node, placed where setup looks for its cache. */
export async function provideQmRootfsCache(): Promise<string> {
  const recipe = rootfsRecipe({ id: 'debian', family: 'debian', release: 'trixie' }, false);
  const built = await buildRootfs({ suite: 'trixie', packages: recipe.packages });
  await mkdir(setupCacheDir, { recursive: true });
  const target = join(setupCacheDir, `rootfs-${recipe.key}.tar.zst`);
  if (!(await stat(target).catch(() => undefined))) {
    await link(built.tarball, target).catch(async () => runChecked(['cp', '--reflink=auto', built.tarball, target]));
  }
  return built.dir;
}

export interface QmNode extends VehicleNode {
  /** Runs the installed qmctl inside the node. */
  qmctl(args: readonly string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Runs a shell command line inside the node. */
  sh(script: string, timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
}

export interface QmNodeOptions {
  /** Host directories the node needs besides the project's (another node's bus, shared with this one). */
  readonly binds?: readonly VehicleNodeBind[];
  /**
   * A /var/cache/qm of the node's own, setup's rootfs tarball linked into it from the shared cache (bound read-only at
   * /var/cache/qm-host): for a node where `make install` or qm-controller makes /var/cache/qm/code-cache, which must
   * not reach the shared cache of every other node.
   */
  readonly ownCacheDir?: boolean;
}

/** `packages`: Debian packages the node needs besides the project's own (a bench's measuring tools). */
export async function bootQmNode(name: string, packages: readonly string[] = [], options: QmNodeOptions = {}): Promise<QmNode> {
  await ensureHostPackages(['busybox-static']);
  await runChecked([process.execPath, join(projectDir, 'scripts/build.mjs')], { cwd: projectDir });
  await provideQmRootfsCache();
  const node = await bootVehicleNode({
    name,
    // zstd unpacks setup's cached rootfs tarball.
    packages: ['zstd', ...packages],
    binds: [
      { host: projectDir.replace(/\/$/, ''), node: installedProject, readOnly: true },
      { host: process.execPath, node: '/usr/local/bin/node', readOnly: true },
      options.ownCacheDir ? { host: setupCacheDir, node: '/var/cache/qm-host', readOnly: true } : { host: setupCacheDir, node: '/var/cache/qm' },
      { host: '/bin/busybox', node: '/usr/local/lib/busybox', readOnly: true },
      ...(options.binds ?? []),
    ],
  });
  try {
    await node.waitForSystemState('running');
    // QM's nested podman stores images with fuse-overlayfs: the node gets /dev/fuse as a vehicle would have it.
    const fuse = await node.exec(['sh', '-c', 'test -e /dev/fuse || mknod -m 666 /dev/fuse c 10 229']);
    if (fuse.code !== 0) throw new Error(`cannot create /dev/fuse in the node: ${fuse.stderr}`);
    if (options.ownCacheDir) {
      const linked = await node.exec(['sh', '-c', 'mkdir -p /var/cache/qm && ln -sf /var/cache/qm-host/rootfs-*.tar.zst /var/cache/qm/']);
      if (linked.code !== 0) throw new Error(`cannot link setup's rootfs tarball in the node: ${linked.stderr}`);
    }
  } catch (error) {
    await node.stop().catch(() => undefined);
    throw error;
  }
  // Onto the node itself, not a copy: leaderPid, root and systemBusAddress are getters that follow a reboot.
  return Object.assign(node, {
    qmctl: (args: readonly string[], timeoutMs = 300_000) => node.exec(['node', `${installedProject}/dist/qmctl.cjs`, ...args], { timeoutMs }),
    sh: (script: string, timeoutMs = 120_000) => node.exec(['sh', '-c', script], { timeoutMs }),
  });
}

/** A test-only drop-in for QM's podman: nested containers without cgroups, which v1 cannot nest three deep (machine.md). */
export const nestedTestDropIn = `# test/partition: nested cgroups do not work three levels deep on cgroup v1 hosts; never shipped.
[containers]
cgroups = "disabled"

[engine]
runtime = "crun"
`;

/**
 * Shell lines that leave in $state what QM's systemd says once it has finished booting (running, degraded …), or
 * nothing if it never answered within a minute. `is-system-running --wait` waits for the boot itself; the loop
 * only covers the moment after a (re)start when QM's systemd does not answer yet.
 */
export const waitForQmScript = `state=; end=$(( $(date +%s) + 60 ))
while [ $(date +%s) -lt $end ]; do
  state=$(timeout 60 podman exec qm systemctl is-system-running --wait 2>/dev/null)
  case "$state" in ''|offline|unknown) sleep 0.2;; *) break;; esac
done`;

/** What QM's systemd says once it has finished booting; empty when it never answered. */
export async function waitForQm(node: QmNode): Promise<string> {
  return (await node.sh(`${waitForQmScript}\necho "$state"`, 90_000)).stdout.trim();
}

/**
 * `qmctl setup` on the node, as an integrator runs it, then the busybox image for nested containers: where the
 * partition e2e files start. Throws with setup's output when it fails; returns how long setup took and what it said.
 */
export async function setUpQm(node: QmNode): Promise<{ seconds: number; stderr: string }> {
  const started = performance.now();
  const result = await node.qmctl(['setup']);
  const seconds = (performance.now() - started) / 1000;
  if (result.code !== 0) throw new Error(`qmctl setup failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
  await importBusybox(node);
  return { seconds, stderr: result.stderr };
}

/** Imports a busybox image into QM's podman as localhost/busybox (from the host's busybox-static). */
export async function importBusybox(node: Pick<QmNode, 'sh'>): Promise<void> {
  const script = `set -e
mkdir -p /etc/qm/containers/containers.conf.d
cat > /etc/qm/containers/containers.conf.d/90-test-nested.conf <<'EOF_CONF'
${nestedTestDropIn}EOF_CONF
rm -rf /var/qm/tmp/busybox-image && mkdir -p /var/qm/tmp/busybox-image/bin
cp /usr/local/lib/busybox /var/qm/tmp/busybox-image/bin/busybox
for c in sh cat sleep true; do ln -sf busybox /var/qm/tmp/busybox-image/bin/$c; done
tar -C /var/qm/tmp/busybox-image -cf /var/qm/tmp/busybox.tar .
podman exec qm podman import -q /var/tmp/busybox.tar localhost/busybox >/dev/null`;
  const result = await node.sh(script);
  if (result.code !== 0) throw new Error(`importing busybox into QM failed: ${result.stderr}`);
}
