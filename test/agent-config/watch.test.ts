// End to end without systemd: the host file changes, the QM file follows (`apply --watch`), and a bad
// edit leaves the QM file as it was until it is fixed.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { watchAgentConfig } from '../../agent-config/watch.ts';
import { PACKAGED_DEFAULT_TEXT, tempTree, until } from './helpers.ts';


test('watchAgentConfig: runs after changes to agent.conf and to a drop-in directory created later', async (t) => {
  const root = await tempTree(t, { 'agent.conf': '' });
  const abort = new AbortController();
  let runs = 0;
  // The watch is in place once watchAgentConfig returns.
  const done = watchAgentConfig(root, async () => void runs++, { debounceMs: 50, signal: abort.signal });
  await writeFile(join(root, 'agent.conf'), '[bluechi-agent]\n');
  await until('a run after agent.conf changed', async () => (runs >= 1 ? true : undefined));
  await mkdir(join(root, 'agent.conf.d'));
  // That run came after the directory's event, which armed the drop-in watch.
  const afterMkdir = await until('a run after agent.conf.d appeared', async () => (runs >= 2 ? runs : undefined));
  await writeFile(join(root, 'agent.conf.d', '50-x.conf'), '[bluechi-agent]\nLogLevel=DEBUG\n');
  await until('a run after a drop-in was written', async () => (runs > afterMkdir ? true : undefined));
  abort.abort();
  await done;
  t.pass();
});

test('watchAgentConfig: a burst of writes is one run', async (t) => {
  const root = await tempTree(t, { 'agent.conf': '' });
  const abort = new AbortController();
  const file = join(root, 'agent.conf');
  const seen: string[] = [];
  const done = watchAgentConfig(root, async () => void seen.push(await readFile(file, 'utf8')), { debounceMs: 200, signal: abort.signal });
  for (let i = 0; i < 10; i++) await writeFile(file, `# ${i}\n`);
  await until('the run after the burst', async () => (seen.length >= 1 ? true : undefined));
  // A later write is the marker: any further run of the burst would stand before its run.
  await writeFile(file, '# marker\n');
  await until('the run after the marker', async () => (seen.includes('# marker\n') ? true : undefined));
  abort.abort();
  await done;
  t.deepEqual(seen, ['# 9\n', '# marker\n']);
});

test('watchAgentConfig with runAtStart: runs once at start, then on changes', async (t) => {
  const root = await tempTree(t, { 'agent.conf': '# start\n' });
  const abort = new AbortController();
  const file = join(root, 'agent.conf');
  const seen: string[] = [];
  const done = watchAgentConfig(root, async () => void seen.push(await readFile(file, 'utf8')), { debounceMs: 50, signal: abort.signal, runAtStart: true });
  await writeFile(file, '# changed at once\n');
  await until('the change to be seen', async () => (seen.at(-1) === '# changed at once\n' ? true : undefined));
  abort.abort();
  await done;
  t.true(seen.length >= 1 && seen.length <= 2, seen.join(''));
});

const QMCTL = fileURLToPath(new URL('../../controller/cli/qmctl.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

test('qmctl agent-config apply --watch: the QM file follows the host file', async (t) => {
  const root = await tempTree(t, {
    'host/agent.conf': '[bluechi-agent]\nNodeName=vehicle-a\n',
    'share/agent.conf': PACKAGED_DEFAULT_TEXT,
    'rootfs/usr/share/bluechi-agent/config/agent.conf': PACKAGED_DEFAULT_TEXT,
    'etc-qm/.keep': '',
  });
  const target = join(root, 'etc-qm/bluechi/agent.conf');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', QMCTL, 'agent-config', 'apply', '--watch', '--no-restart', '--debounce', '50',
      '--host-config-dir', join(root, 'host'), '--packaged-default', join(root, 'share/agent.conf'),
      '--rootfs', join(root, 'rootfs'), '--rwetcfs', join(root, 'etc-qm')],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => child.kill('SIGKILL'));
  const nodeName = async () => /^NodeName=(.*)$/m.exec(await readFile(target, 'utf8').catch(() => ''))?.[1];

  // The first apply runs once the watch is in place.
  t.is(await until('the first apply', nodeName), 'qm.vehicle-a');
  await writeFile(join(root, 'host/agent.conf'), '[bluechi-agent]\nNodeName=vehicle-b\n');
  t.is(await until('the QM file to follow', async () => ((await nodeName()) === 'qm.vehicle-b' ? 'qm.vehicle-b' : undefined)), 'qm.vehicle-b');

  // A drop-in directory created after start, with a bad value: reported, QM file untouched.
  // Written at once: whether its own event or the directory's arrives first, the run reads the directory.
  await mkdir(join(root, 'host/agent.conf.d'));
  await writeFile(join(root, 'host/agent.conf.d/10-bad.conf'), '[bluechi-agent]\nControllerPort=99999\n');
  await until('the error to be reported', async () => (/10-bad\.conf:2: ControllerPort: 99999 is outside 1–65535 \(nothing written; still watching\)/.test(stderr) ? true : undefined));
  t.is(await nodeName(), 'qm.vehicle-b');

  // The fix is picked up.
  await writeFile(join(root, 'host/agent.conf.d/10-bad.conf'), '[bluechi-agent]\nControllerPort=8420\nNodeName=vehicle-c\n');
  t.is(await until('the fix to apply', async () => ((await nodeName()) === 'qm.vehicle-c' ? 'ok' : undefined)), 'ok');
  await rm(join(root, 'host/agent.conf.d/10-bad.conf'));
  t.is(await until('the removal to apply', async () => ((await nodeName()) === 'qm.vehicle-b' ? 'ok' : undefined)), 'ok');

  child.kill('SIGTERM');
  t.is(await exited, 0, stderr);
  t.regex(stdout, /changed NodeName: "qm\.vehicle-a" → "qm\.vehicle-b"/);
  t.regex(await readFile(`${target}.prev`, 'utf8'), /NodeName=qm\.vehicle-c/);
});
