// Reaching into the running QM partition through podman: exec, exec in a nested container, copy.
import { QmError } from '../errors.ts';
import { exists } from './files.ts';
import { run, type RunResult } from './process.ts';
import { qmContainer } from './paths.ts';

export interface ExecResult {
  readonly container: string;
  readonly command: readonly string[];
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Fails with a QmError (exit 3) unless the QM container is running. */
export async function requireQmRunning(container = qmContainer): Promise<void> {
  const result = await run(['podman', 'container', 'inspect', '--format', '{{.State.Running}}', container]);
  if (result.code !== 0 || result.stdout.trim() !== 'true') {
    throw new QmError('unreachable', `the QM container '${container}' is not running; start it with: systemctl start qm.service`, { unit: 'qm.service' });
  }
}

const toExec = (container: string, command: readonly string[], result: RunResult): ExecResult => ({
  container,
  command,
  exitCode: result.code,
  stdout: result.stdout,
  stderr: result.stderr,
});

/** Runs `command` inside QM. The command's own exit code is in the result; podman's failures (125-127) too. */
export async function execInQm(command: readonly string[], options: { container?: string; input?: string } = {}): Promise<ExecResult> {
  const container = options.container ?? qmContainer;
  if (command.length === 0) throw new QmError('usage', 'no command given to run inside QM');
  await requireQmRunning(container);
  const result = await run(['podman', 'exec', ...(options.input !== undefined ? ['--interactive'] : []), container, ...command], options.input !== undefined ? { input: options.input } : {});
  return toExec(container, command, result);
}

const nestedName = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Runs `command` in the nested container `nested`, which QM's own podman runs. */
export async function execInNested(nested: string, command: readonly string[], container = qmContainer): Promise<ExecResult> {
  if (!nestedName.test(nested)) throw new QmError('usage', `${JSON.stringify(nested)} is not a container name (letters, digits, '_', '.', '-')`);
  if (command.length === 0) throw new QmError('usage', `no command given to run in the nested container ${nested}`);
  await requireQmRunning(container);
  const known = await run(['podman', 'exec', container, 'podman', 'container', 'exists', nested]);
  if (known.code === 1) throw new QmError('unit-unknown', `QM has no container named ${nested} (see: qmctl exec podman ps -a)`);
  return toExec(container, [nested, ...command], await run(['podman', 'exec', container, 'podman', 'exec', nested, ...command]));
}

export interface CopyEnds {
  readonly source: string;
  readonly destination: string;
  readonly direction: 'into-qm' | 'from-qm';
}

/** Checks `qmctl cp` arguments: exactly one side is `qm:/absolute/path`. */
export function parseCopy(source: string, destination: string, container = qmContainer): CopyEnds {
  const prefix = `${container}:`;
  const inQm = (path: string) => path.startsWith(prefix);
  if (inQm(source) === inQm(destination)) {
    throw new QmError('usage', `exactly one of SRC and DST must be inside QM, written ${prefix}/path (got ${JSON.stringify(source)} and ${JSON.stringify(destination)})`);
  }
  const qmSide = inQm(source) ? source : destination;
  if (!qmSide.slice(prefix.length).startsWith('/')) throw new QmError('usage', `${JSON.stringify(qmSide)}: the path inside QM must be absolute (${prefix}/path)`);
  const hostSide = inQm(source) ? destination : source;
  if (hostSide === '') throw new QmError('usage', 'the host path is empty');
  return { source, destination, direction: inQm(source) ? 'from-qm' : 'into-qm' };
}

/** Copies a file or directory between the host and QM. */
export async function copyWithQm(ends: CopyEnds, container = qmContainer): Promise<CopyEnds> {
  if (ends.direction === 'into-qm' && !(await exists(ends.source))) throw new QmError('io', 'no such file or directory', { file: ends.source });
  await requireQmRunning(container);
  const result = await run(['podman', 'cp', ends.source, ends.destination]);
  if (result.code !== 0) throw new QmError('io', `copying ${ends.source} to ${ends.destination} failed: ${result.stderr.trim()}`);
  return ends;
}
