// Small helpers for the agent-config tests: settings as plain objects, temp directories.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { parseIni } from '../../agent-config/ini.ts';
import { fileSettings, type Settings } from '../../agent-config/merge.ts';

/** Section → key → value (null for "no value"), as BlueChi holds one file. */
export function valuesOf(settings: Settings): Record<string, Record<string, string | null>> {
  return Object.fromEntries([...settings].map(([name, keys]) => [name, Object.fromEntries([...keys].map(([key, setting]) => [key, setting.value]))]));
}

export function parsed(text: string | Uint8Array): Record<string, Record<string, string | null>> {
  return valuesOf(fileSettings(parseIni(text, 'test.conf')));
}

/** A fresh directory removed after the test; `files` maps relative paths to contents. */
export async function tempTree(t: ExecutionContext, files: Record<string, string | Uint8Array> = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'qm-agent-config-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await writeTree(root, files);
  return root;
}

export async function writeTree(root: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/** The packaged default bluechi-agent ships: every key commented out. */
export const PACKAGED_DEFAULT_TEXT = `# This is the configuration file for bluechi-agent.
[bluechi-agent]
#NodeName=
#ControllerHost=
#ControllerPort=842
#HeartbeatInterval=2000
#LogLevel=INFO
`;

/** Polls `probe` until it returns something other than undefined. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
