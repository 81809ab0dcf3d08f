// Where the `sh runnable node` blocks of the book and the examples run: a vehicle node with this project at /opt/qm,
// `qmctl` on PATH as the built dist/qmctl.cjs, and what the blocks take from the test machine. The convention is
// docs/development.md, "Docs that run"; the blocks themselves are found by test/docs/blocks.ts.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { installedProject, type QmNode } from '../partition/qm-node.ts';
import { runChecked } from '../support/command.ts';
import { buildRootfs } from '../support/rootfs.ts';
import type { BlockRun } from '../docs/shell.ts';

/** Where, in the node, the examples find the root filesystem tarball their images are made of. */
export const exampleRootfsTarball = '/var/tmp/examples/socat-rootfs.tar';

/** What the examples' images hold: Debian trixie (minbase) with socat, built by mmdebstrap on the test machine. */
const imagePackages = ['socat'];
/** Left out of the image: documentation, translations and apt's lists, which no example reads. */
const imageExcludes = ['./usr/share/doc', './usr/share/locale', './usr/share/man', './usr/share/info', './var/cache/apt', './var/lib/apt/lists'];

/**
 * Files whose node blocks need more than one vehicle node, run by a test of their own rather than by
 * book-e2e.test.ts: the file, and the test that runs its blocks.
 */
export const ownVehicleBlocks: ReadonlyMap<string, string> = new Map([['examples/vehicle/README.md', 'test/examples/vehicle-boot-e2e.test.ts']]);

/** `qmctl` on the node's PATH: the project's dist/qmctl.cjs beside its .parts, through the read-only bind at /opt/qm. */
export async function installQmctl(node: QmNode): Promise<void> {
  const bin = join(node.root, 'usr/local/bin/qmctl');
  await writeFile(bin, `#!/bin/sh\nexec node ${installedProject}/dist/qmctl.cjs "$@"\n`);
  await chmod(bin, 0o755);
}

/** Prepares a booted node for the blocks: `qmctl` on PATH and the examples' rootfs tarball. */
export async function prepareNodeForBlocks(node: QmNode): Promise<void> {
  await installQmctl(node);
  const image = await buildRootfs({ suite: 'trixie', packages: imagePackages });
  await mkdir(join(node.root, '/var/tmp/examples'), { recursive: true });
  await runChecked(['tar', '-C', image.dir, ...imageExcludes.map((path) => `--exclude=${path}`), '-cf', join(node.root, exampleRootfsTarball), '.']);
}

/** The quadlet drop-in the tests add in QM for every nested container: see nestedQuadletTestDropIn. */
const nestedQuadletDropInPath = '/etc/qm/containers/systemd/container.d/90-test-nested.conf';
/**
 * Test-only, never shipped: quadlet runs nested containers with --cgroups=split, which fails three levels deep on the
 * cgroup v1 test machines as nested cgroups do (machine.md); PodmanArgs come later on podman's command line and win.
 */
const nestedQuadletTestDropIn = `# test/examples: nested cgroups do not work three levels deep on cgroup v1 hosts; never shipped.
[Container]
PodmanArgs=--cgroups=disabled
`;

/** After `qmctl setup`: what the test machine needs for quadlet-run nested containers (with importBusybox's drop-in). */
export async function allowNestedQuadlets(node: QmNode): Promise<void> {
  const result = await node.sh(`mkdir -p $(dirname ${nestedQuadletDropInPath}) && cat > ${nestedQuadletDropInPath} <<'EOF'\n${nestedQuadletTestDropIn}EOF`);
  if (result.code !== 0) throw new Error(`writing ${nestedQuadletDropInPath} failed: ${result.stderr}`);
}

/** podman's deprecation warning on the cgroup v1 test machines, printed by QM's podman too, where no variable reaches. */
const cgroupsV1Warning = /^time="[^"]*" level=warning msg="Using cgroups-v1 which is deprecated.*\n?/gm;

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * A shell for one Markdown file's node blocks: bash -e -o pipefail in the repository root (read-only), stderr into
 * stdout, $TMPDIR and $HOME a fresh directory of the file's own. The blocks of one file see what the earlier did.
 */
export async function nodeShell(node: QmNode, file: string): Promise<{ run(code: string, timeoutMs?: number): Promise<BlockRun> }> {
  const home = `/var/tmp/book/${file.replace(/[^A-Za-z0-9.-]/g, '_')}`;
  const made = await node.sh(`rm -rf ${home} && mkdir -p ${home}`);
  if (made.code !== 0) throw new Error(`cannot make ${home} in the node: ${made.stderr}`);
  const env = [`PATH=${PATH}`, `HOME=${home}`, `TMPDIR=${home}`, 'LANG=C.UTF-8', 'NO_COLOR=1', 'PODMAN_IGNORE_CGROUPSV1_WARNING=1'];
  return {
    run: async (code, timeoutMs = 300_000) => {
      const started = performance.now();
      const result = await node.exec(['env', '-i', ...env, 'bash', '-e', '-o', 'pipefail', '-c', `exec 2>&1\n${code}`], { cwd: installedProject, timeoutMs });
      const timedOut = result.code === 137 && performance.now() - started >= timeoutMs;
      return { output: (result.stdout + result.stderr).replace(cgroupsV1Warning, ''), code: result.code, signal: null, timedOut };
    },
  };
}
