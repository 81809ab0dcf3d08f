// Linux capabilities by name and as /proc/PID/status masks, and the set QM was measured to need
// (test/partition/measure-capabilities.ts), shared by that measurement and the e2e tests.

/** Capability names in bit order (linux/capability.h, 0 … CAP_LAST_CAP 40), lower case without CAP_, as podman writes them. */
export const capabilityNames = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap',
  'linux_immutable', 'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner',
  'sys_module', 'sys_rawio', 'sys_chroot', 'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot', 'sys_nice',
  'sys_resource', 'sys_time', 'sys_tty_config', 'mknod', 'lease', 'audit_write', 'audit_control', 'setfcap',
  'mac_override', 'mac_admin', 'syslog', 'wake_alarm', 'block_suspend', 'audit_read', 'perfmon', 'bpf',
  'checkpoint_restore',
] as const;

export type Capability = (typeof capabilityNames)[number];

export function isCapability(name: string): name is Capability {
  return (capabilityNames as readonly string[]).includes(name);
}

/** The capabilities set in a /proc/PID/status mask such as `000001fffebfffff`, in bit order. */
export function decodeMask(hex: string): Capability[] {
  const bits = BigInt(`0x${hex.trim()}`);
  return capabilityNames.filter((_, bit) => (bits >> BigInt(bit)) & 1n);
}

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
  'chown', 'dac_override', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'net_bind_service', 'sys_chroot',
  'sys_admin', 'mknod', 'setfcap',
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
