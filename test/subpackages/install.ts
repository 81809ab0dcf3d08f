// Putting a sub-package's files on a vehicle node and taking them away again, as its package would: every file
// under subpackages/<name>/files/ at the same path. The packaging e2e installs the real .debs instead; the e2e
// tests here only need these two steps, so swapping them is the whole change.
import type { QmNode } from '../partition/qm-node.ts';
import { installedProject } from '../partition/qm-node.ts';
import { subpackageFiles, type SubpackageName } from './trixie-chroot.ts';

/** Copies the sub-package's files into the node's root, as `cp -a subpackages/<name>/files/. $(DESTDIR)/` does. */
export async function installSubpackage(node: QmNode, name: SubpackageName): Promise<void> {
  const result = await node.sh(`cp -a ${installedProject}/subpackages/${name}/files/. /`);
  if (result.code !== 0) throw new Error(`installing ${name} on ${node.name} failed: ${result.stderr}`);
}

/** Removes the files installSubpackage put there (directories other packages may share stay). */
export async function removeSubpackage(node: QmNode, name: SubpackageName): Promise<void> {
  const paths = Object.keys(await subpackageFiles(name));
  const result = await node.sh(`rm -f -- ${paths.map((path) => `'${path}'`).join(' ')}`);
  if (result.code !== 0) throw new Error(`removing ${name} from ${node.name} failed: ${result.stderr}`);
}
