// QM's costs on a real vehicle node: boot (start qm.service → QM's systemd running) against a bare
// `podman run --rootfs` of the same rootfs, a nested container start against the same on the node, and
// QM's idle memory. Boots its own node (test/partition/qm-node.ts) and removes it afterwards.
import { bootQmNode, importBusybox, type QmNode } from '../test/partition/qm-node.ts';
import { median, report } from './measure.ts';

const rounds = 5;

// Timed inside the node, so nsenter's own start-up is not counted; both sides poll the same way.
const bootScript = (start: string, container: string) => `set -e
t0=$(date +%s%N)
${start}
while :; do
  s=$(podman exec ${container} systemctl is-system-running 2>/dev/null || true)
  case "$s" in running|degraded) break;; esac
done
t1=$(date +%s%N)
echo $(( (t1 - t0) / 1000 ))`;

async function micros(node: QmNode, script: string): Promise<number> {
  const result = await node.sh(script, 180_000);
  if (result.code !== 0) throw new Error(`bench step failed (${result.code}): ${result.stderr}\n${script}`);
  return Number(result.stdout.trim().split('\n').pop()) / 1000;
}

export async function qmPartition(): Promise<void> {
  const node = await bootQmNode('qm-bench');
  try {
    const setup = await node.qmctl(['setup']);
    if (setup.code !== 0) throw new Error(`qmctl setup failed: ${setup.stderr}`);
    await importBusybox(node);
    await node.sh('podman import -q /var/qm/tmp/busybox.tar localhost/busybox >/dev/null');

    const qmBoot: number[] = [];
    const bareBoot: number[] = [];
    const nestedStart: number[] = [];
    const nodeStart: number[] = [];
    for (let round = 0; round < rounds; round++) {
      await node.sh('systemctl stop qm.service');
      qmBoot.push(await micros(node, bootScript('systemctl start qm.service', 'qm')));
      // The same rootfs through an overlay (:O), so the bare container cannot change QM's files.
      bareBoot.push(await micros(node, bootScript('podman run -d --replace --name bare --rootfs /usr/lib/qm/rootfs:O /sbin/init >/dev/null', 'bare')));
      await node.sh('podman rm -f -t 0 bare >/dev/null');
      const run = 't0=$(date +%s%N); podman run --rm --network host localhost/busybox true; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000 ))';
      nestedStart.push(await micros(node, `podman exec qm sh -c '${run}'`));
      nodeStart.push(await micros(node, run));
    }
    report('qm boot (start qm.service → QM systemd running) / bare podman run --rootfs /sbin/init', median(qmBoot), median(bareBoot), '≤ 1.3');
    report('nested container start inside QM / the same on the node', median(nestedStart), median(nodeStart), '≤ 1.3');

    const memory = await node.sh(`systemctl show -P MemoryCurrent qm.service
pid=$(podman inspect --format '{{.State.Pid}}' qm)
cg=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/$pid/cgroup)
cat /sys/fs/cgroup/memory$cg/memory.usage_in_bytes 2>/dev/null || true`);
    const [systemdValue = '', cgroupValue = ''] = memory.stdout.trim().split('\n');
    const bytes = /^\d+$/.test(systemdValue) ? Number(systemdValue) : Number(cgroupValue);
    console.log(
      `qm idle memory after boot: ${(bytes / 1024 / 1024).toFixed(1)} MiB (${/^\d+$/.test(systemdValue) ? 'qm.service MemoryCurrent' : "the QM container's memory cgroup; MemoryCurrent is not set on cgroup v1"})`,
    );
  } finally {
    await node.sh('podman rm -f -t 0 bare >/dev/null 2>&1; true').catch(() => undefined);
    await node.stop();
  }
}
