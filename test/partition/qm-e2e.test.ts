// End to end: a trixie vehicle node (systemd 257, podman 5.4 with quadlet) gets this project installed,
// runs `qmctl setup`, and the QM partition is checked on the real system, then removed without a trace.
import anyTest, { type TestFn } from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeMask, defaultCapabilities, qmCapabilities } from './capabilities.ts';
import { bootQmNode, installedProject, projectDir, setUpQm, waitForQm, type QmNode } from './qm-node.ts';

const test = anyTest as TestFn<{ node: QmNode; setupSeconds: number }>;
const nodeName = 'qm-e2e';
const qm = (node: QmNode, script: string) => node.sh(`podman exec qm sh -c '${script.replaceAll("'", "'\\''")}'`);

test.before(async (t) => {
  t.timeout(20 * 60_000, 'building the node and QM rootfs on a fresh machine');
  const node = await bootQmNode(nodeName);
  t.context.node = node;
  const setup = await setUpQm(node);
  t.context.setupSeconds = setup.seconds;
  t.log(`qmctl setup in ${setup.seconds.toFixed(1)} s\n${setup.stderr}`);
});

test.after.always(async (t) => {
  await t.context.node?.stop();
});

test.serial('quadlet turns qm.container into qm.service, also standalone with --dryrun', async (t) => {
  const { node } = t.context;
  const dryrun = await node.sh('/usr/lib/systemd/system-generators/podman-system-generator --dryrun');
  t.is(dryrun.code, 0, dryrun.stderr);
  t.regex(dryrun.stdout, /---qm\.service---/);
  t.regex(dryrun.stdout, /ExecStart=\/usr\/bin\/podman run --name qm .*--security-opt seccomp=\/usr\/share\/qm\/seccomp-no-rt\.json/);
  const source = await node.sh('systemctl show -P SourcePath qm.service; systemctl show -P ActiveState qm.service');
  t.deepEqual(source.stdout.trim().split('\n'), ['/usr/share/containers/systemd/qm.container', 'active']);
});

test.serial("QM's own systemd is running and its bluechi agent is named qm.<node>", async (t) => {
  const { node } = t.context;
  t.is((await qm(node, 'systemctl is-system-running')).stdout.trim(), 'running');
  const agent = await qm(node, 'cat /etc/bluechi/agent.conf');
  t.regex(agent.stdout, new RegExp(`^NodeName=qm\\.${nodeName}$`, 'm'));
  t.is((await node.sh('cat /etc/qm/bluechi/agent.conf')).stdout, agent.stdout, "QM's /etc/bluechi is /etc/qm/bluechi on the node");
});

test.serial('OOM scores: qm.service 500, QM init 500, a nested container 750', async (t) => {
  const { node } = t.context;
  t.is((await node.sh('systemctl show -P OOMScoreAdjust qm.service')).stdout.trim(), '500');
  const init = await node.sh('cat /proc/$(podman inspect --format "{{.State.Pid}}" qm)/oom_score_adj');
  t.is(init.stdout.trim(), '500');
  const nested = await node.qmctl(['exec', '--json', 'podman', 'run', '--rm', 'localhost/busybox', 'cat', '/proc/self/oom_score_adj']);
  t.is(nested.code, 0, nested.stderr);
  t.is((JSON.parse(nested.stdout) as { stdout: string }).stdout.trim(), '750');
  const started = await qm(node, 'podman run -d --name radio localhost/busybox sleep 600');
  t.is(started.code, 0, started.stderr);
  const execin = await node.qmctl(['execin', '--', 'radio', 'cat', '/proc/1/oom_score_adj']);
  t.is(execin.code, 0, execin.stderr);
  t.is(execin.stdout.trim(), '750');
  const missing = await node.qmctl(['execin', '--', 'nosuch', 'true']);
  t.not(missing.code, 0);
  t.regex(missing.stderr, /QM has no container named nosuch/);
});

