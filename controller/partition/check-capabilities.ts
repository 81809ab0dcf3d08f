// Capabilities as /proc/PID/status masks, and what qm.container (with its drop-ins) declares QM may hold.

/** Capability names in bit order (linux/capability.h, 0 … CAP_LAST_CAP 40), lower case without CAP_. */
export const capabilityNames = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap',
  'linux_immutable', 'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner',
  'sys_module', 'sys_rawio', 'sys_chroot', 'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot', 'sys_nice',
  'sys_resource', 'sys_time', 'sys_tty_config', 'mknod', 'lease', 'audit_write', 'audit_control', 'setfcap',
  'mac_override', 'mac_admin', 'syslog', 'wake_alarm', 'block_suspend', 'audit_read', 'perfmon', 'bpf',
  'checkpoint_restore',
] as const;

/** podman's own default set (containers.conf default_capabilities), which AddCapability= adds to. */
const podmanDefaults = ['chown', 'dac_override', 'fowner', 'fsetid', 'kill', 'net_bind_service', 'setfcap', 'setgid', 'setpcap', 'setuid', 'sys_chroot'];

/** The names set in a mask such as `000001fffebfffff`, in bit order. */
export function decodeCapabilities(hex: string): string[] {
  const bits = BigInt(`0x${hex.trim() || '0'}`);
  return capabilityNames.filter((_, bit) => (bits >> BigInt(bit)) & 1n);
}

const normalise = (word: string) => word.toLowerCase().replace(/^cap_/, '');

/**
 * What AddCapability=/DropCapability= across the unit and its drop-ins allow QM to hold, merged as podman does
 * (containers/common MergeCapabilities): drop all leaves only what is added; otherwise defaults and added, less dropped.
 */
export function declaredCapabilities(files: ReadonlyArray<Record<string, Record<string, string[]>>>): { allowed: Set<string>; text: string } {
  const words = (key: string) => files.flatMap((sections) => sections.Container?.[key] ?? []).flatMap((value) => value.split(/\s+/).filter(Boolean).map(normalise));
  const added = words('AddCapability');
  const dropped = words('DropCapability');
  const expand = (names: string[]) => names.flatMap((name) => (name === 'all' ? [...capabilityNames] : [name]));
  const allowed = new Set<string>(dropped.includes('all') ? expand(added) : [...podmanDefaults, ...expand(added)]);
  if (!dropped.includes('all')) for (const name of dropped) allowed.delete(name);
  const text = `${dropped.includes('all') ? 'nothing' : "podman's defaults"}${added.length > 0 ? ` + ${added.join(' ')}` : ''}${dropped.length > 0 ? ` - ${dropped.join(' ')}` : ''}`;
  return { allowed, text };
}
