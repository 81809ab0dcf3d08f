// qm-controller [--layout PATH...] [--bus-address ADDR]: the daemon systemd starts at boot (units/qm-controller.service).
// SIGHUP reloads the layout and applies it (an invalid one is reported, the old one kept); SIGTERM and SIGINT stop it cleanly.
// Readiness is owning org.qm.Controller1 (Type=dbus): the name is taken once the layout is loaded and the API answers.
import { busAddressOf } from '../bus/address.ts';
import { parseServiceArgs } from '../service-args.ts';
import { ExitCode, isQmError } from '../errors.ts';
import { DEFAULT_LAYOUT, loadLayout } from '../layout/index.ts';
import { createLogger, isJournal } from '../log.ts';
import { startDaemon } from './daemon.ts';
import { formatError } from './format.ts';

/** qm-controller --help; the manual qm-controller(8) is made of it too. */
export const usage = `Usage: qm-controller [--layout PATH]... [--bus-address ADDR] [--log-level LEVEL]

Keeps the vehicle matching its layout (default ${DEFAULT_LAYOUT} and its layout.d/): applies it when
BlueChi reports nodes online, repairs owned units that leave their desired state within their restart
budget, serves org.qm.Controller1 (qmctl controller-status, qmctl apply, qmctl controller-reload).
  --layout PATH        a layout file (with its NAME.d/*.yaml drop-ins) or directory; repeat to merge several
  --bus-address ADDR   the bus BlueChi is on (default: $DBUS_SYSTEM_BUS_ADDRESS or the system bus)
  --log-level LEVEL    error, warn, info (default) or debug; under systemd each line carries its syslog priority
  -h, --help           this help
SIGHUP reloads the layout and applies it (an invalid one is reported and the old one kept); SIGTERM and
SIGINT stop it.
Exit: 0 stopped by SIGTERM/SIGINT, 2 usage or invalid layout, 3 cannot serve.`;

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = parseServiceArgs('qm-controller', usage, argv, {
    layout: { type: 'string', multiple: true },
    'bus-address': { type: 'string' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, level } = parsed;
  const log = createLogger(level, process.stderr, { journal: isJournal(env) });
  const bus = busAddressOf(values['bus-address'], env);
  if ('error' in bus) {
    log.error(bus.error);
    return ExitCode.usage;
  }
  const layoutPaths = values.layout ?? [DEFAULT_LAYOUT];
  const loaded = await loadLayout(layoutPaths);
  if (!loaded.ok) {
    for (const error of loaded.errors) log.error(formatError(error.toJSON() as never));
    log.error(`${loaded.errors.length} error(s) in the layout; not starting`);
    return ExitCode.usage;
  }
  const daemon = startDaemon({ busAddress: bus.address, layout: loaded.layout, layoutPaths, log });
  let stop: (code: number) => void = () => undefined;
  const stopped = new Promise<number>((resolve) => (stop = resolve));
  const onHangup = () => void daemon.reloadAndApply().catch((error: unknown) => log.error(`reload failed: ${String(error)}`));
  const onStop = () => stop(ExitCode.ok);
  process.on('SIGHUP', onHangup);
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  try {
    // Not ready means cannot serve (name owned by another qm-controller, not allowed to own it): 3, as the help says.
    const failed = daemon.ready.then(
      () => stopped,
      (error: unknown) => {
        log.error(isQmError(error) ? error.message : String(error));
        return ExitCode.unreachable;
      },
    );
    return await Promise.race([stopped, failed]);
  } finally {
    process.off('SIGHUP', onHangup);
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    await daemon.stop();
    log.info('stopped');
  }
}
