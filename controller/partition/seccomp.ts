// QM's seccomp profile, derived from the platform's default container profile: no real-time scheduling
// and no kernel keyrings. Its file keeps upstream's name, seccomp-no-rt.json.
import { readFile } from 'node:fs/promises';
import { QmError } from '../errors.ts';
import { exists, writeFileAtomic, type WriteOutcome } from './files.ts';

/** Where distributions put podman's default profile (containers-common / golang-github-containers-common). */
export const defaultProfileCandidates = ['/usr/share/containers/seccomp.json', '/etc/containers/seccomp.json'] as const;
export const noRtProfilePath = '/usr/share/qm/seccomp-no-rt.json';

/** Scheduling policies (linux/sched.h) QM may select: the non-real-time ones. */
export const SCHED = { OTHER: 0, FIFO: 1, RR: 2, BATCH: 3, IDLE: 5, DEADLINE: 6 } as const;
const allowedPolicies = [SCHED.OTHER, SCHED.BATCH, SCHED.IDLE];
const EPERM = 1;
const ENOSYS = 38;

export interface SeccompArg {
  readonly index: number;
  readonly value: number;
  readonly valueTwo?: number;
  readonly op: string;
}

export interface SeccompRule {
  readonly names: readonly string[];
  readonly action: string;
  readonly args?: readonly SeccompArg[] | null;
  readonly errnoRet?: number;
  readonly [key: string]: unknown;
}

export interface SeccompProfile {
  readonly defaultAction: string;
  readonly syscalls: readonly SeccompRule[];
  readonly [key: string]: unknown;
}

/**
 * The kernel's keyrings are not namespaced by anything QM has (it runs without a user namespace), so QM's
 * root would read and change the host root's user keyring (qmctl check: keyctl). Refused with ENOSYS, as
 * on a kernel built without keyrings: runc, crun and systemd then carry on without one, where EPERM would
 * make runc fail to start a nested container.
 */
const keyringCalls = ['keyctl', 'add_key', 'request_key'];
const controlled = new Set(['sched_setscheduler', 'sched_setattr', ...keyringCalls]);

/**
 * Whether QM's nested container runtimes need bpf(): on cgroup v2 runc and crun enforce a container's
 * device rules with a BPF program, so bpf stays (and with it, because QM holds sys_admin, loading
 * tracing programs: qmctl check reports bpf_kprobe failed there). Where the hierarchy has the v1 devices
 * controller, nothing in QM needs bpf and the profile refuses it.
 */
export interface ProfileOptions {
  readonly bpf: boolean;
}

/** What this host needs: bpf only where there is no v1 devices controller. */
export async function hostProfileOptions(cgroupRoot = '/sys/fs/cgroup'): Promise<ProfileOptions> {
  return { bpf: !(await exists(`${cgroupRoot}/devices/devices.allow`)) };
}
// A default action that lets unlisted syscalls through cannot be narrowed by removing allow rules.
const permissiveDefaults = new Set(['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE']);

/** Checks that `value` is a seccomp profile in the OCI/containers JSON form; `source` names it in errors. */
export function parseProfile(value: unknown, source: string): SeccompProfile {
  const fail = (why: string) => new QmError('config', `${source} is not a seccomp profile: ${why}`, { file: source });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('expected a JSON object');
  const profile = value as Record<string, unknown>;
  if (typeof profile.defaultAction !== 'string') throw fail('"defaultAction" is missing');
  if (!Array.isArray(profile.syscalls)) throw fail('"syscalls" is not a list');
  profile.syscalls.forEach((rule: unknown, index) => {
    const entry = rule as Record<string, unknown> | null;
    if (typeof entry !== 'object' || entry === null) throw fail(`syscalls[${index}] is not an object`);
    const names = entry.names ?? (typeof entry.name === 'string' ? [entry.name] : undefined);
    if (!Array.isArray(names) || !names.every((name) => typeof name === 'string')) throw fail(`syscalls[${index}].names is not a list of names`);
    if (typeof entry.action !== 'string') throw fail(`syscalls[${index}].action is missing`);
  });
  return profile as unknown as SeccompProfile;
}

/**
 * QM's profile: every rule about sched_setscheduler, sched_setattr or a keyring call is taken out of the
 * default profile, then sched_setscheduler is allowed only with policy (argument 1) OTHER, BATCH or IDLE,
 * sched_setattr is denied with EPERM and the keyring calls with ENOSYS (and bpf with EPERM where
 * `options.bpf` is false). Other policies fall to the
 * profile's default action (an errno). Deriving from an already derived profile gives the same profile.
 */
export function deriveNoRtProfile(base: SeccompProfile, source = 'the default profile', options: ProfileOptions = { bpf: true }): SeccompProfile {
  if (permissiveDefaults.has(base.defaultAction)) {
    throw new QmError(
      'config',
      `${source} lets unlisted syscalls through (defaultAction ${base.defaultAction}); QM needs a profile that denies by default to refuse real-time scheduling`,
      { file: source },
    );
  }
  const syscalls: SeccompRule[] = [];
  const removed = options.bpf ? controlled : new Set([...controlled, 'bpf']);
  for (const rule of base.syscalls) {
    const names = namesOf(rule).filter((name) => !removed.has(name));
    if (names.length === 0) continue;
    syscalls.push(names.length === namesOf(rule).length ? rule : { ...withoutName(rule), names });
  }
  for (const policy of allowedPolicies) {
    syscalls.push({
      names: ['sched_setscheduler'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 1, value: policy, valueTwo: 0, op: 'SCMP_CMP_EQ' }],
      comment: 'qm: non-real-time scheduling policies only',
    });
  }
  syscalls.push({ names: ['sched_setattr'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [], comment: 'qm: no real-time scheduling' });
  syscalls.push({ names: keyringCalls, action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, args: [], comment: "qm: no kernel keyrings (they would be the host root's)" });
  if (!options.bpf) syscalls.push({ names: ['bpf'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [], comment: 'qm: no BPF programs (the v1 devices controller needs none)' });
  return { ...base, syscalls };
}

function namesOf(rule: SeccompRule): readonly string[] {
  const single = (rule as { name?: unknown }).name;
  return rule.names ?? (typeof single === 'string' ? [single] : []);
}

function withoutName(rule: SeccompRule): SeccompRule {
  const { name: _name, ...rest } = rule as SeccompRule & { name?: unknown };
  return rest as SeccompRule;
}

/** The first default profile this platform has, or a QmError naming the places looked at and the package to install. */
export async function findDefaultProfile(candidates: readonly string[] = defaultProfileCandidates): Promise<string> {
  for (const candidate of candidates) if (await exists(candidate)) return candidate;
  throw new QmError(
    'config',
    `no default seccomp profile at ${candidates.join(' or ')}; install podman's containers-common (Debian: golang-github-containers-common)`,
  );
}

/** Reads the platform's default profile and writes QM's no-RT profile from it, atomically. */
export async function installNoRtProfile(source: string, target = noRtProfilePath, options: ProfileOptions = { bpf: true }): Promise<WriteOutcome> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(source, 'utf8'));
  } catch (error) {
    throw new QmError('config', `cannot read the default seccomp profile ${source}: ${(error as Error).message}`, { file: source }, { cause: error });
  }
  const profile = deriveNoRtProfile(parseProfile(parsed, source), source, options);
  return writeFileAtomic(target, `${JSON.stringify(profile, null, '\t')}\n`);
}
