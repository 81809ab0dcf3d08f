// qmctl plan [LAYOUT…]: what apply would change, as a readable diff.
import { ExitCode, isQmError } from '../../errors.ts';
import { DEFAULT_LAYOUT } from '../../layout/index.ts';
import { planVehicle } from '../../orchestrator/apply.ts';
import { countSteps, describePlan } from '../../orchestrator/describe.ts';
import { isConverged, type Plan } from '../../orchestrator/plan.ts';
import type { Command, Context } from '../command.ts';
import { printErrors, readLayoutArgs } from '../layout-input.ts';

const command: Command = {
  name: 'plan',
  summary: 'Show what apply would change to make the vehicle match its layout',
  usage: 'plan [LAYOUT...] [--detailed-exitcode]',
  help: `LAYOUT: a layout file (with its NAME.d/*.yaml drop-ins) or a directory (DIR/layout.yaml + DIR/layout.d/);
default ${DEFAULT_LAYOUT} and its layout.d/. The layout is validated whole first.
Per node: ~ enable/disable, ↻ daemon-reload, + start, - stop, with what each waits for, and
! what systemd would refuse (enabling a masked unit: apply reports it as an error and holds back only
that unit's start and what needs it); then what waits for offline nodes, and a summary line.
A disable of an enabled-runtime unit removes its links under /run ("(runtime)").
  --detailed-exitcode   for scripts: 0 nothing to do, 2 changes (or units waiting), 1 error
Otherwise: 0, 2 for an invalid layout, 3 BlueChi unreachable, 4 a layout node BlueChi does not know.
JSON: { steps: [{ id, action, node, unit, after, afterEnded, change, scopes?, error? }], waiting: [{ key, node, reason }], offline, counts }
(after: steps that must end done first; afterEnded: steps that must end first, whatever their result)`,
  options: { 'detailed-exitcode': { type: 'boolean' } },
  args: [0],
  async run(context, paths, options) {
    const detailed = options['detailed-exitcode'] === true;
    const layout = await readLayoutArgs(context, 'plan', paths);
    if (!layout) return detailed ? 1 : ExitCode.usage;
    let result;
    try {
      result = await planVehicle(await context.blueChi(), layout);
    } catch (error) {
      // The detailed exit codes promise 1 for any error, where qmctl would otherwise say 3 or 4.
      if (!detailed || !isQmError(error)) throw error;
      context.stderr.write(`qmctl plan: ${error.message}\n`);
      return 1;
    }
    if (result.kind === 'refused') {
      printErrors(context, 'plan', result.errors);
      return detailed ? 1 : ExitCode.node;
    }
    printPlan(context, result.plan);
    if (!detailed) return ExitCode.ok;
    return isConverged(result.plan) ? 0 : 2;
  },
};
export default command;

export function printPlan(context: Context, plan: Plan): void {
  if (context.global.json) context.printJson({ ...plan, counts: countSteps(plan) });
  else context.print(describePlan(plan, context.tty));
}
