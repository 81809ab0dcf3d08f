// What `qmctl check` concludes from a probe's answer: pure functions from check/qm-probe.c's JSON lines to named
// results (pass, fail, not applicable), each with the evidence a person needs (the errno, the value read).

export type CheckStatus = 'pass' | 'fail' | 'not-applicable';
export type CheckFrom = 'host' | 'qm' | 'nested';

export interface CheckResult {
  /** Upstream's FFI name (tests/ffi) where there is one, else the escape's name. */
  readonly name: string;
  /** Where the check ran: on the host, as QM root, or in a container nested in QM. */
  readonly from: CheckFrom;
  readonly status: CheckStatus;
  readonly evidence: string;
  readonly errno?: string;
  readonly figures?: Readonly<Record<string, number | string>>;
}

/** One line of qm-probe's output. */
export interface ProbeResult {
  readonly case: string;
  readonly outcome: 'refused' | 'allowed' | 'unsupported' | 'error';
  readonly errno: string | null;
  readonly evidence: string;
}

export interface ProbeCase {
  readonly name: string;
  /** The probe's subcommand and arguments. */
  readonly argv: readonly string[];
}

const outcomes = new Set(['refused', 'allowed', 'unsupported', 'error']);

/** qm-probe's lines; anything that is not one of its JSON lines (podman's warnings) is skipped. */
export function parseProbeLines(stdout: string): ProbeResult[] {
  const results: ProbeResult[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const value = JSON.parse(line) as Partial<ProbeResult>;
      if (typeof value.case === 'string' && outcomes.has(String(value.outcome)) && typeof value.evidence === 'string') {
        results.push({ case: value.case, outcome: value.outcome!, errno: value.errno ?? null, evidence: value.evidence });
      }
    } catch {
      // Not a probe line.
    }
  }
  return results;
}

/** Keys the nested container tries to set to their own value (upstream's sysctl check: network and memory). */
export const sysctlKeys = ['net.ipv4.ip_forward', 'net.ipv4.tcp_syncookies', 'net.core.somaxconn', 'vm.swappiness', 'vm.overcommit_memory'] as const;

/** The known container escapes, each tried from QM root and from a nested container. */
export function escapeCases(host: { pid: string; start: string; disk: string | undefined }): ProbeCase[] {
  return [
    { name: 'release_agent', argv: ['release_agent'] },
    { name: 'core_pattern', argv: ['write_same', '/proc/sys/kernel/core_pattern'] },
    { name: 'uevent_helper', argv: ['write_same', '/sys/kernel/uevent_helper'] },
    // QM's /var and /etc are host directories; where their filesystem gives no handles, the capability check is the same on /dev.
    { name: 'open_by_handle_at', argv: ['open_by_handle', '/var:/etc:/:/dev'] },
    ...(host.disk ? [{ name: 'mknod_disk', argv: ['mknod_block', host.disk] }] : []),
    { name: 'mknod_mem', argv: ['mknod_char', '1:1'] },
    { name: 'sysrq_trigger', argv: ['open_write', '/proc/sysrq-trigger'] },
    { name: 'dev_kmsg', argv: ['open_write', '/dev/kmsg'] },
    { name: 'dev_mem', argv: ['open_read', '/dev/mem'] },
    { name: 'init_module', argv: ['init_module'] },
    { name: 'finit_module', argv: ['finit_module'] },
    { name: 'bpf_kprobe', argv: ['bpf_kprobe'] },
    { name: 'perf_event_open', argv: ['perf_system'] },
    { name: 'perf_event_open_host_pid', argv: ['perf_pid', host.pid, host.start] },
    { name: 'ptrace', argv: ['ptrace', host.pid, host.start] },
    { name: 'kill', argv: ['signal', host.pid, host.start] },
    { name: 'keyctl', argv: ['keyring'] },
    { name: 'settimeofday', argv: ['settimeofday'] },
    { name: 'clock_settime', argv: ['clock_settime'] },
    { name: 'adjtimex', argv: ['adjtimex'] },
    { name: 'reboot', argv: ['reboot'] },
    { name: 'kexec_load', argv: ['kexec_load'] },
  ];
}

