// The file edge: what is read, in which order, and how the QM file is replaced.
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { agentFiles, loadAgentFiles, MAX_AGENT_FILE_BYTES, writeFileAtomically } from '../../agent-config/files.ts';
import { QmError } from '../../controller/errors.ts';
import { makeFifo, within } from '../support/special-files.ts';
import { tempTree } from './helpers.ts';

test('load order: packaged default, agent.conf, then *.conf drop-ins in byte order (hidden ones too)', async (t) => {
  const root = await tempTree(t, {
    'share/agent.conf': '[bluechi-agent]\n',
    'etc/agent.conf': '[bluechi-agent]\n',
    'etc/agent.conf.d/b.conf': '',
    'etc/agent.conf.d/B.conf': '',
    'etc/agent.conf.d/10-a.conf': '',
    'etc/agent.conf.d/9-z.conf': '',
    'etc/agent.conf.d/.hidden.conf': '',
    'etc/agent.conf.d/.conf': '',
    'etc/agent.conf.d/README.md': 'not read',
    'etc/agent.conf.d/x.conf.rpmsave': 'not read',
    'etc/agent.conf.d/x.CONF': 'not read',
  });
  const loaded = await loadAgentFiles(agentFiles(join(root, 'share/agent.conf'), join(root, 'etc')));
  t.deepEqual(
    loaded.files.map((file) => file.file.slice(root.length + 1)),
    [
      'share/agent.conf',
      'etc/agent.conf',
      'etc/agent.conf.d/.conf',
      'etc/agent.conf.d/.hidden.conf',
      'etc/agent.conf.d/10-a.conf',
      'etc/agent.conf.d/9-z.conf',
      'etc/agent.conf.d/B.conf',
      'etc/agent.conf.d/b.conf',
    ],
  );
  t.deepEqual(loaded.diagnostics, []);
});

test('a missing agent.conf and drop-in directory are fine; a missing packaged default is a warning', async (t) => {
  const root = await tempTree(t);
  const loaded = await loadAgentFiles(agentFiles(join(root, 'share/agent.conf'), join(root, 'etc')));
  t.deepEqual(loaded.files, []);
  t.like(loaded.diagnostics[0], { severity: 'warning', file: join(root, 'share/agent.conf') });
});

test('a directory named *.conf is skipped with a warning; a broken symlink is an io error', async (t) => {
  const root = await tempTree(t, { 'etc/agent.conf.d/ok.conf': '' });
  await mkdir(join(root, 'etc/agent.conf.d/dir.conf'));
  const loaded = await loadAgentFiles(agentFiles(join(root, 'none'), join(root, 'etc')));
  t.true(loaded.diagnostics.some((d) => d.file.endsWith('dir.conf') && /directory/.test(d.message)));
  await symlink(join(root, 'nowhere'), join(root, 'etc/agent.conf.d/zz.conf'));
  const error = await t.throwsAsync(loadAgentFiles(agentFiles(join(root, 'none'), join(root, 'etc'))), { instanceOf: QmError });
  t.is(error.code, 'io');
  t.is(error.origin.file, join(root, 'etc/agent.conf.d/zz.conf'));
  t.is(`${error.position}${error.message}`, `${join(root, 'etc/agent.conf.d/zz.conf')}: cannot read this drop-in (bluechi-agent would refuse to start): no such file or directory`);
});

for (const [what, path] of [
  ['the packaged default', 'share/agent.conf'],
  ['agent.conf', 'etc/agent.conf'],
  ['a drop-in', 'etc/agent.conf.d/50-qm.conf'],
] as const) {
  test(`a FIFO as ${what} is refused by name at once (reading it blocked for ever)`, async (t) => {
    const root = await tempTree(t, { 'share/agent.conf': '[bluechi-agent]\n', 'etc/agent.conf.d/.keep': '' });
    await rm(join(root, path), { force: true });
    makeFifo(t, join(root, path));
    const loading = loadAgentFiles(agentFiles(join(root, 'share/agent.conf'), join(root, 'etc')));
    const error = await t.throwsAsync(within(5000, `loading with a FIFO as ${what}`, loading), { instanceOf: QmError });
    t.is(error.code, 'io');
    t.is(error.origin.file, join(root, path));
    t.regex(error.message, /^cannot read.*: a FIFO \(named pipe\), not a regular file$/);
  });
}

