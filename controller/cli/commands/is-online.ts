// bluechi-is-online as a qmctl verb (upstream src/is-online/): is the system, a node or the agent online; boot
// scripts wait for a vehicle with it.
import { tap } from 'rxjs';
import type { StatusSubject } from '../../bluechi/client.ts';
import { ExitCode } from '../../errors.ts';
import { isOnline, isOnlineStatus } from '../../operations/is-online.ts';
import { MAX_TIMER_MS } from '../../timers.ts';
import { parseNodeName } from '../../unit-names.ts';
import type { Command } from '../command.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** A duration: a number of milliseconds as bluechi-is-online's --wait takes it, or with a unit (500ms, 5s, 2min, 1h). */
export function durationMs(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)?\s*$/.exec(text);
  if (!match) return undefined;
  const ms = Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!);
  return ms <= MAX_TIMER_MS ? ms : undefined;
}

const command: Command = {
  name: 'is-online',
  summary: 'Check, wait for or follow whether the system, a node or the agent is online',
  usage: `is-online system [--wait DURATION] [--monitor]
       is-online node NODE [--wait DURATION] [--monitor]
       is-online agent [--wait DURATION] [--monitor]`,
  help: `system   the controller's Status is up: every node is online
node     that node is online (connected to the controller)
agent    the agent on this bus (--bus-address: the node's system bus) is connected to its controller
Exit 0 when online at the end, 1 when not (also while the service is not on the bus), as bluechi-is-online;
4 for a node BlueChi does not know.
  --wait DURATION   if offline, wait this long for it to come online (milliseconds as bluechi-is-online
                    takes them, or 500ms, 5s, 2min, 1h)
  --monitor         once online, keep following and end when it goes offline; prints each change
JSON: { subject, node?, online, status }; with --monitor, each change as one such line first.`,
  options: { wait: { type: 'string' }, monitor: { type: 'boolean' } },
  args: [1, 2],
  async run(context, [of, node], options) {
    const subject = subjectOf(of!, node);
    if (typeof subject === 'string') {
      context.stderr.write(`qmctl is-online: ${subject}\nUsage: qmctl ${command.usage}\n`);
      return ExitCode.usage;
    }
    const waitMs = options.wait === undefined ? 0 : durationMs(options.wait as string);
    if (waitMs === undefined) {
      context.stderr.write(`qmctl is-online: --wait takes milliseconds or a duration such as 500ms, 5s, 2min (at most 24.8 days), not ${JSON.stringify(options.wait)}\n`);
      return ExitCode.usage;
    }
    const monitor = options.monitor === true;
    const client = await context.blueChi();
    context.endsOnInterrupt();
    const statuses = client.status$(subject);
    const report = (status: string) => {
      if (context.global.json) context.stdout.write(`${JSON.stringify(document(subject, status))}\n`);
      else context.print(`${describe(subject)} is ${status || 'not on the bus'}`);
    };
    // With --monitor, the state it starts from is shown too.
    let first = true;
    const shown = statuses.pipe(
      tap((status) => {
        if (monitor && first) report(status);
        first = false;
      }),
    );
    const answer = await isOnline(shown, {
      waitMs,
      monitor,
      signal: context.interrupted,
      ...(monitor ? { onChange: report } : {}),
      // The same line as followers print: scripts and tests can wait for it.
      onFollow: () => void context.log().then((log) => log.debug('subscribed: following changes')),
    });
    if (!monitor && context.global.json) context.printJson(document(subject, answer.status));
    if (answer.online) return ExitCode.ok;
    context.stderr.write(`qmctl is-online: ${describe(subject)} is ${answer.status || 'not on the bus'}${waitMs > 0 ? ` (waited up to ${options.wait})` : ''}\n`);
    return ExitCode.jobFailed;
  },
};
export default command;

function subjectOf(of: string, node: string | undefined): StatusSubject | string {
  if (of === 'node') return node === undefined ? 'node takes a NODE' : { of: 'node', node: parseNodeName(node) };
  if (node !== undefined) return `${of} takes no further argument`;
  if (of === 'system' || of === 'agent') return { of };
  return `expected system, node NODE or agent, not ${JSON.stringify(of)}`;
}

const describe = (subject: StatusSubject) => (subject.of === 'node' ? `node ${subject.node}` : subject.of);

function document(subject: StatusSubject, status: string) {
  return { subject: subject.of, ...(subject.of === 'node' ? { node: subject.node } : {}), online: isOnlineStatus(status), status };
}