const withErrno = (result: ProbeResult) => (result.errno ? { errno: result.errno } : {});

/** Refused passes, allowed fails, a case this kernel cannot do is not applicable (by name, never a pass). */
export function judgeProbe(
  name: string,
  from: CheckFrom,
  result: ProbeResult,
  options: { pass?: (result: ProbeResult) => boolean; figures?: Record<string, number | string>; note?: string } = {},
): CheckResult {
  const figures = options.figures && Object.keys(options.figures).length > 0 ? { figures: options.figures } : {};
  if (result.outcome === 'unsupported') return { name, from, status: 'not-applicable', evidence: `not applicable: cannot be tried on this kernel: ${result.evidence}`, ...withErrno(result) };
  const passed = options.pass ? options.pass(result) : result.outcome === 'refused';
  return { name, from, status: passed ? 'pass' : 'fail', evidence: result.evidence, ...withErrno(result), ...figures };
}

/** `exists` answers: absent passes; present passes only where the host has one too and QM's is another file. */
export function judgeExists(name: string, from: CheckFrom, result: ProbeResult, host?: ProbeResult): CheckResult {
  if (result.outcome === 'refused') return { name, from, status: 'pass', evidence: `absent: ${result.evidence}`, ...withErrno(result) };
  if (result.outcome !== 'allowed') return judgeProbe(name, from, result);
  if (host === undefined) return { name, from, status: 'fail', evidence: `present: ${result.evidence}` };
  const identity = (evidence: string) => /inode \d+ on device \d+:\d+/.exec(evidence)?.[0];
  if (host.outcome !== 'allowed') return { name, from, status: 'pass', evidence: `QM's own (the host has none): ${result.evidence}` };
  const own = identity(result.evidence) !== undefined && identity(result.evidence) !== identity(host.evidence);
  return { name, from, status: own ? 'pass' : 'fail', evidence: `${own ? "QM's own" : "the host's"}: in QM ${identity(result.evidence) ?? result.evidence}, on the host ${identity(host.evidence) ?? host.evidence}` };
}

/** An escape's answer; the user keyring is compared with the host's (keyrings are not namespaced). */
export function judgeEscape(item: ProbeCase, from: CheckFrom, result: ProbeResult, host: { keyring?: string }): CheckResult {
  if (item.name === 'keyctl' && result.outcome === 'allowed') {
    const same = host.keyring !== undefined && host.keyring === result.evidence;
    return {
      name: item.name,
      from,
      status: same ? 'fail' : 'pass',
      evidence: same ? `root's user keyring here is the host's (serial ${result.evidence}): its keys can be read and changed` : `root's user keyring here (serial ${result.evidence}) is not the host's (${host.keyring ?? 'unknown'})`,
    };
  }
  return judgeProbe(item.name, from, result);
}

/** upstream's `modules`: init_module and finit_module refused from QM and from a nested container. */
export function judgeModules(checks: readonly CheckResult[]): CheckResult {
  const parts = checks.filter((result) => result.name === 'init_module' || result.name === 'finit_module');
  const evidence = parts.map((part) => `${part.name} (${part.from}): ${part.errno ?? 'no errno'}`).join(', ');
  if (parts.length === 0) return { name: 'modules', from: 'qm', status: 'fail', evidence: 'the module probes did not run' };
  if (parts.some((part) => part.status === 'fail')) return { name: 'modules', from: 'qm', status: 'fail', evidence };
  if (parts.some((part) => part.status === 'not-applicable')) {
    return { name: 'modules', from: 'qm', status: 'not-applicable', evidence: `not applicable: this kernel was built without module loading, so whether QM would be refused cannot be told (${evidence})` };
  }
  return { name: 'modules', from: 'qm', status: 'pass', evidence };
}