test.serial('real-time scheduling is refused inside QM; OTHER, BATCH and IDLE are allowed', async (t) => {
  const { node } = t.context;
  // sched_setscheduler(0, policy, {priority}) directly: chrt uses sched_setattr, which QM denies for every policy.
  const script = 'for my $p (0, 3, 5, 1, 2) { my $param = pack("i", $p == 1 || $p == 2 ? 10 : 0); my $r = syscall(144, 0, $p, $param); print "$p:", ($r == 0 ? "ok" : "refused"), "\\n" }';
  const result = await qm(node, `perl -e '${script}'`);
  t.is(result.code, 0, result.stderr);
  t.deepEqual(result.stdout.trim().split('\n'), ['0:ok', '3:ok', '5:ok', '1:refused', '2:refused']);
  const chrt = await qm(node, 'chrt -f 10 true');
  t.not(chrt.code, 0);
  t.regex(chrt.stderr, /failed to set pid 0's policy/);
});

/** A capability mask (CapEff, CapBnd …) of a /proc/PID/status text, decoded. */
function capabilitiesIn(status: string, key: 'CapEff' | 'CapBnd'): string[] {
  const mask = new RegExp(`^${key}:\\s+([0-9a-f]+)$`, 'm').exec(status)?.[1];
  if (mask === undefined) throw new Error(`no ${key} in:\n${status}`);
  return decodeMask(mask);
}

const EPERM = '1';
const syscallNumbers = {
  x64: { settimeofday: 164, clock_gettime: 228, clock_settime: 227, init_module: 175, finit_module: 313, syslog: 103 },
  arm64: { settimeofday: 170, clock_gettime: 113, clock_settime: 112, init_module: 105, finit_module: 273, syslog: 116 },
}[process.arch as 'x64' | 'arm64'];

/** Runs perl statements in QM as root; each `$r = syscall(…)` prints `name=ok` or `name=ERRNO`. C-free: perl-base is in every Debian rootfs. */
async function syscallsInQm(node: QmNode, prelude: string, calls: Record<string, string>): Promise<Record<string, string>> {
  if (!syscallNumbers) throw new Error(`no syscall numbers for ${process.arch}`);
  const body = Object.entries(calls)
    .map(([name, call]) => `$r = ${call}; print "${name}=", ($r == -1 ? 0 + $! : "ok"), "\\n";`)
    .join(' ');
  const result = await qm(node, `perl -e 'my $r; ${prelude} ${body}'`);
  if (result.code !== 0) throw new Error(`perl in QM failed (${result.code}): ${result.stderr}`);
  return Object.fromEntries(result.stdout.trim().split('\n').map((line) => line.split('=') as [string, string]));
}

test.serial("QM's init holds exactly the capabilities measured as needed (CapEff and CapBnd)", async (t) => {
  const { node } = t.context;
  const status = (await node.sh('cat /proc/$(podman inspect --format "{{.State.Pid}}" qm)/status')).stdout;
  // The set test/partition/measure-capabilities.ts found QM's systemd and nested podman to need; README "QM's capabilities".
  t.deepEqual(capabilitiesIn(status, 'CapEff'), [...qmCapabilities]);
  t.deepEqual(capabilitiesIn(status, 'CapBnd'), [...qmCapabilities]);
});

test.serial("nested containers hold containers.conf's default capabilities, and even with --cap-add all nothing beyond QM's", async (t) => {
  const { node } = t.context;
  const wanted = defaultCapabilities(await readFile(join(projectDir, 'units/containers.conf'), 'utf8'));
  t.truthy(wanted, 'units/containers.conf states default_capabilities');
  const nested = await qm(node, 'podman run --rm localhost/busybox cat /proc/self/status');
  t.is(nested.code, 0, nested.stderr);
  t.deepEqual(capabilitiesIn(nested.stdout, 'CapBnd'), wanted);
  t.deepEqual(capabilitiesIn(nested.stdout, 'CapEff'), wanted);
  const asked = await qm(node, 'podman run --rm --cap-add all localhost/busybox cat /proc/self/status');
  t.is(asked.code, 0, asked.stderr);
  const beyond = capabilitiesIn(asked.stdout, 'CapBnd').filter((capability) => !(qmCapabilities as readonly string[]).includes(capability));
  t.deepEqual(beyond, [], 'a nested container asking for every capability gets none that QM lacks');
});

test.serial('QM root cannot set the clock: settimeofday and clock_settime fail with EPERM', async (t) => {
  const { node } = t.context;
  const n = syscallNumbers!;
  // settimeofday(NULL, NULL) only asks for CAP_SYS_TIME; clock_settime sets the time just read, should it be allowed.
  const result = await syscallsInQm(node, `my $ts = "\\0" x 16; syscall(${n.clock_gettime}, 0, $ts) == 0 or die "clock_gettime: $!";`, {
    settimeofday: `syscall(${n.settimeofday}, 0, 0)`,
    clock_settime: `syscall(${n.clock_settime}, 0, $ts)`,
  });
  t.deepEqual(result, { settimeofday: EPERM, clock_settime: EPERM });
});

test.serial('QM root cannot load kernel modules: init_module and finit_module fail with EPERM before the kernel is asked', async (t) => {
  const { node } = t.context;
  const n = syscallNumbers!;
  // On a kernel without module support (these machines) the kernel itself answers ENOSYS: EPERM is QM's own refusal.
  const result = await syscallsInQm(node, 'my $image = "\\0" x 64; my $params = ""; open(my $fh, "<", "/dev/null") or die;', {
    init_module: `syscall(${n.init_module}, $image, 64, $params)`,
    finit_module: `syscall(${n.finit_module}, fileno($fh), $params, 0)`,
  });
  t.deepEqual(result, { init_module: EPERM, finit_module: EPERM });
});

test.serial('the kernel log is closed to QM: no readable /dev/kmsg, not even one QM root makes, and syslog(2) refused', async (t) => {
  const { node } = t.context;
  const n = syscallNumbers!;
  const kmsg = await qm(
    node,
    'for f in /dev/kmsg /dev/qm-e2e-kmsg; do ' +
      '[ $f = /dev/kmsg ] || mknod $f c 1 11 2>/dev/null || { echo "$f=not made"; continue; }; ' +
      '[ -e $f ] || { echo "$f=absent"; continue; }; ' +
      'head -c 1 $f >/dev/null 2>&1 && echo "$f=readable" || echo "$f=refused"; done; rm -f /dev/qm-e2e-kmsg',
  );
  t.is(kmsg.code, 0, kmsg.stderr);
  t.log(kmsg.stdout.trim());
  t.notRegex(kmsg.stdout, /=readable/, kmsg.stdout);
  // SYSLOG_ACTION_READ_ALL (3): the host's kernel log.
  const result = await syscallsInQm(node, 'my $buf = "\\0" x 4096;', { syslog: `syscall(${n.syslog}, 3, $buf, 4096)` });
  t.deepEqual(result, { syslog: EPERM });
});

test.serial("QM's root is read-only; /etc and /var are /etc/qm and /var/qm and survive a restart", async (t) => {
  const { node } = t.context;
  const root = await qm(node, 'touch /usr/qm-e2e');
  t.not(root.code, 0);
  t.regex(root.stderr, /Read-only file system/);
  t.is((await qm(node, 'echo etc > /etc/qm-e2e && echo var > /var/qm-e2e')).code, 0);
  t.is((await node.sh('cat /etc/qm/qm-e2e /var/qm/qm-e2e')).stdout, 'etc\nvar\n');
  const restart = await node.sh('systemctl restart qm.service');
  t.is(restart.code, 0, restart.stderr);
  t.is(await waitForQm(node), 'running');
  t.is((await qm(node, 'cat /etc/qm-e2e /var/qm-e2e')).stdout, 'etc\nvar\n');
});

test.serial("qmctl wait: right after a restart it returns once QM's systemd answers 'running'; with qm.service stopped it says so at once", async (t) => {
  const { node } = t.context;
  // Restarted and asked at once, in one shell: the moment `qmctl exec systemctl` can fail to connect.
  const qmctl = `node ${installedProject}/dist/qmctl.cjs`;
  const restarted = await node.sh(`systemctl restart qm.service && ${qmctl} wait && ${qmctl} exec systemctl is-system-running`);
  t.is(restarted.code, 0, restarted.stderr);
  t.is(restarted.stdout, 'running\nrunning\n');
  const json = await node.qmctl(['wait', '--json']);
  t.is(json.code, 0, json.stderr);
  t.like(JSON.parse(json.stdout), { state: 'running', failed: [] });

  t.is((await node.sh('systemctl stop qm.service')).code, 0);
  try {
    const started = performance.now();
    const stopped = await node.qmctl(['wait', '--timeout', '60']);
    t.is(stopped.code, 1);
    t.is(stopped.stdout, 'offline\n');
    t.regex(stopped.stderr, /qm\.service is inactive on this host/);
    t.true(performance.now() - started < 30_000, 'it does not wait for a QM that is not starting');
  } finally {
    t.is((await node.sh('systemctl start qm.service')).code, 0);
    t.is(await waitForQm(node), 'running');
  }
});

test.serial('qmctl show and cp reach the running QM', async (t) => {
  const { node } = t.context;
  const shown = await node.qmctl(['show', 'all', '--json']);
  t.is(shown.code, 0, shown.stderr);
  const all = JSON.parse(shown.stdout) as Record<string, unknown>;
  const container = all.container as Array<{ path: string; sections: Record<string, Record<string, string[]>> }>;
  t.deepEqual(container[0]?.sections.Service?.OOMScoreAdjust, ['500']);
  t.true((all.namespaces as Array<{ type: string; own: boolean }>).some((ns) => ns.type === 'net' && ns.own));
  t.true((all['unix-domain-sockets'] as Array<{ local: string }>).some((socket) => socket.local.includes('/run/systemd/')));
  t.is((all.resources as { oomScoreAdj: number }).oomScoreAdj, 500);

  t.is((await node.sh('echo hello > /root/to-qm')).code, 0);
  const into = await node.qmctl(['cp', '--json', '/root/to-qm', 'qm:/var/tmp/to-qm']);
  t.is(into.code, 0, into.stderr);
  t.is((JSON.parse(into.stdout) as { direction: string }).direction, 'into-qm');
  t.is((await qm(node, 'cat /var/tmp/to-qm')).stdout, 'hello\n');
  const back = await node.qmctl(['cp', 'qm:/var/tmp/to-qm', '/root/from-qm']);
  t.is(back.code, 0, back.stderr);
  t.is((await node.sh('cat /root/from-qm')).stdout, 'hello\n');
  const bad = await node.qmctl(['cp', '/root/a', '/root/b']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /exactly one of SRC and DST must be inside QM/);
});

test.serial('running setup again changes nothing and QM runs again', async (t) => {
  const { node } = t.context;
  const again = await node.qmctl(['setup', '--json']);
  t.is(again.code, 0, again.stderr);
  const report = JSON.parse(again.stdout) as { rootfs: string; changed: string[]; qmState: string };
  t.is(report.rootfs, 'current');
  t.deepEqual(report.changed, []);
  t.is(report.qmState, 'running');
  t.is((await qm(node, 'cat /etc/qm-e2e')).stdout, 'etc\n', "QM's /etc is kept");
});

test.serial('setup --remove leaves no QM files, mounts or units behind', async (t) => {
  const { node } = t.context;
  const removed = await node.qmctl(['setup', '--remove']);
  t.is(removed.code, 0, removed.stderr);
  const left = await node.sh(
    'ls -d /usr/lib/qm /etc/qm /var/qm /usr/share/qm /usr/share/containers/systemd/qm.container* /etc/containers/systemd/qm.container.d 2>/dev/null; ' +
      'grep -h -e qmcontainers -e "^containers:" /etc/subuid /etc/subgid; awk \'$5 ~ "^(/usr/lib/qm|/etc/qm|/var/qm)(/|$)"\' /proc/self/mountinfo; podman ps -a --format "{{.Names}}"',
  );
  t.is(left.stdout.trim(), '');
  t.is((await node.sh('systemctl show -P LoadState qm.service')).stdout.trim(), 'not-found');
  const again = await node.qmctl(['setup', '--remove']);
  t.is(again.code, 0);
  t.regex(again.stderr, /Nothing to remove/);
});
