// The code caches of the bundled executables are used only when root made them for the very code they run.
import test from 'ava';
import { createHash } from 'node:crypto';
import { chmod, chown, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCodeCache, writeCodeCache } from '../../controller/bundle/code-cache.ts';
import { qmctlBin } from '../support/qmctl.ts';

const NOBODY = 65534;
const hash = createHash('sha256').update('source').digest('hex');
const data = Buffer.from('compiled code');
const asRoot = process.geteuid?.() === 0 ? test : test.skip;

async function cacheDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qm-code-cache-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

asRoot("root's cache for the same source is read back", async (t) => {
  const file = join(await cacheDir(t), 'qmctl-dbus-next.v8');
  t.true(writeCodeCache(file, hash, data));
  t.deepEqual(readCodeCache(file, hash), data);
  t.is((await stat(file)).mode & 0o777, 0o644);
});

asRoot('a cache made from another source is ignored', async (t) => {
  const file = join(await cacheDir(t), 'qmctl-dbus-next.v8');
  writeCodeCache(file, hash, data);
  t.is(readCodeCache(file, createHash('sha256').update('other source').digest('hex')), undefined);
});

asRoot('a cache not owned by root is ignored', async (t) => {
  const file = join(await cacheDir(t), 'qmctl-dbus-next.v8');
  writeCodeCache(file, hash, data);
  await chown(file, NOBODY, NOBODY);
  t.is(readCodeCache(file, hash), undefined);
});

for (const mode of [0o664, 0o646, 0o666]) {
  asRoot(`a cache of mode ${mode.toString(8)} (writable by others than root) is ignored`, async (t) => {
    const file = join(await cacheDir(t), 'qmctl-dbus-next.v8');
    writeCodeCache(file, hash, data);
    await chmod(file, mode);
    t.is(readCodeCache(file, hash), undefined);
  });
}

asRoot("a symbolic link to root's cache is ignored", async (t) => {
  const dir = await cacheDir(t);
  writeCodeCache(join(dir, 'real.v8'), hash, data);
  await symlink(join(dir, 'real.v8'), join(dir, 'qmctl-dbus-next.v8'));
  t.is(readCodeCache(join(dir, 'qmctl-dbus-next.v8'), hash), undefined);
});

asRoot('root writes no cache where the directory does not exist: only make install and the packages make it', async (t) => {
  const dir = join(await cacheDir(t), 'code-cache');
  t.false(writeCodeCache(join(dir, 'qmctl-dbus-next.v8'), hash, data));
  await t.throwsAsync(stat(dir), { code: 'ENOENT' });
});

test('a missing cache is ignored', (t) => {
  t.is(readCodeCache('/nonexistent/qmctl-dbus-next.v8', hash), undefined);
});

asRoot('root does not write a cache into a directory others may write', async (t) => {
  const dir = await cacheDir(t);
  await chmod(dir, 0o777);
  t.false(writeCodeCache(join(dir, 'qmctl-dbus-next.v8'), hash, data));
  await chmod(dir, 0o755);
  await chown(dir, NOBODY, NOBODY);
  t.false(writeCodeCache(join(dir, 'qmctl-dbus-next.v8'), hash, data));
  t.deepEqual(await readdir(dir), []);
});

asRoot('the built qmctl writes its cache as root, uses it, and runs unharmed past a planted or stale one', async (t) => {
  const dir = await cacheDir(t);
  const run = () => qmctlBin(['--bus-address', 'unix:path=/nonexistent/bus', 'list-nodes'], { QM_CODE_CACHE_DIR: dir });
  const first = await run();
  t.is(first.code, 3, first.stderr);
  const file = join(dir, 'qmctl-dbus-next.v8');
  const written = await readFile(file);
  t.regex(written.toString('latin1', 0, 81), /^qm-code-cache 1\n[0-9a-f]{64}\n/);
  t.is((await run()).code, 3);
  t.deepEqual(await readFile(file), written, 'a valid cache is used, not written again');
  // The program's cache is the command's own: another command makes its own, from what that command compiled.
  t.true((await stat(join(dir, 'qmctl.list-nodes.v8'))).size > 1000);
  t.is((await qmctlBin(['version'], { QM_CODE_CACHE_DIR: dir })).code, 0);
  t.true((await stat(join(dir, 'qmctl.version.v8'))).size < (await stat(join(dir, 'qmctl.list-nodes.v8'))).size);

  // Root's header with a body V8 rejects (as after a Node upgrade): ignored, and root writes a good one.
  await writeFile(file, Buffer.concat([written.subarray(0, 81), Buffer.from('not code')]));
  t.is((await run()).code, 3);
  const rewritten = await readFile(file);
  t.deepEqual(rewritten.subarray(0, 81), written.subarray(0, 81));
  t.true(rewritten.length > 1000);

  // Planted by another user: ignored and left alone.
  await writeFile(file, Buffer.concat([written.subarray(0, 81), Buffer.from('not code')]));
  await chown(file, NOBODY, NOBODY);
  const planted = await run();
  t.is(planted.code, 3, planted.stderr);
  t.regex(planted.stderr, /cannot reach the D-Bus bus/);
});
