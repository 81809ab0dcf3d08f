// `qmctl show TOPIC`: what QM is configured with and what it has, each topic a plain data value.
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { QmError } from '../errors.ts';
import { execInQm, requireQmRunning } from './container.ts';
import { adminDropInDir, qmContainer, quadletFile, vendorDropInDir } from './paths.ts';
import { run } from './process.ts';

export const showTopics = ['container', 'unix-domain-sockets', 'shared-memory', 'resources', 'available-devices', 'namespaces', 'all'] as const;
export type ShowTopic = (typeof showTopics)[number];

export function parseTopic(value: string | undefined): ShowTopic {
  const topic = value ?? 'container';
  if (!(showTopics as readonly string[]).includes(topic)) {
    throw new QmError('usage', `unknown topic ${JSON.stringify(topic)}; one of: ${showTopics.join(', ')}`);
  }
  return topic as ShowTopic;
}

export interface UnitFileView {
  readonly path: string;
  readonly text: string;
  /** Section → key → values (a key may repeat, e.g. Volume=). */
  readonly sections: Record<string, Record<string, string[]>>;
}

/** A systemd-style unit file as sections of repeated keys; comments and blank lines dropped. */
export function parseUnitFile(text: string): Record<string, Record<string, string[]>> {
  const sections: Record<string, Record<string, string[]>> = {};
  let current: Record<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = sections[header[1]!] ??= {};
      continue;
    }
    const equals = line.indexOf('=');
    if (!current || equals < 0) continue;
    (current[line.slice(0, equals).trim()] ??= []).push(line.slice(equals + 1).trim());
  }
  return sections;
}

/** qm.container and its drop-ins in the order quadlet applies them. */
export async function containerConfig(): Promise<UnitFileView[]> {
  const text = await readFile(quadletFile, 'utf8').catch(() => undefined);
  if (text === undefined) throw new QmError('io', 'not installed; run qmctl setup', { file: quadletFile });
  const dropIns: string[] = [];
  const byName = new Map<string, string>();
  for (const dir of [vendorDropInDir, adminDropInDir]) {
    for (const name of (await readdir(dir).catch(() => [] as string[])).filter((entry) => entry.endsWith('.conf'))) byName.set(name, join(dir, name));
  }
  for (const name of [...byName.keys()].sort()) dropIns.push(byName.get(name)!);
  const files = [{ path: quadletFile, text }];
  for (const path of dropIns) files.push({ path, text: await readFile(path, 'utf8') });
  return files.map((file) => ({ ...file, sections: parseUnitFile(file.text) }));
}

export interface Socket {
  readonly state: string;
  readonly recvQ: number;
  readonly sendQ: number;
  readonly local: string;
  readonly peer: string;
}

/** `ss -xlH` rows (listening UNIX sockets). */
export function parseSs(text: string): Socket[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 6)
    .map(([, state, recvQ, sendQ, local, , peer]) => ({ state: state!, recvQ: Number(recvQ), sendQ: Number(sendQ), local: local!, peer: peer ?? '*' }));
}

export async function unixDomainSockets(): Promise<Socket[]> {
  const result = await execInQm(['ss', '-xlH']);
  if (result.exitCode !== 0) throw new QmError('io', `ss -xl inside QM failed: ${result.stderr.trim()}`);
  return parseSs(result.stdout);
}

export interface SharedMemory {
  /** System V segments, from /proc/sysvipc/shm. */
  readonly sysv: Array<Record<string, string>>;
  /** POSIX shared memory objects (files in /dev/shm). */
  readonly posix: string[];
}

/** /proc/sysvipc/* text as rows keyed by its header. */
export function parseSysvipc(text: string): Array<Record<string, string>> {
  const [header, ...rows] = text.split('\n').filter((line) => line.trim() !== '');
  if (!header) return [];
  const keys = header.trim().split(/\s+/);
  return rows.map((row) => Object.fromEntries(row.trim().split(/\s+/).map((value, index) => [keys[index] ?? `field${index}`, value])));
}

export async function sharedMemory(): Promise<SharedMemory> {
  const result = await execInQm(['sh', '-c', 'cat /proc/sysvipc/shm; echo ---; ls -A /dev/shm']);
  const [sysv = '', posix = ''] = result.stdout.split('---\n');
  return { sysv: parseSysvipc(sysv), posix: posix.split('\n').filter(Boolean) };
}

