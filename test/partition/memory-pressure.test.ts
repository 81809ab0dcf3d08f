// Upstream's FFI "memory" check, under real memory pressure: the vehicle node is given a memory limit (on its own
// cgroup, which this fixture created below ours), an ASIL service holds memory on the node, and QM's work
// allocates until the node runs out. The kernel's OOM killer must pick QM's work (OOM scores 500 and 750) and
// leave the ASIL service and QM's own systemd running; the node gets its memory back when it does.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import type { CheckReport } from '../../controller/partition/check.ts';
import { bootQmNode, setUpQm, type QmNode } from './qm-node.ts';

const test = anyTest as TestFn<{ node: QmNode; memoryCgroup: string }>;

/** What QM's work may take before the node is out of memory: above what the node uses once QM is up. */
const HEADROOM = 384 * 1024 * 1024;
/** What the ASIL service holds, resident. */
const ASIL_BYTES = 64 * 1024 * 1024;

async function sh(node: QmNode, script: string): Promise<string> {
  const result = await node.sh(script);
  if (result.code !== 0) throw new Error(`${script}\nexit ${result.code}: ${result.stderr}`);
  return result.stdout.trim();
}

const usage = async (cgroup: string) => Number(await readFile(join(cgroup, 'memory.usage_in_bytes'), 'utf8'));

/**
 * OOM kills in `cgroup` and every cgroup below it. On cgroup v1 each memory cgroup counts only the kills of its
 * own tasks (and systemd cannot tell an OOM kill from another SIGKILL there), so the subtree is summed.
 */
async function oomKills(cgroup: string): Promise<number> {
  let kills = 0;
  const pending = [cgroup];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    const control = await readFile(join(dir, 'memory.oom_control'), 'utf8').catch(() => '');
    kills += Number(/oom_kill (\d+)/.exec(control)?.[1] ?? 0);
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) if (entry.isDirectory()) pending.push(join(dir, entry.name));
  }
  return kills;
}

