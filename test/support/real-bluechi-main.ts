// Starts a real BlueChi vehicle (test/support/real-bluechi.ts) from binaries you already built, for running the
// integration suite against the real controller. Run as root from the repository root:
//
//   QM_TEST_BLUECHI_CONTROLLER=/path/bluechi-controller QM_TEST_BLUECHI_AGENT=/path/bluechi-agent \
//     node --import tsx test/support/real-bluechi-main.ts -- npx ava test/integration/
//
// (`node --import tsx` rather than `npx tsx`: npx does not pass SIGTERM on, and tsx takes `--env-file` as its own.)
//
// With a command after `--`: runs it with QM_TEST_BLUECHI_* set, tears down and exits with its exit code.
// Without: prints `export QM_TEST_BLUECHI_…=…` lines (also to --write-env FILE, for another shell to source) and
// keeps the vehicle up until SIGINT, SIGTERM or SIGHUP, then tears it down.
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { defaultRealNodes, defaultRealUnit, realBlueChiBinaries, startRealBlueChi } from './real-bluechi.ts';

const usage = `usage: QM_TEST_BLUECHI_CONTROLLER=BIN QM_TEST_BLUECHI_AGENT=BIN node --import tsx test/support/real-bluechi-main.ts
         [--nodes NAME,NAME…] [--unit UNIT] [--log-level DEBUG|INFO|WARN|ERROR] [--write-env FILE] [-- COMMAND…]
  --nodes      BlueChi node names, one vehicle node each (default ${defaultRealNodes.join(',')})
  --unit       the unit the suite drives, installed on every node (default ${defaultRealUnit})
  --write-env  also write the export lines to FILE (removed at teardown)
  COMMAND      run it with QM_TEST_BLUECHI_* set, then tear down and exit with its code
`;

async function main(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const command = dash >= 0 ? argv.slice(dash + 1) : [];
  const args = dash >= 0 ? argv.slice(0, dash) : argv;
  let nodes = [...defaultRealNodes];
  let unit = defaultRealUnit;
  let logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' = 'INFO';
  let envFile: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = () => {
      const next = args[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(usage);
      return 0;
    } else if (arg === '--nodes') nodes = value().split(',').filter(Boolean);
    else if (arg === '--unit') unit = value();
    else if (arg === '--write-env') envFile = value();
    else if (arg === '--log-level') {
      const level = value().toUpperCase();
      if (!['DEBUG', 'INFO', 'WARN', 'ERROR'].includes(level)) throw new UsageError(`--log-level ${level}`);
      logLevel = level as typeof logLevel;
    } else throw new UsageError(`unknown argument ${arg}`);
  }
  const binaries = realBlueChiBinaries();
  if (!binaries) throw new UsageError('set QM_TEST_BLUECHI_CONTROLLER and QM_TEST_BLUECHI_AGENT to your bluechi-controller and bluechi-agent');

  const log = (line: string) => process.stderr.write(`real-bluechi: ${line}\n`);
  const vehicle = await startRealBlueChi({ ...binaries, nodes, unit, logLevel, log });
  const exports = Object.entries(vehicle.env)
    .map(([key, value]) => `export ${key}=${value}`)
    .join('\n');
  if (envFile) await writeFile(envFile, `${exports}\n`);
  const teardown = async () => {
    if (envFile) await rm(envFile, { force: true });
    await vehicle.stop();
    log('stopped');
  };

  if (command.length === 0) {
    process.stdout.write(`${exports}\n`);
    log(`ready; stop with Ctrl-C or kill -TERM ${process.pid}`);
    const signalled = new Promise<number>((resolve) => {
      for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) process.once(signal, () => resolve(128 + number));
    });
    let watching: NodeJS.Timeout | undefined;
    const controllerGone = new Promise<number>((resolve) => {
      watching = setInterval(() => {
        try {
          process.kill(vehicle.controllerPid, 0);
        } catch {
          resolve(-1);
        }
      }, 1000);
    });
    const why = await Promise.race([signalled, controllerGone]);
    clearInterval(watching);
    if (why > 0) {
      log('tearing down');
      await teardown();
      return why;
    }
    log(`bluechi-controller exited:\n${vehicle.controllerLog().slice(-4000)}`);
    await teardown();
    return 1;
  }

  const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env: { ...process.env, ...vehicle.env } });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward);
  const code = await new Promise<number>((resolve) => {
    child.once('error', (error) => {
      log(`cannot run ${command[0]}: ${error.message}`);
      resolve(127);
    });
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15)));
  });
  await teardown();
  return code;
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(error instanceof UsageError ? `real-bluechi: ${error.message}\n${usage}` : `real-bluechi: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
