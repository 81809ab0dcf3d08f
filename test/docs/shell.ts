// Where the book's host blocks run: bash in the repository root, `qmctl` on PATH as the built dist/qmctl.cjs, and
// a private bus with the BlueChi stand-in serving the example vehicle (examples/vehicle) as the system bus.
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPrivateBus, type PrivateBus } from '../support/dbus-daemon.ts';
import { QMCTL_BIN } from '../support/qmctl.ts';
import { startStandin, type Standin, type StandinNodeOptions } from '../standin/index.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The vehicle the book's blocks see: the nodes of examples/vehicle with the units its layout names, none running,
 * and a fourth node, radio, whose agent is away. docs/development.md describes it to writers of blocks.
 */
export const DOCS_VEHICLE: readonly StandinNodeOptions[] = [
  { name: 'ecu-main', units: [{ name: 'vehicle-gateway.service' }, { name: 'diagnostics.service' }] },
  { name: 'qm.ecu-main', units: [{ name: 'infotainment.service' }, { name: 'media-indexer.service' }] },
  { name: 'ecu-body', units: [{ name: 'can-bridge.service' }, { name: 'climate.service' }, { name: 'seat-memory.service' }] },
  { name: 'radio', online: false, units: [{ name: 'radio-tuner.service' }] },
];

export interface BlockRun {
  /** stdout and stderr as one stream, in the order written. */
  readonly output: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
}

export interface Shell {
  readonly busAddress: string;
  run(code: string, timeoutMs?: number): Promise<BlockRun>;
  /** Kills what a block left running, stops the stand-in and the bus, removes the temp dir. */
  stop(): Promise<void>;
}

/** A shell for one Markdown file's blocks, which run in order and see what the earlier ones did. */
export async function startShell(): Promise<Shell> {
  const dir = await mkdtemp(join(tmpdir(), 'qm-docs-'));
  const groups = new Set<number>();
  let bus: PrivateBus | undefined;
  let standin: Standin | undefined;
  const stop = async () => {
    for (const group of groups) killGroup(group);
    await standin?.stop().catch(() => undefined);
    await bus?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const bin = join(dir, 'bin');
    const home = join(dir, 'tmp');
    await mkdir(bin);
    await mkdir(home);
    await writeFile(join(bin, 'qmctl'), `#!/bin/sh\nexec ${quote(process.execPath)} ${quote(QMCTL_BIN)} "$@"\n`);
    await chmod(join(bin, 'qmctl'), 0o755);
    bus = await startPrivateBus();
    standin = await startStandin({ address: bus.address, nodes: DOCS_VEHICLE });
    const env: NodeJS.ProcessEnv = {
      PATH: `${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
      DBUS_SYSTEM_BUS_ADDRESS: bus.address,
      TMPDIR: home,
      HOME: home,
      NO_COLOR: '1',
      LANG: 'C.UTF-8',
    };
    const busAddress = bus.address;
    return {
      busAddress,
      stop,
      run: (code, timeoutMs = 60_000) =>
        new Promise((resolve, reject) => {
          // One pipe for both streams keeps their order; -e and pipefail: a failing command fails the block.
          const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', `exec 2>&1\n${code}`], {
            cwd: ROOT,
            env,
            stdio: ['ignore', 'pipe', 'ignore'],
            detached: true,
          });
          if (child.pid !== undefined) groups.add(child.pid);
          let output = '';
          let timedOut = false;
          child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
          const timer = setTimeout(() => {
            timedOut = true;
            if (child.pid !== undefined) killGroup(child.pid);
          }, timeoutMs);
          child.once('error', (error) => {
            clearTimeout(timer);
            reject(error);
          });
          // Whatever the block left in the background goes with it, so that its output pipe closes.
          child.once('exit', () => {
            if (child.pid !== undefined) killGroup(child.pid);
          });
          child.once('close', (exitCode, signal) => {
            clearTimeout(timer);
            if (child.pid !== undefined) groups.delete(child.pid);
            resolve({ output, code: exitCode, signal, timedOut });
          });
        }),
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function killGroup(group: number): void {
  try {
    process.kill(-group, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
