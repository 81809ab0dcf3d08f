// A private, real dbus-daemon for one test file: started on a socket in a temp dir, torn down after.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface PrivateBus {
  /** The D-Bus address clients connect to, e.g. `unix:path=/tmp/qm-bus-x/bus`. */
  readonly address: string;
  readonly dir: string;
  readonly pid: number;
  /** Stops the daemon and starts a new one on the same address: every connection is lost. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface PrivateBusOptions {
  /** Extra `<policy>` XML, e.g. to test access control. Default: allow everything to everyone. */
  readonly policy?: string;
  /** Extra config XML inserted verbatim (e.g. `<includedir>`). */
  readonly extra?: string;
}

const allowAll = `<policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
  </policy>`;

/** A system bus policy file, as a daemon's package ships it: root may own `name` and call it. */
export function rootOwnsPolicy(name: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root">
    <allow own="${name}"/>
    <allow send_destination="${name}"/>
  </policy>
</busconfig>
`;
}

export async function startPrivateBus(options: PrivateBusOptions = {}): Promise<PrivateBus> {
  const dir = await mkdtemp(join(tmpdir(), 'qm-bus-'));
  const socket = join(dir, 'bus');
  const config = join(dir, 'bus.conf');
  await writeFile(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  ${options.policy ?? allowAll}
  ${options.extra ?? ''}
</busconfig>
`,
  );
  let child = await launch(config);
  // Should the test process end without stop() (a crash, a timeout), the daemon goes with it.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  return {
    // Without the daemon's guid, so the same address reaches a restarted daemon.
    address: `unix:path=${socket}`,
    dir,
    get pid() {
      return child.pid ?? -1;
    },
    async restart() {
      await stopChild(child);
      child = await launch(config);
    },
    async stop() {
      process.off('exit', orphanGuard);
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function launch(config: string): Promise<ChildProcess> {
  const child = spawn('dbus-daemon', ['--config-file', config, '--nofork', '--nopidfile', '--print-address'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The daemon asks for a higher fd limit than a container may grant; that warning is noise here.
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (!/Failed to set fd limit|^dbus-daemon\[\d+\]: $/.test(line)) process.stderr.write(`${line}\n`);
  });
  await firstLine(child);
  return child;
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const fail = (error: Error) => reject(new Error(`dbus-daemon did not start: ${error.message}`));
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`exited with ${code}`)));
    lines.once('line', (line) => {
      lines.close();
      resolve(line.trim());
    });
  });
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}