export interface Resources {
  readonly memoryBytes?: number;
  readonly cpuPercent?: number;
  readonly pids?: number;
  readonly oomScoreAdj?: number;
  readonly cgroup?: string;
}

/** A snapshot of what QM uses now (podman stats), with QM init's OOM score. */
export async function resources(): Promise<Resources> {
  await requireQmRunning();
  const pid = await qmInitPid();
  const stats = await run(['podman', 'stats', '--no-stream', '--no-reset', '--format', 'json', qmContainer]);
  let parsed: Record<string, unknown> = {};
  try {
    parsed = (JSON.parse(stats.stdout) as Array<Record<string, unknown>>)[0] ?? {};
  } catch {
    // podman stats is unavailable on some cgroup setups; the rest still shows.
  }
  const memory = String(parsed.mem_usage ?? '').split('/')[0]?.trim();
  const cgroup = (await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '')).split('\n').find((line) => /:memory:|^0::/.test(line));
  return {
    ...(memory ? { memoryBytes: parseSize(memory) } : {}),
    ...(parsed.cpu_percent !== undefined ? { cpuPercent: Number.parseFloat(String(parsed.cpu_percent)) } : {}),
    ...(parsed.pids !== undefined ? { pids: Number(parsed.pids) } : {}),
    oomScoreAdj: Number((await readFile(`/proc/${pid}/oom_score_adj`, 'utf8')).trim()),
    ...(cgroup ? { cgroup: cgroup.split(':').slice(2).join(':') } : {}),
  };
}

/** `12.5MB`, `1.2GiB`, `512kB` → bytes. */
export function parseSize(text: string): number {
  const match = /^([\d.]+)\s*([kKMGT]?)(i?)B?$/.exec(text.trim());
  if (!match) return Number.NaN;
  const power = ['', 'k', 'M', 'G', 'T'].indexOf(match[2]!.replace('K', 'k'));
  return Math.round(Number(match[1]) * (match[3] ? 1024 : 1000) ** power);
}

export async function qmInitPid(): Promise<number> {
  const result = await run(['podman', 'container', 'inspect', '--format', '{{.State.Pid}}', qmContainer]);
  const pid = Number(result.stdout.trim());
  if (result.code !== 0 || !Number.isInteger(pid) || pid <= 0) throw new QmError('unreachable', "the QM container 'qm' is not running; start it with: systemctl start qm.service");
  return pid;
}

/** AddDevice= entries of the configuration, each checked inside the running QM. */
export async function availableDevices(): Promise<Array<{ device: string; optional: boolean; present: boolean }>> {
  const files = await containerConfig();
  const devices = files.flatMap((file) => file.sections.Container?.AddDevice ?? []);
  await requireQmRunning();
  return Promise.all(
    devices.map(async (entry) => {
      const device = entry.replace(/^-/, '').split(':')[0]!;
      const present = (await execInQm(['test', '-e', device])).exitCode === 0;
      return { device, optional: entry.startsWith('-'), present };
    }),
  );
}

/** QM init's namespaces, and whether each is its own or shared with this process (the host side). */
export async function namespaces(): Promise<Array<{ type: string; qm: string; own: boolean }>> {
  const pid = await qmInitPid();
  const types = (await readdir(`/proc/${pid}/ns`)).sort();
  return Promise.all(
    types.map(async (type) => {
      const qm = await readlink(`/proc/${pid}/ns/${type}`);
      const ours = await readlink(`/proc/self/ns/${type}`).catch(() => '');
      return { type, qm, own: qm !== ours };
    }),
  );
}

export type ShowResult = Partial<Record<Exclude<ShowTopic, 'all'>, unknown>>;

const topicFunctions: Record<Exclude<ShowTopic, 'all'>, () => Promise<unknown>> = {
  container: containerConfig,
  'unix-domain-sockets': unixDomainSockets,
  'shared-memory': sharedMemory,
  resources,
  'available-devices': availableDevices,
  namespaces,
};

/** One topic, or all of them (a failing topic then shows its error instead of stopping the others). */
export async function show(topic: ShowTopic): Promise<ShowResult> {
  if (topic !== 'all') return { [topic]: await topicFunctions[topic]() };
  const entries = await Promise.all(
    Object.entries(topicFunctions).map(async ([name, get]) => [name, await get().catch((error: unknown) => ({ error: (error as Error).message }))] as const),
  );
  return Object.fromEntries(entries);
}
