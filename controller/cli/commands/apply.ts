// qmctl apply [LAYOUT…]: make the vehicle match its layout. One apply path: when qm-controller runs, it is the
// executor and qmctl its client (Apply, then the job's JobRemoved); with --direct or LAYOUT, or without a daemon, qmctl
// applies itself. Either way the same summary, the same JSON and the same exit codes, saying which path ran.
import { applyExitCode, type ApplySummary, type UnconvergedJson } from '../../daemon/api.ts';
import { applyThroughController, controllerPlan, daemonRunning } from '../../daemon/client.ts';
import { formatError } from '../../daemon/format.ts';
import { summarizeApply } from '../../daemon/summary.ts';
import { ExitCode } from '../../errors.ts';
import { DEFAULT_LAYOUT } from '../../layout/index.ts';
import { applyLayout } from '../../orchestrator/apply.ts';
import { summaryLine } from '../../orchestrator/describe.ts';
import type { ExecutionEvent } from '../../orchestrator/execute.ts';
import type { Plan } from '../../orchestrator/plan.ts';
import type { Command, Context } from '../command.ts';
import { painted, table } from '../format.ts';
import { reportInterrupted } from '../interrupt.ts';
import { printErrors, readLayoutArgs } from '../layout-input.ts';
import { secondsOption } from '../seconds.ts';
import { printPlan } from './plan.ts';

const command: Command = {
  name: 'apply',
  summary: 'Make the vehicle match its layout: enable, reload, start and stop in dependency order',
  usage: 'apply [LAYOUT...] [--direct] [--dry-run] [--wait-offline SECONDS]',
  help: `LAYOUT as for plan (default ${DEFAULT_LAYOUT} and its layout.d/). When the qm-controller daemon runs
and neither LAYOUT nor --direct is given, the daemon applies (its layout, one apply at a time, restart budgets
reset; --wait-offline and --timeout go with the request) and qmctl waits for its job to end; otherwise qmctl
applies itself. The summary, the JSON and the exit status are the same either way; the last line says which path
ran. The layout is validated whole, the vehicle observed and the plan made before anything changes. Independent
steps run at once, on every node; a step runs only after the steps it waits for ended 'done'; a failed step stops
what depends on it, not the rest. Applying again when nothing changed makes no calls on the nodes.
  --direct                  apply from qmctl itself, without the daemon
  --dry-run                 show the plan (the daemon's, when it would apply), change nothing
  --wait-offline SECONDS    how long a step waits for its node when the node goes offline mid-apply (default 30)
On a terminal, applying directly: live progress per node on stderr. Then a table of every step and its job result.
A start runs only if every unit it needs is running just then: one whose start job ended 'done' but that
failed right after stops what needs it, like a failed step. Once the steps ended, the vehicle is observed
again: every unit not as the layout wants is listed ("not as the layout wants: NODE/UNIT is failed, wanted
running") and the exit is 1.
Exit: 0 all done and the vehicle as the layout wants; 1 a step did not end 'done', or a unit is not as the
layout wants; 2 invalid layout; 3 BlueChi (or the daemon, mid-apply) unreachable;
4 a layout node unknown to BlueChi, or units left waiting for offline nodes; 130 interrupted (Ctrl-C:
no new step starts, those not started end 'canceled', jobs already started go on; through the daemon, its apply goes on).
JSON: { path: qm-controller|direct, trigger, outcome: applied|refused|unreachable|failed, startedAt, endedAt,
steps: [{ id, action, node, unit, result, job, error, blockedBy, attempts, startedMs, endedMs }], waiting: [{ key, node, reason }],
offline, unconverged: [{ node, unit, desired, observed }], errors: [{ code, message, ... }] }`,
  options: { direct: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, 'wait-offline': { type: 'string' } },
  args: [0],
  async run(context, paths, options) {
    const wait = options['wait-offline'] === undefined ? { ms: 30_000 } : secondsOption('wait-offline', options['wait-offline'] as string, { zero: true });
    if ('error' in wait) {
      context.stderr.write(`qmctl apply: ${wait.error}\n`);
      return ExitCode.usage;
    }
    const dryRun = options['dry-run'] === true;
    // The daemon applies its own layout: LAYOUT arguments, or --direct, mean qmctl applies.
    const why = options.direct === true ? '--direct' : paths.length > 0 ? 'LAYOUT given' : undefined;
    if (why === undefined) {
      const { bus } = await context.blueChi();
      if (await daemonRunning(bus)) {
        if (dryRun) {
          context.waiting('');
          printPlan(context, await controllerPlan(bus));
          return ExitCode.ok;
        }
        context.waiting("qm-controller's apply continues in the background.");
        const summary = await applyThroughController(bus, { offlineWaitMs: wait.ms, jobTimeoutMs: context.global.timeoutMs }, context.global.timeoutMs * 10 + wait.ms);
        return printSummary(context, summary, 'qm-controller', 'Applied by qm-controller.');
      }
    }
    const layout = await readLayoutArgs(context, 'apply', paths);
    if (!layout) return ExitCode.usage;
    const progress = context.tty ? liveProgress(context) : undefined;
    const startedAt = new Date().toISOString();
    const result = await applyLayout(await context.blueChi(), layout, {
      dryRun,
      timeoutMs: context.global.timeoutMs,
      offlineWaitMs: wait.ms,
      signal: context.interrupted,
      onPlan: (plan) => {
        // From the first step on, an interrupt starts nothing new and the summary says what became of each step.
        context.endsOnInterrupt();
        progress?.planned(plan);
      },
      onEvent: (event) => progress?.update(event),
    });
    progress?.done();
    if (result.kind === 'refused' && dryRun) {
      printErrors(context, 'apply', result.errors);
      return ExitCode.node;
    }
    if (result.kind === 'applied' && dryRun) {
      printPlan(context, result.plan);
      return ExitCode.ok;
    }
    const summary = summarizeApply({ trigger: 'operator', startedAt }, result);
    const code = printSummary(context, summary, 'direct', `Applied by qmctl directly (${why ?? 'qm-controller is not running'}).`);
    // The interrupt ended every wait at once and started nothing new: the summary says which steps were canceled.
    if (context.interrupted.aborted) return reportInterrupted(context.stderr, 'apply', 'Jobs already started continue in the background; no new step was started.');
    return code;
  },
};
export default command;

