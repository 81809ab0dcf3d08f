// What qmctl check concludes from the probe's answers: the judging rules, without a vehicle node (check.test.ts runs
// them for real). Each rule that could turn a refusal into a pass, or hide a case as "not applicable", is pinned here.
import test from 'ava';
import { judgeEscape, judgeExists, judgeModules, judgeProbe, parseProbeLines, type CheckResult, type ProbeResult } from '../../controller/partition/check-judge.ts';

const probe = (outcome: ProbeResult['outcome'], evidence = 'e', errno: string | null = null): ProbeResult => ({ case: 'c', outcome, errno, evidence });

test("the probe's JSON lines are read; podman's warnings and broken lines around them are skipped", (t) => {
  const stdout = [
    'time="…" level=warning msg="Using cgroups-v1"',
    '{"case":"reboot","outcome":"refused","errno":"EPERM","evidence":"reboot(CAD_OFF) refused"}',
    '{"case":"x","outcome":"maybe","errno":null,"evidence":"not an outcome the probe prints"}',
    '{"case":"broken"',
    '{"case":"kexec_load","outcome":"unsupported","errno":"ENOSYS","evidence":"no kexec"}',
  ].join('\n');
  t.deepEqual(parseProbeLines(stdout), [
    { case: 'reboot', outcome: 'refused', errno: 'EPERM', evidence: 'reboot(CAD_OFF) refused' },
    { case: 'kexec_load', outcome: 'unsupported', errno: 'ENOSYS', evidence: 'no kexec' },
  ]);
});

test('refused passes, allowed fails, an error fails (never a pass), and only a kernel without the call is not applicable', (t) => {
  t.like(judgeProbe('reboot', 'qm', probe('refused', 'refused', 'EPERM')), { status: 'pass', errno: 'EPERM' });
  t.like(judgeProbe('reboot', 'qm', probe('allowed', 'reboot(CAD_OFF) succeeded')), { status: 'fail', evidence: 'reboot(CAD_OFF) succeeded' });
  t.like(judgeProbe('reboot', 'nested', probe('error', 'the probe process ended abnormally (status 9)')), { status: 'fail', from: 'nested' });
  const unsupported = judgeProbe('kexec_load', 'qm', probe('unsupported', 'built without it', 'ENOSYS'));
  t.is(unsupported.status, 'not-applicable');
  t.regex(unsupported.evidence, /^not applicable: cannot be tried on this kernel/);
  t.like(judgeProbe('mqueue', 'qm', probe('refused', 'created 4, then ENOSPC (queues_max 4)', 'ENOSPC'), { pass: (r) => r.errno === 'ENOSPC' }), { status: 'pass' });
  t.like(judgeProbe('mqueue', 'qm', probe('refused', 'created 1, then EMFILE', 'EMFILE'), { pass: (r) => r.errno === 'ENOSPC' }), { status: 'fail' });
});

test("a file QM can see passes only when it is QM's own: the host has none, or QM's is another inode", (t) => {
  t.like(judgeExists('check_dev_kmsg', 'qm', probe('refused', '/dev/kmsg: no such file', 'ENOENT')), { status: 'pass' });
  t.like(judgeExists('check_dev_kmsg', 'qm', probe('allowed', '/dev/kmsg is a character device, inode 9 on device 0:5')), { status: 'fail' });
  const socket = (inode: number, device = '0:26') => probe('allowed', `a socket, inode ${inode} on device ${device}`);
  t.like(judgeExists('check_run_udev_control', 'qm', socket(12), socket(34)), { status: 'pass' });
  t.like(judgeExists('check_run_udev_control', 'qm', socket(12), socket(12)), { status: 'fail' });
  t.like(judgeExists('check_run_udev_control', 'qm', socket(12), probe('refused', 'absent', 'ENOENT')), { status: 'pass' });
});

test("keyctl fails when QM's root reaches the host root's user keyring, passes on another keyring or a refusal", (t) => {
  const item = { name: 'keyctl', argv: ['keyring'] };
  t.like(judgeEscape(item, 'qm', probe('allowed', '261593145'), { keyring: '261593145' }), { status: 'fail' });
  t.like(judgeEscape(item, 'nested', probe('allowed', '11'), { keyring: '261593145' }), { status: 'pass' });
  t.like(judgeEscape(item, 'qm', probe('refused', 'keyctl refused by the seccomp filter', 'ENOSYS'), { keyring: '261593145' }), { status: 'pass', errno: 'ENOSYS' });
});

test('modules: any load allowed fails; not applicable only when the kernel has no module loading at all', (t) => {
  const part = (name: string, from: CheckResult['from'], status: CheckResult['status'], errno?: string): CheckResult => ({ name, from, status, evidence: '', ...(errno ? { errno } : {}) });
  t.like(judgeModules([part('init_module', 'qm', 'pass', 'EPERM'), part('finit_module', 'nested', 'pass', 'EPERM')]), { status: 'pass' });
  t.like(judgeModules([part('init_module', 'qm', 'pass', 'EPERM'), part('finit_module', 'qm', 'fail')]), { status: 'fail' });
  t.like(judgeModules([part('init_module', 'qm', 'not-applicable', 'ENOSYS')]), { status: 'not-applicable' });
  t.like(judgeModules([]), { status: 'fail', evidence: 'the module probes did not run' });
});
