// `qmctl check` on a real vehicle node: QM set up by `qmctl setup`, the check run as an operator would, each named
// check asserted on its own; then against a deliberately weakened QM, where the matching checks must fail.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import type { CheckReport, CheckResult } from '../../controller/partition/check.ts';
import { formatReport } from '../../controller/cli/commands/check.ts';
import { bootQmNode, setUpQm, waitForQm, type QmNode } from './qm-node.ts';

const test = anyTest as TestFn<{ node: QmNode }>;

/** Every check qmctl check runs, by name (upstream's FFI names, then the escapes), with where it runs. */
const expected: ReadonlyArray<readonly [name: string, from: CheckResult['from']]> = [
  ...['check_dev_console', 'check_dev_disk', 'check_dev_kmsg', 'dev_mem_not_present', 'check_etc_qm', 'check_usr_lib_qm', 'check_usr_share_qm', 'check_dev_shm',
    'check_run_systemd_journal_socket', 'check_run_udev_control', 'engine_socket', 'sys_read_only', 'read_only_root', 'deny_sched_setattr', 'deny_set_scheduler',
    'mqueue', 'tcp_max_syn_backlog', 'modules', 'host_loopback'].map((name) => [name, 'qm'] as const),
  ...['qm_nested', 'dev_mem_not_present', 'sys_read_only', 'deny_sched_setattr', 'deny_set_scheduler', 'sysctl', 'host_loopback'].map((name) => [name, 'nested'] as const),
  ...['mqueue', 'capabilities', 'qm-oom-score-adj', 'cgroup', 'namespaces', 'qm-unit-files', 'selinux'].map((name) => [name, 'host'] as const),
  ...['release_agent', 'core_pattern', 'uevent_helper', 'open_by_handle_at', 'mknod_disk', 'mknod_mem', 'sysrq_trigger', 'dev_kmsg', 'dev_mem', 'init_module',
    'finit_module', 'bpf_kprobe', 'perf_event_open', 'perf_event_open_host_pid', 'ptrace', 'kill', 'keyctl', 'settimeofday', 'clock_settime', 'adjtimex', 'reboot',
    'kexec_load'].flatMap((name) => [[name, 'qm'] as const, [name, 'nested'] as const]),
];

/**
 * Where a check may be "not applicable" on this machine, and why (read on the node, not assumed): SELinux off, a kernel
 * built without module loading or the uevent helper. Anything else not applicable is a failure of the test.
 */
const notApplicableWhen: Record<string, (node: QmNode) => boolean> = {
  selinux: (node) => !existsSync(join(node.root, 'sys/fs/selinux/enforce')),
  modules: () => !existsSync('/proc/modules'),
  init_module: () => !existsSync('/proc/modules'),
  finit_module: () => !existsSync('/proc/modules'),
  uevent_helper: () => !existsSync('/sys/kernel/uevent_helper'),
};

async function runCheck(node: QmNode): Promise<{ code: number; report: CheckReport; stderr: string }> {
  const result = await node.qmctl(['check', '--json']);
  let report: CheckReport;
  try {
    report = JSON.parse(result.stdout) as CheckReport;
  } catch {
    throw new Error(`qmctl check --json printed no report (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
  return { code: result.code, report, stderr: result.stderr };
}

const find = (report: CheckReport, name: string, from: CheckResult['from']) => report.checks.find((result) => result.name === name && result.from === from);

test.before(async (t) => {
  t.timeout(20 * 60_000, 'building the node and QM rootfs on a fresh machine');
  const node = await bootQmNode('qm-check');
  t.context.node = node;
  // Nested containers need the test-only podman drop-in on this cgroup v1 machine (machine.md); no image is used.
  await setUpQm(node);
});

test.after.always(async (t) => {
  await t.context.node?.stop();
});

test.serial('qmctl check: every named check passes on the QM that setup installs (the report stays in the log)', async (t) => {
  const { node } = t.context;
  const human = await node.qmctl(['check']);
  t.log(`qmctl check (exit ${human.code}):\n${human.stdout}${human.stderr}`);
  const { code, report } = await runCheck(node);
  for (const [name, from] of expected) {
    const result = find(report, name, from);
    const says = result ? `${result.status}: ${result.evidence}` : 'missing from the report';
    if (result?.status === 'not-applicable' && notApplicableWhen[name]?.(node)) {
      t.regex(result.evidence, /^not applicable: /, `${name} (${from}) says why it is not applicable`);
      continue;
    }
    t.is(result?.status, 'pass', `${name} (${from}): ${says}`);
  }
  const unexpected = report.checks.filter((result) => !expected.some(([name, from]) => name === result.name && from === result.from));
  t.deepEqual(unexpected.map((result) => `${result.name} (${result.from})`), [], 'every check in the report is asserted by name here');
  t.is(code, report.failed > 0 ? 1 : 0, 'exit 1 exactly when a check failed');
  if (notApplicableWhen.selinux!(node)) t.is(find(report, 'selinux', 'host')?.evidence, 'not applicable: SELinux is not enabled on this host');
  t.deepEqual(find(report, 'qm-oom-score-adj', 'host')?.figures, { service: 500, init: 500, nested: 750 });
  t.is(formatReport(report).split('\n').length, report.checks.length + 1, 'one report line per check, then the totals');
});

test.serial("qmctl check fails, with the evidence, against a QM weakened by a drop-in (the host's /dev/shm shared, no seccomp filter)", async (t) => {
  const { node } = t.context;
  const dropIn = '/etc/containers/systemd/qm.container.d/99-check-test-weakened.conf';
  const content = '# check.test.ts: a deliberately weakened QM; removed when the test ends.\n[Container]\nVolume=/dev/shm:/dev/shm\nSeccompProfile=unconfined\n';
  const weaken = await node.sh(`printf '%s' '${content}' > ${dropIn} && systemctl daemon-reload && systemctl restart qm.service`);
  try {
    t.is(weaken.code, 0, weaken.stderr);
    t.is(await waitForQm(node), 'running');
    const { code, report } = await runCheck(node);
    t.log(formatReport({ ...report, checks: report.checks.filter((result) => result.status === 'fail') }));
    t.is(code, 1);
    const shm = find(report, 'check_dev_shm', 'qm');
    t.is(shm?.status, 'fail', shm?.evidence);
    t.regex(shm?.evidence ?? '', /^present: \/dev\/shm\/qm-check-\d+ is a file, inode \d+/);
    for (const from of ['qm', 'nested'] as const) {
      const setattr = find(report, 'deny_sched_setattr', from);
      t.is(setattr?.status, 'fail', `deny_sched_setattr (${from}): ${setattr?.evidence}`);
      t.regex(setattr?.evidence ?? '', /sched_setattr\(self, SCHED_OTHER with its nice value\) succeeded/);
    }
  } finally {
    await node.sh(`rm -f ${dropIn}; systemctl daemon-reload; systemctl restart qm.service`);
  }
  t.is(await waitForQm(node), 'running', 'QM runs again as setup installed it');
});
