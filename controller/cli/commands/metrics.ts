// bluechictl metrics: switch BlueChi's job metrics on or off, or print them as they come (method-metrics.c).
import type { JobMetrics } from '../../bluechi/client.ts';
import { ExitCode, isQmError } from '../../errors.ts';
import type { Command, Context } from '../command.ts';
import { followUntilInterrupted } from '../follow.ts';

const ACTIONS = ['enable', 'disable', 'listen'];

const command: Command = {
  name: 'metrics',
  summary: "Enable or disable BlueChi's job metrics, or print them as they come",
  usage: 'metrics enable|disable|listen',
  help: `enable    the controller and its agents start measuring unit jobs
disable   they stop
listen    print each measurement until interrupted, as bluechictl metrics listen prints it:
          a start job's time as BlueChi measured it and the unit's own start time, and the
          time of every agent's systemd job. Metrics come only while enabled (by anyone).
Enabling when enabled, or disabling when disabled, changes nothing and exits 0.
JSON: enable/disable { metrics: enabled|disabled, changed }; listen: one object per line,
{ kind: StartUnitJobMetrics, node, job, unit, jobMeasuredMicros, unitStartMicros } or
{ kind: AgentJobMetrics, node, unit, method, systemdJobMicros }`,
  args: [1, 1],
  async run(context, [action]) {
    if (!ACTIONS.includes(action!)) {
      context.stderr.write(`qmctl metrics: expected one of ${ACTIONS.join(', ')}, not ${JSON.stringify(action)}\n`);
      return ExitCode.usage;
    }
    const client = await context.blueChi();
    if (action === 'listen') {
      const metrics = client.metrics$;
      if (!context.global.json) void metrics.ready().then(() => context.print('Waiting for metrics signals...'), () => undefined);
      await followUntilInterrupted(context, metrics, (event) => print(context, event), metrics.ready);
      return 0;
    }
    const enable = action === 'enable';
    let changed = true;
    try {
      await (enable ? client.enableMetrics() : client.disableMetrics());
    } catch (error) {
      // The controller refuses a second EnableMetrics (controller_method_metrics_enable): the wanted state holds already.
      if (!isQmError(error) || error.origin.dbusName !== 'org.freedesktop.DBus.Error.InconsistentMessage') throw error;
      changed = false;
    }
    const state = enable ? 'enabled' : 'disabled';
    if (context.global.json) context.printJson({ metrics: state, changed });
    else context.print(changed ? `Metrics ${state}` : `Metrics were already ${state}`);
    return 0;
  },
};
export default command;

const millis = (micros: bigint) => (Number(micros) / 1000).toFixed(1);

function print(context: Context, event: JobMetrics): void {
  if (context.global.json) {
    context.stdout.write(`${JSON.stringify(event, (_key, value: unknown) => (typeof value === 'bigint' ? Number(value) : value))}\n`);
    return;
  }
  if (event.kind === 'StartUnitJobMetrics') {
    context.print(
      `[${event.node}] Job ${event.job} to start unit ${event.unit}:\n\tBlueChi job gross measured time: ${millis(event.jobMeasuredMicros)}ms\n\tUnit net start time (from properties): ${millis(event.unitStartMicros)}ms`,
    );
  } else {
    context.print(`[${event.node}] Agent systemd ${event.method} job on ${event.unit} net measured time: ${millis(event.systemdJobMicros)}ms`);
  }
}
