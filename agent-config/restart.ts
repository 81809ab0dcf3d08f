// Restarting the bluechi-agent inside QM after its configuration changed: through the host's podman
// when it can reach the QM container, else through BlueChi, else a note that QM is not running.
import { spawn } from 'node:child_process';

export interface RunResult {
  /** Exit code; null when the process did not start or was killed. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the program could not be started at all (e.g. ENOENT: not installed). */
  readonly spawnError?: string;
}

/** Runs a program to completion; tests pass a fake. */
export type CommandRunner = (program: string, args: readonly string[]) => Promise<RunResult>;

export function spawnRunner(options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): CommandRunner {
  return (program, args) =>
    new Promise((resolve) => {
      const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: options.timeoutMs ?? 60_000, env: options.env ?? process.env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, stdout, stderr, spawnError: error.code ?? error.message }));
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
}

export interface RestartOutcome {
  readonly method: 'podman' | 'bluechi' | 'none';
  readonly restarted: boolean;
  /** One line for a person: what was done, or why nothing was. */
  readonly detail: string;
}

export interface RestartDeps {
  readonly run: CommandRunner;
  /** The podman executable (default `podman`). */
  readonly podman?: string;
  /** The QM container's name (qm.container: ContainerName=qm). */
  readonly container?: string;
  readonly unit?: string;
  /** Restart the unit on the QM's BlueChi node; absent when no controller is reachable. */
  readonly blueChiRestart?: (node: string, unit: string) => Promise<void>;
  /** The QM agent's node name, for the BlueChi route. */
  readonly node?: string;
}

export const QM_CONTAINER = 'qm';
export const AGENT_UNIT = 'bluechi-agent.service';

/** Podman's message for a container that is absent or stopped; the only failures that mean "QM is down". */
const notRunning = /no such container|no container with name or id|is not running|container state improper|can only exec into running/i;

export async function restartQmAgent(deps: RestartDeps): Promise<RestartOutcome> {
  const container = deps.container ?? QM_CONTAINER;
  const unit = deps.unit ?? AGENT_UNIT;
  const attempts: string[] = [];

  const podman = await deps.run(deps.podman ?? 'podman', ['exec', container, 'systemctl', 'restart', unit]);
  if (podman.code === 0) return { method: 'podman', restarted: true, detail: `restarted ${unit} in container ${container} (podman exec)` };
  const podmanWhy = podman.spawnError !== undefined ? `podman not available (${podman.spawnError})` : errorLine(podman.stderr) || `podman exec exited with ${podman.code}`;
  attempts.push(podmanWhy);
  const qmDown = podman.spawnError === undefined && notRunning.test(podman.stderr);

  if (!qmDown && deps.blueChiRestart && deps.node) {
    try {
      await deps.blueChiRestart(deps.node, unit);
      return { method: 'bluechi', restarted: true, detail: `restarted ${unit} on node ${deps.node} through BlueChi` };
    } catch (error) {
      attempts.push(`BlueChi: ${(error as Error).message}`);
    }
  }
  if (qmDown) {
    return { method: 'none', restarted: false, detail: `QM is not running (${podmanWhy}); its bluechi-agent reads the new file when QM starts` };
  }
  return { method: 'none', restarted: false, detail: `could not restart ${unit} in QM: ${attempts.join('; ')}` };
}

/** Podman's "Error: ..." line, not the warnings before it (e.g. the cgroups v1 deprecation). */
function errorLine(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim()).filter(Boolean);
  return lines.find((line) => line.startsWith('Error:')) ?? lines.at(-1) ?? '';
}
