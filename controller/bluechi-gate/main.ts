// qm-bluechi-gate [--listen PATH] [--node NAME --controller-socket PATH] [--host-config-dir DIR]: the host service
// between QM's bluechi-agent and the host's bluechi-controller (units/qm-bluechi-gate.{socket,service}).
// Under systemd it serves the socket qm-bluechi-gate.socket passes it (LISTEN_FDS); --listen is for running it by hand.
import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { renderQmAgentConf } from '../../agent-config/apply.ts';
import { parseServiceArgs } from '../service-args.ts';
import { ExitCode } from '../errors.ts';
import { createLogger, isJournal } from '../log.ts';
import { createGate, type GateTarget } from './gate.ts';

const usage = `Usage: qm-bluechi-gate [--listen PATH] [--node NAME --controller-socket PATH] [--host-config-dir DIR]
                       [--register-timeout-ms MS] [--log-level LEVEL]

Passes QM's bluechi-agent on to the host's bluechi-controller once it has asked to register as QM's own
node, and nothing else from QM. The node name and the controller's socket are derived, for each connection,
from the host agent's configuration as \`qmctl agent-config\` derives QM's (NodeName=qm.<host node name>);
--node and --controller-socket fix them instead. A connection must register within 10 s (--register-timeout-ms). Exit: 0 stopped by SIGTERM/SIGINT, 2 usage, 3 cannot listen.`;

/** systemd's first passed descriptor (sd_listen_fds(3)). */
const SD_LISTEN_FDS_START = 3;

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = parseServiceArgs('qm-bluechi-gate', usage, argv, {
    listen: { type: 'string' },
    node: { type: 'string' },
    'controller-socket': { type: 'string' },
    'host-config-dir': { type: 'string' },
    'register-timeout-ms': { type: 'string' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, level } = parsed;
  if ((values.node === undefined) !== (values['controller-socket'] === undefined)) {
    process.stderr.write('qm-bluechi-gate: --node and --controller-socket go together\n');
    return ExitCode.usage;
  }
  const passed = Number(env.LISTEN_PID) === process.pid ? Number(env.LISTEN_FDS ?? 0) : 0;
  if (values.listen === undefined && passed !== 1) {
    process.stderr.write(`qm-bluechi-gate: give --listen PATH, or start it from qm-bluechi-gate.socket (one socket; got ${passed})\n`);
    return ExitCode.usage;
  }
  const log = createLogger(level, process.stderr, { journal: isJournal(env) });
  const controllerSocket = values['controller-socket'];
  const fixed: GateTarget | undefined = values.node !== undefined && controllerSocket !== undefined ? { nodeName: values.node, controllerSocket } : undefined;
  const hostConfigDir = values['host-config-dir'];
  const timeout = values['register-timeout-ms'];
  if (timeout !== undefined && !/^[1-9]\d{0,6}$/.test(timeout)) {
    process.stderr.write(`qm-bluechi-gate: --register-timeout-ms must be a whole number of milliseconds, not ${JSON.stringify(timeout)}\n`);
    return ExitCode.usage;
  }
  const gate = createGate({ log, target: async () => fixed ?? (await derivedTarget(hostConfigDir)), ...(timeout ? { registerTimeoutMs: Number(timeout) } : {}) });

  const listening = new Promise<void>((resolve, reject) => {
    gate.server.once('error', reject);
    gate.server.once('listening', resolve);
  });
  if (values.listen !== undefined) {
    await rm(values.listen, { force: true });
    gate.server.listen(values.listen);
  } else {
    gate.server.listen({ fd: SD_LISTEN_FDS_START });
  }
  try {
    await listening;
  } catch (error) {
    log.error(`cannot listen: ${(error as Error).message}`);
    return ExitCode.unreachable;
  }
  log.info(`serving QM's agent on ${values.listen ?? 'the socket systemd passed'}${fixed ? ` as ${fixed.nodeName}, on to ${fixed.controllerSocket}` : ''}`);
  const code = await new Promise<number>((resolve) => {
    process.once('SIGTERM', () => resolve(ExitCode.ok));
    process.once('SIGINT', () => resolve(ExitCode.ok));
  });
  await gate.close();
  log.info(`stopped; ${JSON.stringify(gate.counts)}`);
  return code;
}

/** QM's node name and the host controller's socket, as QM's agent.conf is derived from the host's configuration. */
async function derivedTarget(hostConfigDir: string | undefined): Promise<GateTarget> {
  const rendered = await renderQmAgentConf({ hostname: hostname(), hostnameFrom: 'hostname', ...(hostConfigDir ? { locations: { hostConfigDir } } : {}) });
  const { nodeName, controller } = rendered.config;
  if (controller.via !== 'unix' || controller.hostSocket === undefined) {
    throw new Error(`QM's agent is configured to reach the controller over ${controller.via} (${controller.reason}), not through this gate`);
  }
  return { nodeName, controllerSocket: controller.hostSocket };
}