/** The summary, whichever path ran: JSON, or a table of the steps, what waits, what is not as wanted, a count and the path. */
function printSummary(context: Context, summary: ApplySummary, path: 'qm-controller' | 'direct', pathLine: string): number {
  if (context.global.json) context.printJson({ path, ...summary });
  else {
    if (summary.steps.length > 0) {
      const rows = summary.steps.map((step) => [
        step.node,
        step.action,
        step.unit ?? '',
        painted(context.tty, step.result),
        step.startedMs === undefined || step.endedMs === undefined ? '' : `${step.endedMs - step.startedMs} ms`,
        step.error?.message ?? (step.blockedBy ? `not run: ${step.blockedBy} did not end done` : ''),
      ]);
      context.print(table(['NODE', 'ACTION', 'UNIT', 'RESULT', 'TIME', 'DETAIL'], rows));
    }
    for (const wait of summary.waiting) context.print(`waiting: ${wait.key}: ${wait.reason}`);
    printUnconverged(context, summary.unconverged);
    const failed = summary.steps.filter((step) => step.result !== 'done').length;
    const nothingRan: Plan = { steps: [], waiting: summary.waiting as Plan['waiting'], offline: summary.offline as Plan['offline'] };
    if (summary.outcome === 'applied') {
      context.print(
        summary.steps.length === 0
          ? summaryLine(nothingRan)
          : `${summary.steps.length - failed} of ${summary.steps.length} steps done${failed > 0 ? `, ${failed} not` : ''}${unconvergedCount(summary.unconverged)}.`,
      );
    } else context.print(`Not applied: ${summary.outcome}.`);
    context.print(pathLine);
  }
  for (const error of summary.errors) context.stderr.write(`qmctl apply: ${formatError(error)}\n`);
  if (summary.outcome === 'refused') context.stderr.write(`qmctl apply: ${summary.errors.length} error${summary.errors.length === 1 ? '' : 's'}; nothing was changed\n`);
  return applyExitCode(summary);
}

/** One line per unit the nodes report not as the layout wants, after the steps. */
function printUnconverged(context: Context, units: readonly UnconvergedJson[]): void {
  for (const unit of units) context.print(`not as the layout wants: ${unit.node}/${unit.unit} is ${painted(context.tty, unit.observed)}, wanted ${unit.desired}`);
}

/** `; 1 unit not as the layout wants` for the summary line, or nothing. */
function unconvergedCount(units: readonly UnconvergedJson[]): string {
  const count = new Set(units.map((unit) => `${unit.node}/${unit.unit}`)).size;
  return count === 0 ? '' : `; ${count} unit${count === 1 ? '' : 's'} not as the layout wants`;
}

/** One line per node on stderr, redrawn in place: done/total and what runs now. */
function liveProgress(context: Context) {
  const nodes = new Map<string, { total: number; done: number; failed: number; running: Set<string>; offline: boolean }>();
  let drawn = 0;
  const draw = () => {
    const lines = [...nodes].map(([node, state]) => {
      const running = [...state.running].slice(0, 3).join(', ');
      const failed = state.failed > 0 ? `, ${painted(true, 'failed')} ${state.failed}` : '';
      const offline = state.offline ? ` ${painted(true, 'offline')}, waiting` : '';
      return `${node}: ${state.done}/${state.total}${failed}${offline}${running ? `  ${running}` : ''}`;
    });
    context.stderr.write(`${drawn > 0 ? `\u001b[${drawn}F` : ''}${lines.map((line) => `\u001b[2K${line}\n`).join('')}`);
    drawn = lines.length;
  };
  return {
    planned(plan: Plan) {
      for (const step of plan.steps) {
        const state = nodes.get(step.node) ?? { total: 0, done: 0, failed: 0, running: new Set<string>(), offline: false };
        state.total += 1;
        nodes.set(step.node, state);
      }
      if (nodes.size > 0) draw();
    },
    update(event: ExecutionEvent) {
      const step = event.kind === 'ended' ? event.report.step : event.step;
      const state = nodes.get(step.node);
      if (!state) return;
      const label = `${step.action} ${step.unit ?? ''}`.trim();
      if (event.kind === 'started') {
        state.running.add(label);
        state.offline = false;
      } else if (event.kind === 'offline') state.offline = true;
      else {
        state.running.delete(label);
        if (event.report.result === 'done') state.done += 1;
        else state.failed += 1;
      }
      draw();
    },
    done() {
      drawn = 0;
    },
  };
}
