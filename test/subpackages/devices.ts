// Device nodes on a vehicle node and what QM and a container nested in QM make of them, for the sub-package e2e
// tests (files copied here, .debs in test/packaging). The nodes have no driver behind them, so the errno of open()
// tells who answered: the kernel finding no driver (ENXIO, ENODEV) means the device cgroup let the open through;
// EPERM is the device cgroup.
import type { CommandResult } from '../support/command.ts';
import { waitForQmScript } from '../partition/qm-node.ts';

/** A vehicle node's shell: a QmNode, or any node with a way to run a script in it. */
export interface Shell {
  sh(script: string, timeoutMs?: number): Promise<CommandResult>;
}

/** The node's devices, as a host with a camera and a touch screen has them (majors from the kernel's devices.txt). */
export const devices = [
  { path: '/dev/video0', major: 81, minor: 0 },
  { path: '/dev/input/event0', major: 13, minor: 64 },
];
export const EPERM = 1;
const ENXIO = 6;
const ENODEV = 19;
/** open() reached the kernel's character-device lookup: no driver, but not refused. */
export const reachedKernel = [ENXIO, ENODEV];

export interface Probe {
  /** `major:minor` in decimal, or undefined when the path does not exist. */
  readonly device?: string;
  /** errno of open(O_RDONLY), 0 when it opened. */
  readonly errno: number;
}

const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

/**
 * Stats and opens each path where `run` runs a shell script (QM, or a nested busybox container). busybox has no
 * perl, so the errno comes from the message of a failed read, which busybox and coreutils word as strerror does.
 */
export async function probe(node: Shell, where: 'qm' | 'nested', paths: readonly string[], nestedArgs = ''): Promise<Record<string, Probe>> {
  const script = paths
    .map((path) => `if [ -e ${path} ]; then s=$(stat -c %t:%T ${path}); m=$(head -c 1 ${path} 2>&1 >/dev/null) && m=opened; else s=absent m=; fi; echo "${path} $s $m"`)
    .join('\n');
  const command = where === 'qm' ? `podman exec qm sh -c ${quote(script)}` : `podman exec qm podman run --rm ${nestedArgs} localhost/busybox sh -c ${quote(script.replaceAll('stat ', 'busybox stat ').replaceAll('head ', 'busybox head '))}`;
  const result = await node.sh(command);
  if (result.code !== 0) throw new Error(`probe in ${where} failed (${result.code}): ${result.stderr}`);
  const probes: Record<string, Probe> = {};
  for (const line of result.stdout.trim().split('\n')) {
    const [path = '', stat = '', ...message] = line.split(' ');
    const text = message.join(' ');
    const errno = text === 'opened' ? 0 : /No such device or address/.test(text) ? ENXIO : /No such device/.test(text) ? ENODEV : /Operation not permitted/.test(text) ? EPERM : -1;
    probes[path] = stat === 'absent' ? { errno: -1 } : { device: stat.split(':').map((hex) => parseInt(hex, 16)).join(':'), errno: errno === -1 ? Number.NaN : errno };
    if (stat !== 'absent' && errno === -1) throw new Error(`probe in ${where}: unexpected message for ${path}: ${text}`);
  }
  return probes;
}

/** QM root makes the node itself (it holds CAP_MKNOD) and opens it: what QM's device cgroup says, without podman's help. */
export async function madeInQm(node: Shell, device: { major: number; minor: number }): Promise<number> {
  const path = `/dev/qm-e2e-${device.major}-${device.minor}`;
  const made = await node.sh(`podman exec qm sh -c 'mknod ${path} c ${device.major} ${device.minor} && head -c 1 ${path} 2>&1 >/dev/null; rm -f ${path}'`);
  return /Operation not permitted/.test(made.stdout) ? EPERM : /No such device or address/.test(made.stdout) ? ENXIO : /No such device/.test(made.stdout) ? ENODEV : Number.NaN;
}

export async function restartQm(node: Shell): Promise<void> {
  // daemon-reload: quadlet decides on AddDevice=-… when it generates qm.service, so it must see the files and devices.
  const restart = await node.sh('systemctl daemon-reload && systemctl restart qm.service');
  if (restart.code !== 0) throw new Error(`restarting qm.service failed: ${restart.stderr}`);
  const state = (await node.sh(`${waitForQmScript}\necho "$state"`, 90_000)).stdout.trim();
  if (state !== 'running') throw new Error(`QM is ${state || 'not answering'} after the restart`);
}