test.before(async (t) => {
  t.timeout(20 * 60_000, 'building the node and QM rootfs on a fresh machine');
  const node = await bootQmNode('qm-memory');
  t.context.node = node;
  const memoryCgroup = node.cgroups.find((dir) => /\/memory(,[^/]*)?\//.test(dir));
  if (!memoryCgroup) throw new Error(`the node has no memory cgroup of its own: ${node.cgroups.join(', ')}`);
  t.context.memoryCgroup = memoryCgroup;
  // setUpQm also imports the busybox image the nested hog runs from.
  await setUpQm(node);
});

test.after.always(async (t) => {
  const { node, memoryCgroup } = t.context;
  if (memoryCgroup) await writeFile(join(memoryCgroup, 'memory.limit_in_bytes'), '-1').catch(() => undefined);
  await node?.stop();
});

for (const where of ['QM', 'a container nested in QM'] as const) {
  test.serial(`memory: under real memory pressure the OOM killer takes the work in ${where}; the ASIL service and QM's systemd survive`, async (t) => {
    const { node, memoryCgroup } = t.context;
    // The ASIL service: a node service like any other (OOMScoreAdjust 0 is what host services get), holding memory.
    // Type=exec: systemd-run returns once the service's process runs, so its MainPID is known.
    await sh(node, `systemctl stop asil-service 2>/dev/null; systemctl reset-failed asil-service 2>/dev/null; systemd-run --quiet -p Type=exec --unit asil-service node -e "const b = Buffer.alloc(${ASIL_BYTES}, 1); setInterval(() => b[0]++, 1000)"`);
    const asilPid = await sh(node, 'systemctl show -P MainPID asil-service');
    // Pressure starts once the service really holds its memory: its resident set, read until it does.
    await sh(node, `for i in $(seq 200); do [ "$(awk '/^VmRSS/ {print $2}' /proc/${asilPid}/status)" -ge ${ASIL_BYTES / 1024} ] && exit 0; sleep 0.05; done; exit 1`);
    const qmPid = await sh(node, "podman inspect --format '{{.State.Pid}}' qm");
    const before = await usage(memoryCgroup);
    const killsBefore = await oomKills(memoryCgroup);
    await writeFile(join(memoryCgroup, 'memory.limit_in_bytes'), String(before + HEADROOM));
    try {
      // `tail /dev/zero` never finds a line end and keeps everything it read: it allocates until it is killed.
      const hog =
        where === 'QM'
          ? 'podman exec qm systemd-run --quiet --unit qm-memory-hog tail /dev/zero'
          : 'podman exec qm podman run -d --rm --name qm-memory-hog --network none localhost/busybox sh -c "x=0123456789; while :; do x=\\$x\\$x; done"';
      const started = performance.now();
      await sh(node, hog);
      // The hog is gone when its unit is no longer active (QM) or its container no longer runs (nested).
      const gone =
        where === 'QM'
          ? 'for i in $(seq 600); do s=$(podman exec qm systemctl show -P ActiveState qm-memory-hog); [ "$s" != active ] && { podman exec qm systemctl show -P Result,ExecMainStatus qm-memory-hog | paste -sd " "; exit 0; }; sleep 0.1; done; exit 1'
          : 'for i in $(seq 600); do podman exec qm podman container exists qm-memory-hog || { echo gone; exit 0; }; sleep 0.1; done; exit 1';
      const result = await sh(node, gone);
      const killedMs = performance.now() - started;
      let back = await usage(memoryCgroup);
      while (back > before + HEADROOM / 4 && performance.now() - started < 30_000) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        back = await usage(memoryCgroup);
      }
      const backMs = performance.now() - started;
      const kills = (await oomKills(memoryCgroup)) - killsBefore;
      t.log(
        `${where}: the hog was ended in ${killedMs.toFixed(0)} ms (${result}); the node's memory was back within ${((backMs - killedMs) / 1000).toFixed(2)} s more ` +
          `(${(back / 1024 / 1024).toFixed(0)} MiB in use against ${(before / 1024 / 1024).toFixed(0)} MiB before, limit +${HEADROOM / 1024 / 1024} MiB); OOM kills in the node: ${kills}`,
      );
      t.true(kills >= 1, 'the kernel OOM-killed in the node');
      // systemd reports an OOM kill as such only on cgroup v2; on v1 it sees a SIGKILL (status 9).
      if (where === 'QM') t.regex(result, /^(oom-kill|signal) 9$/, "QM's systemd saw its unit killed");
      t.true(back <= before + HEADROOM / 4, `the node's memory came back: ${back} bytes in use`);
      t.is(await sh(node, 'systemctl is-active asil-service'), 'active', 'the ASIL service runs');
      t.is(await sh(node, 'systemctl show -P MainPID asil-service'), asilPid, 'the same ASIL process: it was never killed');
      t.is(await sh(node, "podman inspect --format '{{.State.Pid}}' qm"), qmPid, "QM's init was not killed");
      t.regex(await sh(node, 'podman exec qm systemctl is-system-running || true'), /^(running|degraded)$/, "QM's systemd still answers");
    } finally {
      await writeFile(join(memoryCgroup, 'memory.limit_in_bytes'), '-1');
      await node.sh('podman exec qm systemctl stop qm-memory-hog; podman exec qm systemctl reset-failed qm-memory-hog; podman exec qm podman rm -f -t 0 qm-memory-hog; systemctl stop asil-service; true');
    }
  });
}

test.serial('qmctl check --stress: memory passes from QM and from a nested container under real pressure, with its figures', async (t) => {
  const { node, memoryCgroup } = t.context;
  const before = await usage(memoryCgroup);
  // Room for the check's own ASIL stand-in (64 MiB) and then for the hog, which the OOM killer must end.
  await writeFile(join(memoryCgroup, 'memory.limit_in_bytes'), String(before + HEADROOM));
  try {
    const result = await node.qmctl(['check', '--stress', '--json']);
    const report = JSON.parse(result.stdout) as CheckReport;
    for (const from of ['qm', 'nested'] as const) {
      const memory = report.checks.find((check) => check.name === 'memory' && check.from === from);
      t.log(`memory (${from}): ${memory?.status}: ${memory?.evidence} ${JSON.stringify(memory?.figures)}`);
      t.is(memory?.status, 'pass', `memory from ${from}: ${memory?.evidence}`);
    }
    for (const name of ['fork_bomb', 'disk']) t.is(report.checks.find((check) => check.name === name)?.status, 'not-applicable', name);
    t.is(result.code, 0, result.stderr);
  } finally {
    await writeFile(join(memoryCgroup, 'memory.limit_in_bytes'), '-1');
  }
});
