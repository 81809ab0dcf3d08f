// The layout's file edge: only regular files are read, each up to a size limit, and reading never blocks.
import test from 'ava';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { loadLayout, MAX_LAYOUT_FILE_BYTES } from '../../controller/layout/index.ts';
import { makeFifo, makeSocket, within } from '../support/special-files.ts';

async function layoutDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qm-layout-files-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'layout.d'));
  return dir;
}

/** `file: message` of every error of loading `paths`, which must settle within 5 s. */
async function loadErrors(paths: string[]): Promise<string[]> {
  const result = await within(5000, `loadLayout(${paths.join(', ')})`, loadLayout(paths));
  return result.ok ? [] : result.errors.map((error) => `${error.position}${error.message}`);
}

const VALID = 'nodes:\n  a:\n    units:\n      x.service:\n';

test('a FIFO as layout.yaml is refused by name at once (reading it blocked for ever)', async (t) => {
  const dir = await layoutDir(t);
  makeFifo(t, join(dir, 'layout.yaml'));
  t.deepEqual(await loadErrors([dir]), [`${join(dir, 'layout.yaml')}: cannot read the layout: a FIFO (named pipe), not a regular file`]);
});

test('a FIFO as a drop-in is refused by name at once', async (t) => {
  const dir = await layoutDir(t);
  await writeFile(join(dir, 'layout.yaml'), VALID);
  makeFifo(t, join(dir, 'layout.d', '50-fleet.yaml'));
  t.deepEqual(await loadErrors([join(dir, 'layout.yaml')]), [
    `${join(dir, 'layout.d', '50-fleet.yaml')}: cannot read the layout: a FIFO (named pipe), not a regular file`,
  ]);
});

test('a character device or a socket as the layout is refused by name', async (t) => {
  t.deepEqual(await loadErrors(['/dev/null']), ['/dev/null: cannot read the layout: a character device, not a regular file']);
  const dir = await layoutDir(t);
  await makeSocket(t, join(dir, 'layout.yaml'));
  t.deepEqual(await loadErrors([dir]), [`${join(dir, 'layout.yaml')}: cannot read the layout: a socket, not a regular file`]);
});

test('a directory named like a drop-in is refused by name', async (t) => {
  const dir = await layoutDir(t);
  await writeFile(join(dir, 'layout.yaml'), VALID);
  await mkdir(join(dir, 'layout.d', '50-fleet.yaml'));
  t.deepEqual(await loadErrors([dir]), [`${join(dir, 'layout.d', '50-fleet.yaml')}: cannot read the layout: a directory, not a regular file`]);
});

test('a layout file over the size limit is refused with the limit named, without reading it', async (t) => {
  const dir = await layoutDir(t);
  t.is(MAX_LAYOUT_FILE_BYTES, 4 * 1024 * 1024);
  await writeFile(join(dir, 'layout.yaml'), '');
  await truncate(join(dir, 'layout.yaml'), MAX_LAYOUT_FILE_BYTES + 1); // sparse: instant, and all zero bytes
  t.deepEqual(await loadErrors([dir]), [
    `${join(dir, 'layout.yaml')}: cannot read the layout: it is 4194305 bytes, over the limit of 4194304 bytes (4 MiB) for one file`,
  ]);
});

test('invalid UTF-8 is named with its line and column, not shown as U+FFFD', async (t) => {
  const dir = await layoutDir(t);
  await writeFile(join(dir, 'layout.yaml'), Buffer.concat([Buffer.from('nodes:\n  a:\n    units:\n      x'), Buffer.from([0xff, 0xfe]), Buffer.from('.service:\n')]));
  t.deepEqual(await loadErrors([dir]), [`${join(dir, 'layout.yaml')}:4:8: the file is not UTF-8 text: byte 0xff cannot start a character`]);
});