test('an agent file over the size limit is refused naming the limit', async (t) => {
  const root = await tempTree(t, { 'etc/agent.conf': '' });
  t.is(MAX_AGENT_FILE_BYTES, 1024 * 1024);
  await truncate(join(root, 'etc/agent.conf'), MAX_AGENT_FILE_BYTES + 1);
  const error = await t.throwsAsync(loadAgentFiles(agentFiles(join(root, 'none'), join(root, 'etc'))), { instanceOf: QmError });
  t.is(`${error.position}${error.message}`, `${join(root, 'etc/agent.conf')}: cannot read: it is 1048577 bytes, over the limit of 1048576 bytes (1 MiB) for one file`);
});

test('an agent.conf that is a directory, or a drop-in dir that is a file, is an io error naming it', async (t) => {
  const root = await tempTree(t, { 'etc/agent.conf.d': 'a file' });
  await mkdir(join(root, 'etc/agent.conf'));
  const error = await t.throwsAsync(loadAgentFiles(agentFiles(join(root, 'none'), join(root, 'etc'))), { instanceOf: QmError });
  t.is(error.origin.file, join(root, 'etc/agent.conf'));
  t.is(error.message, 'cannot read: a directory, not a regular file');
});

test('atomic write: new content, previous kept as .prev, mode kept, no temp files left', async (t) => {
  const root = await tempTree(t, { 'agent.conf': 'old\n' });
  const path = join(root, 'agent.conf');
  await chmod(path, 0o640);
  const result = await writeFileAtomically(path, 'new\n');
  t.is(await readFile(path, 'utf8'), 'new\n');
  t.is(result.previous, `${path}.prev`);
  t.is(await readFile(`${path}.prev`, 'utf8'), 'old\n');
  t.is((await stat(path)).mode & 0o777, 0o640);
  t.deepEqual((await readdir(root)).sort(), ['agent.conf', 'agent.conf.prev']);
  // A first write has no previous version.
  t.deepEqual(await writeFileAtomically(join(root, 'fresh.conf'), 'x'), {});
  t.is((await stat(join(root, 'fresh.conf'))).mode & 0o777, 0o644);
});

test('atomic write into a missing directory fails with an io error and leaves nothing behind', async (t) => {
  const root = await tempTree(t);
  const error = await t.throwsAsync(writeFileAtomically(join(root, 'missing/agent.conf'), 'x'), { instanceOf: QmError });
  t.is(error.code, 'io');
  t.is(`${error.position}${error.message}`, `${join(root, 'missing/agent.conf')}: cannot write: no such file or directory`);
  t.deepEqual(await readdir(root), []);
});

test('atomic write refuses to replace a directory', async (t) => {
  const root = await tempTree(t);
  await mkdir(join(root, 'agent.conf'));
  await t.throwsAsync(writeFileAtomically(join(root, 'agent.conf'), 'x'), { instanceOf: QmError, message: /not a regular file/ });
});

const canMount = spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs -o ro tmpfs /mnt'], { stdio: 'ignore' }).status === 0;

test('on a read-only file system the write fails with a clear error and the old file is untouched', async (t) => {
  if (!canMount) return t.fail('needs root and mount namespaces (unshare -m)');
  const root = await tempTree(t, { 'qm/agent.conf': 'old\n' });
  await writeFile(join(root, 'script.mts'), `
import { writeFileAtomically } from ${JSON.stringify(new URL('../../agent-config/files.ts', import.meta.url).pathname)};
try { await writeFileAtomically(process.argv[2], 'new\\n'); console.log('written'); }
catch (error) { console.log(error.code, error.position + error.message); }
`);
  const dir = join(root, 'qm');
  const result = spawnSync(
    'unshare',
    ['-m', 'sh', '-c', `mount --bind ${dir} ${dir} && mount -o remount,bind,ro ${dir} && ${process.execPath} --import tsx ${join(root, 'script.mts')} ${join(dir, 'agent.conf')}`],
    { encoding: 'utf8', cwd: new URL('../..', import.meta.url).pathname },
  );
  t.is(result.status, 0, result.stderr);
  t.regex(result.stdout, /^io .*agent\.conf: cannot write: read-only file system/);
  t.is(await readFile(join(dir, 'agent.conf'), 'utf8'), 'old\n');
  t.deepEqual(await readdir(dir), ['agent.conf']);
});
