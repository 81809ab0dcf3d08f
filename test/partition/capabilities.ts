// Capabilities as sets of names (qmctl check's names and masks), and the set QM was measured to need
// (test/partition/measure-capabilities.ts), shared by that measurement and the e2e tests.
import { capabilityNames, decodeCapabilities } from '../../controller/partition/check-capabilities.ts';

export { capabilityNames };

export type Capability = (typeof capabilityNames)[number];

export function isCapability(name: string): name is Capability {
  return (capabilityNames as readonly string[]).includes(name);
}

/** The capabilities set in a /proc/PID/status mask such as `000001fffebfffff`, in bit order. */
export const decodeMask = (hex: string): Capability[] => decodeCapabilities(hex).filter(isCapability);

/** The /proc/PID/status mask of a set: 16 hex digits, as the kernel prints CapEff and CapBnd. */
export function encodeMask(capabilities: Iterable<Capability>): string {
  let bits = 0n;
  for (const capability of capabilities) bits |= 1n << BigInt(capabilityNames.indexOf(capability));
  return bits.toString(16).padStart(16, '0');
}

/** `names` in bit order, without repeats. */
export function inBitOrder(names: Iterable<Capability>): Capability[] {
  const wanted = new Set(names);
  return capabilityNames.filter((name) => wanted.has(name));
}

/**
 * What QM's systemd and its nested podman need, as measure-capabilities.ts found on the vehicle node; units/qm.container
 * grants exactly these (README, "QM's capabilities", gives the reason for each).
 */
export const qmCapabilities: readonly Capability[] = [
  'chown', 'dac_override', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'net_bind_service', 'net_admin',
  'sys_chroot', 'sys_admin', 'mknod', 'setfcap',
];

/** containers.conf's `default_capabilities` (`"CHOWN"`, `"CAP_CHOWN"` …), in bit order; undefined when the key is absent. */
export function defaultCapabilities(containersConf: string): Capability[] | undefined {
  const list = /^\s*default_capabilities\s*=\s*\[([^\]]*)\]/m.exec(containersConf);
  if (!list) return undefined;
  const names = [...list[1]!.matchAll(/"([^"]*)"/g)].map((m) => m[1]!.toLowerCase().replace(/^cap_/, ''));
  const unknown = names.filter((name) => !isCapability(name));
  if (unknown.length > 0) throw new Error(`containers.conf default_capabilities names unknown capabilities: ${unknown.join(', ')}`);
  return inBitOrder(names as Capability[]);
}
