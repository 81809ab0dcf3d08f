// qmctl controller-status: what the qm-controller daemon sees — the vehicle against the layout, last apply, repairs.
import { callDaemon, type ApplySummary, type DaemonStatus } from '../../daemon/api.ts';
import { ExitCode } from '../../errors.ts';
import type { Command } from '../command.ts';
import { painted, table } from '../format.ts';

const command: Command = {
  name: 'controller-status',
  summary: 'Show the qm-controller daemon\'s view: each node and unit against the layout, last apply, repairs',
  usage: 'controller-status',
  help: `Asks the daemon (org.qm.Controller1 on the bus) for its Status, which it serves from what it keeps
of BlueChi's signals: asking costs the vehicle nothing, however often. Per unit: desired and observed
state, and its restart budget (repairs done / allowed in the window; "exhausted": left alone until
'qmctl apply' or 'qmctl reload'). Exit: 0 converged; 1 not converged; 3 the daemon is not running.
JSON: { layout, bluechi, converged, nodes, units: [{ node, unit, desired, observed, converged, repairs }], applies, lastApply, lastReload }`,
  args: [0, 0],
  async run(context) {
    const client = await context.blueChi();
    context.waiting('');
    const status = await callDaemon<DaemonStatus>(client.bus, 'Status');
    if (context.global.json) context.printJson(status);
    else {
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
        // A daemon from before `unconverged` (still running across an upgrade) does not send it.
        const count = (last.unconverged as ApplySummary['unconverged'] | undefined)?.length ?? 0;
        const unconverged = count > 0 ? `, ${count} not as the layout wants` : '';
        context.print(`last apply (${last.trigger}) ${last.endedAt}: ${last.outcome}, ${done} of ${last.steps.length} steps done, ${last.waiting.length} waiting${unconverged}`);
      }
      if (status.lastReload && !status.lastReload.reloaded) context.print(`last reload ${status.lastReload.at} failed: ${status.lastReload.errors.length} error(s); old layout kept`);
      context.print(status.converged ? 'converged' : 'not converged');
    }
    return status.converged ? ExitCode.ok : ExitCode.jobFailed;
  },
};
export default command;
