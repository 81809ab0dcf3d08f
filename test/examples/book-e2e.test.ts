// The book's and the examples' `sh runnable node` blocks, run in order per file on one vehicle node with this
// project installed (test/examples/node-blocks.ts: the setting), their shown output compared as the host blocks'
// are (test/docs/runnable.test.ts). The files run in the book's order: getting-started.md sets QM up, the chapters
// and the examples then use it. Then what a block cannot show alike on every host: the limits read back from the
// kernel's cgroup files.
import anyTest, { type TestFn } from 'ava';
import { collectBlocks, outputMatches, type RunnableBlock } from '../docs/blocks.ts';
import { bootQmNode, importBusybox, projectDir, waitForQm, type QmNode } from '../partition/qm-node.ts';
import { allowNestedQuadlets, nodeShell, ownVehicleBlocks, prepareNodeForBlocks } from './node-blocks.ts';

const test = anyTest as TestFn<{ node: QmNode }>;

const { blocks } = await collectBlocks(projectDir);
const byFile = new Map<string, RunnableBlock[]>();
for (const block of blocks.filter((block) => block.where === 'node' && !ownVehicleBlocks.has(block.file))) byFile.set(block.file, [...(byFile.get(block.file) ?? []), block]);
/** getting-started.md first: its blocks run `qmctl setup`, which every other file's blocks need. */
const first = 'docs/getting-started.md';
const files = [...byFile.keys()].sort((a, b) => Number(b === first) - Number(a === first));

test.before(async (t) => {
  t.timeout(20 * 60_000, 'building the node, QM and image rootfs on a fresh machine');
  // socat: the examples' ASIL service on the node.
  const node = await bootQmNode('qm-book', ['socat']);
  t.context.node = node;
  await prepareNodeForBlocks(node);
});

test.after.always(async (t) => {
  await t.context.node?.stop();
});

test.serial('getting-started.md comes first: its blocks set QM up', (t) => {
  t.is(files[0], first);
  t.true(byFile.get(first)!.some((block) => /^qmctl setup$/m.test(block.code)));
});

for (const file of files) {
  test.serial(`${file}: its node blocks run on a vehicle node and print what they show`, async (t) => {
    t.timeout(15 * 60_000);
    const { node } = t.context;
    const shell = await nodeShell(node, file);
    for (const block of byFile.get(file)!) {
      const where = `${file}:${block.line}`;
      const started = performance.now();
      const run = await shell.run(block.code);
      t.log(`${where}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
      if (run.code !== 0) {
        t.fail(`${where}: the block ${run.timedOut ? 'timed out' : `exited ${run.code}`}; it printed:\n${run.output}`);
        continue;
      }
      if (block.output && !outputMatches(block.output.text, run.output))
        t.fail(`${where}: the output shown at line ${block.output.line} is not what it printed.\nShown:\n${block.output.text}\nPrinted:\n${run.output}`);
      else t.pass();
      // The test machine's part, once QM is there: the busybox image and nested containers without cgroups (v1).
      if (/^qmctl setup$/m.test(block.code)) {
        await importBusybox(node);
        await allowNestedQuadlets(node);
      }
    }
  });
}

/** A cgroup file of QM's container, v2 or v1, read on the node: QM init's cgroup for that controller. */
async function qmCgroupFile(node: QmNode, v2: string, v1: { controller: string; file: string }): Promise<string> {
  const script = `pid=$(podman inspect --format '{{.State.Pid}}' qm)
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then cat /sys/fs/cgroup$(sed -n 's/^0:://p' /proc/$pid/cgroup)/${v2}
else cat /sys/fs/cgroup/${v1.controller}$(awk -F: '$2 == "${v1.controller}" {print $3}' /proc/$pid/cgroup)/${v1.file}; fi`;
  const result = await node.sh(script);
  if (result.code !== 0) throw new Error(`reading QM's ${v2} failed: ${result.stderr}`);
  return result.stdout.trim();
}

test.serial("examples/resource-limits: QM's memory and CPU limits are in its cgroup, and back to none without the drop-in", async (t) => {
  const { node } = t.context;
  const restart = async () => {
    const done = await node.sh('systemctl daemon-reload && systemctl restart qm.service');
    t.is(done.code, 0, done.stderr);
    t.is(await waitForQm(node), 'running');
  };
  const read = async () => ({
    memory: await qmCgroupFile(node, 'memory.max', { controller: 'memory', file: 'memory.limit_in_bytes' }),
    cpu: await qmCgroupFile(node, 'cpu.max', { controller: 'cpu', file: 'cpu.cfs_quota_us' }),
  });
  const before = await read();
  t.is((await node.sh('cp /opt/qm/examples/resource-limits/qm.container.d/60-limits.conf /etc/containers/systemd/qm.container.d/')).code, 0);
  await restart();
  const capped = await read();
  t.deepEqual(capped, { memory: String(1024 ** 3), cpu: capped.cpu.includes(' ') ? '150000 100000' : '150000' });
  t.is((await node.sh('rm /etc/containers/systemd/qm.container.d/60-limits.conf')).code, 0);
  await restart();
  t.deepEqual(await read(), before);
  t.notDeepEqual(before, capped);
});
