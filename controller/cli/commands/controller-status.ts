// qmctl controller-status [-w]: what the qm-controller daemon sees — the vehicle against the layout, last apply, repairs.
import type { DaemonStatus } from '../../daemon/api.ts';
import { controllerStatus, followControllerStatus } from '../../daemon/client.ts';
import { ExitCode } from '../../errors.ts';
import type { Command, Context } from '../command.ts';
import { followUntilInterrupted } from '../follow.ts';
import { painted, table } from '../format.ts';

const command: Command = {
  name: 'controller-status',
  summary: "Show the qm-controller daemon's view: each node and unit against the layout, last apply, repairs",
  usage: 'controller-status [-w]',
  help: `Reads the daemon's properties (org.qm.Controller1 on the bus), which it keeps from BlueChi's signals:
asking costs the vehicle nothing, however often. Per unit: desired and observed state, and its restart budget
(repairs done / allowed in the window; "exhausted": left alone until 'qmctl apply' or 'qmctl controller-reload').
Root and the groups qm-observers and qm-operators may read it.
  -w, --watch   print again on each change (the daemon's PropertiesChanged) until interrupted
Exit: 0 converged; 1 not converged; 3 the daemon is not running. With -w: 0 when interrupted, 3 when the daemon leaves.
JSON: { status: converged|diverged|down, layout: { files, units }, bluechi: up|down, converged, nodes: [{ name, online }],
units: [{ node, unit, desired, observed, converged, repairs: { done, left, budget, exhausted, lastDelayMs } }], applies,
lastApply: { trigger, outcome, startedAt, endedAt, steps, waiting, offline, unconverged, errors }, lastReload: { reloaded, at, files, errors } }
(with -w, one such document per change)`,
  options: { watch: { type: 'boolean', short: 'w' } },
  args: [0, 0],
  async run(context, _args, options) {
    const { bus } = await context.blueChi();
    if (options.watch === true) {
      const statuses = followControllerStatus(bus);
      await followUntilInterrupted(context, statuses, (status) => printStatus(context, status), () => statuses.ready());
      return ExitCode.ok;
    }
    context.waiting('');
    const status = await controllerStatus(bus);
    printStatus(context, status);
    return status.converged ? ExitCode.ok : ExitCode.jobFailed;
  },
};
export default command;

function printStatus(context: Context, status: DaemonStatus): void {
  if (context.global.json) return context.printJson(status);
  context.print(`layout: ${status.layout.files.join(', ')} (${status.layout.units} units)`);
  context.print(`BlueChi: ${status.bluechi}; nodes: ${status.nodes.map((node) => `${node.name} ${node.online ? 'online' : 'offline'}`).join(', ') || 'none'}`);
  const rows = status.units.map((unit) => [
    unit.node,
    unit.unit,
    unit.desired,
    painted(context.tty, unit.observed),
    unit.repairs.exhausted ? 'exhausted' : `${unit.repairs.done}/${unit.repairs.budget}`,
  ]);
  context.print(table(['NODE', 'UNIT', 'DESIRED', 'OBSERVED', 'REPAIRS'], rows));
  const last = status.lastApply;
  if (last) {
    const done = last.steps.filter((step) => step.result === 'done').length;
    const unconverged = last.unconverged.length > 0 ? `, ${last.unconverged.length} not as the layout wants` : '';
    context.print(`last apply (${last.trigger}) ${last.endedAt}: ${last.outcome}, ${done} of ${last.steps.length} steps done, ${last.waiting.length} waiting${unconverged}`);
  }
  if (status.lastReload && !status.lastReload.reloaded) context.print(`last reload ${status.lastReload.at} failed: ${status.lastReload.errors.length} error(s); old layout kept`);
  context.print(status.status);
}
