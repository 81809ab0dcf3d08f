import test from 'ava';
import fc from 'fast-check';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmError } from '../../controller/errors.ts';
import {
  deriveNoRtProfile,
  findDefaultProfile,
  hostProfileOptions,
  installNoRtProfile,
  parseProfile,
  SCHED,
  type SeccompProfile,
} from '../../controller/partition/seccomp.ts';

const fixture = new URL('fixtures/default-seccomp.json', import.meta.url);
const load = async () => parseProfile(JSON.parse(await readFile(fixture, 'utf8')), 'fixture');

/** What the kernel filter decides for one call, evaluated the way libseccomp does for these rule shapes (no caps). */
function decide(profile: SeccompProfile, syscall: string, args: number[] = []): { action: string; errno?: number } {
  for (const rule of profile.syscalls) {
    if (!rule.names.includes(syscall)) continue;
    if (Object.keys((rule.includes as { caps?: string[] } | undefined) ?? {}).length > 0) continue;
    const matches = (rule.args ?? []).every((arg) => arg.op === 'SCMP_CMP_EQ' && args[arg.index] === arg.value);
    if (matches) return { action: rule.action, ...(rule.errnoRet !== undefined ? { errno: rule.errnoRet } : {}) };
  }
  return { action: profile.defaultAction, errno: profile.defaultErrnoRet as number };
}

test('sched_setscheduler is allowed for OTHER, BATCH and IDLE only, whatever the policy asked', async (t) => {
  const profile = deriveNoRtProfile(await load());
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0x7fffffff }), (policy) => {
      const allowed = decide(profile, 'sched_setscheduler', [1234, policy]).action === 'SCMP_ACT_ALLOW';
      return allowed === [SCHED.OTHER, SCHED.BATCH, SCHED.IDLE].includes(policy as 0 | 3 | 5);
    }),
  );
  t.is(decide(profile, 'sched_setscheduler', [0, SCHED.FIFO]).action, 'SCMP_ACT_ERRNO');
  t.is(decide(profile, 'sched_setscheduler', [0, SCHED.RR]).action, 'SCMP_ACT_ERRNO');
});

test('sched_setattr is denied with EPERM, also where the default profile allowed it by capability', async (t) => {
  const profile = deriveNoRtProfile(await load());
  t.deepEqual(decide(profile, 'sched_setattr', [0, 0]), { action: 'SCMP_ACT_ERRNO', errno: 1 });
  t.false(profile.syscalls.some((rule) => rule.action === 'SCMP_ACT_ALLOW' && rule.names.includes('sched_setattr')));
});

test("the kernel keyrings are refused with ENOSYS (they would be the host root's), also where the default profile allowed them", async (t) => {
  const base = await load();
  const profile = deriveNoRtProfile({ ...base, syscalls: [...base.syscalls, { names: ['keyctl', 'add_key'], action: 'SCMP_ACT_ALLOW' }] });
  for (const call of ['keyctl', 'add_key', 'request_key']) {
    t.deepEqual(decide(profile, call), { action: 'SCMP_ACT_ERRNO', errno: 38 }, call);
    t.false(profile.syscalls.some((rule) => rule.action === 'SCMP_ACT_ALLOW' && rule.names.includes(call)), call);
  }
});

test('bpf is refused with EPERM where the host has the v1 devices controller, and kept as the default has it where runtimes need it (cgroup v2)', async (t) => {
  const base = await load();
  const withBpf = { ...base, syscalls: [...base.syscalls, { names: ['bpf'], action: 'SCMP_ACT_ALLOW' }] };
  t.deepEqual(decide(deriveNoRtProfile(withBpf, 'fixture', { bpf: false }), 'bpf'), { action: 'SCMP_ACT_ERRNO', errno: 1 });
  t.deepEqual(decide(deriveNoRtProfile(withBpf, 'fixture', { bpf: true }), 'bpf'), decide(withBpf, 'bpf'));
  const dir = await mkdtemp(join(tmpdir(), 'qm-cgroup-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.deepEqual(await hostProfileOptions(dir), { bpf: true });
  await mkdir(join(dir, 'devices'));
  await writeFile(join(dir, 'devices', 'devices.allow'), '');
  t.deepEqual(await hostProfileOptions(dir), { bpf: false });
});

test('every other rule of the default profile is kept as it was', async (t) => {
  const base = await load();
  const profile = deriveNoRtProfile(base);
  t.is(profile.defaultAction, base.defaultAction);
  t.deepEqual(profile.archMap, base.archMap);
  for (const syscall of ['read', 'write', 'sched_yield', 'sched_getparam']) t.is(decide(profile, syscall).action, 'SCMP_ACT_ALLOW');
  t.deepEqual(decide(profile, 'bpf'), decide(base, 'bpf'));
  t.deepEqual(decide(profile, 'personality', [0]), { action: 'SCMP_ACT_ALLOW' });
});

test('deriving twice gives the same profile', async (t) => {
  const once = deriveNoRtProfile(await load());
  t.deepEqual(deriveNoRtProfile(once), once);
});

test('a default profile that allows unlisted syscalls is refused, naming why', async (t) => {
  const error = t.throws(() => deriveNoRtProfile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] }, '/x/seccomp.json'));
  t.true(error instanceof QmError);
  t.regex(error.message, /\/x\/seccomp\.json lets unlisted syscalls through \(defaultAction SCMP_ACT_ALLOW\)/);
});

test('something that is not a profile is refused with the file and the field', (t) => {
  t.throws(() => parseProfile([], 'a.json'), { message: /a\.json is not a seccomp profile: expected a JSON object/ });
  t.throws(() => parseProfile({ defaultAction: 'SCMP_ACT_ERRNO' }, 'a.json'), { message: /"syscalls" is not a list/ });
  t.throws(() => parseProfile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: 'read', action: 'x' }] }, 'a.json'), {
    message: /syscalls\[0\]\.names/,
  });
});

test('install writes the profile atomically, keeps the previous one, and leaves an unchanged one alone', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qm-seccomp-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const target = join(dir, 'qm', 'seccomp-no-rt.json');
  t.is(await installNoRtProfile(fixture.pathname, target), 'created');
  const written = JSON.parse(await readFile(target, 'utf8')) as SeccompProfile;
  t.is(decide(written, 'sched_setscheduler', [0, SCHED.FIFO]).action, 'SCMP_ACT_ERRNO');
  t.is(await installNoRtProfile(fixture.pathname, target), 'unchanged');

  await writeFile(target, '{"old": true}\n');
  t.is(await installNoRtProfile(fixture.pathname, target), 'replaced');
  t.is(await readFile(`${target}.previous`, 'utf8'), '{"old": true}\n');
});

test('a missing or broken default profile is reported with its path and what to install', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qm-seccomp-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await t.throwsAsync(findDefaultProfile([join(dir, 'none.json')]), { message: /no default seccomp profile at .*none\.json; install podman's containers-common/ });
  await writeFile(join(dir, 'broken.json'), '{');
  await t.throwsAsync(installNoRtProfile(join(dir, 'broken.json'), join(dir, 'out.json')), { message: /cannot read the default seccomp profile .*broken\.json/ });
});
