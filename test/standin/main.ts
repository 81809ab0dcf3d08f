// The stand-in as a process, for demos and manual poking with busctl:
//   tsx test/standin/main.ts --address ADDR --node NAME[:offline] ... [--unit NAME[:STATE]] ... [--latency MS]
//     [--systemd NODE=ADDRESS]
// Prints `ready` once org.eclipse.bluechi is served, and runs until SIGTERM or SIGINT.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type StandinNodeOptions, type UnitOptions, startStandin } from './index.ts';

const usage =
  'usage: main.ts --address ADDR --node NAME[:offline] ... [--unit NAME[:ACTIVE_STATE]] ... [--latency MS] [--systemd NODE=ADDRESS] ...';

export function parseCommandLine(args: string[]): { address: string; nodes: StandinNodeOptions[] } {
  const { values } = parseArgs({
    args,
    options: {
      address: { type: 'string' },
      node: { type: 'string', multiple: true },
      unit: { type: 'string', multiple: true },
      latency: { type: 'string' },
      systemd: { type: 'string', multiple: true },
    },
  });
  if (!values.address || !values.node?.length) throw new Error(usage);
  const latency = Number(values.latency ?? '0');
  if (!Number.isInteger(latency) || latency < 0) throw new Error(`--latency must be a whole number of ms: ${values.latency}`);
  const units: UnitOptions[] = (values.unit ?? []).map((spec) => {
    const [name = '', activeState] = spec.split(':');
    return activeState ? { name, activeState } : { name };
  });
  const systemd = new Map(
    (values.systemd ?? []).map((spec) => {
      const at = spec.indexOf('=');
      if (at <= 0) throw new Error(`--systemd wants NODE=ADDRESS: ${spec}`);
      return [spec.slice(0, at), spec.slice(at + 1)] as const;
    }),
  );
  const nodes = values.node.map((spec): StandinNodeOptions => {
    const [name = '', flag] = spec.split(':');
    if (flag !== undefined && flag !== 'offline') throw new Error(`--node wants NAME or NAME:offline: ${spec}`);
    const address = systemd.get(name);
    return {
      name,
      online: flag !== 'offline',
      jobLatencyMs: latency,
      units,
      ...(address === undefined ? {} : { systemd: { address } }),
    };
  });
  return { address: values.address, nodes };
}

async function main(): Promise<void> {
  const standin = await startStandin(parseCommandLine(process.argv.slice(2)));
  const stop = () => {
    standin.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  console.log('ready');
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  });
}
