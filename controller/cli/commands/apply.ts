// qmctl apply [LAYOUT…]: make the vehicle match its layout, with live progress per node and a summary.
import { callDaemon, daemonRunning, type ApplySummary, type UnconvergedJson } from '../../daemon/api.ts';
import { formatError } from '../../daemon/format.ts';
import { ExitCode } from '../../errors.ts';
import { DEFAULT_LAYOUT } from '../../layout/index.ts';
import { applyLayout } from '../../orchestrator/apply.ts';
import { summaryLine } from '../../orchestrator/describe.ts';
import type { ExecutionEvent, StepReport } from '../../orchestrator/execute.ts';
import type { Plan } from '../../orchestrator/plan.ts';
import type { Unconverged } from '../../orchestrator/unconverged.ts';
import type { Command, Context } from '../command.ts';
import { painted, table } from '../format.ts';
import { reportInterrupted } from '../interrupt.ts';
import { printErrors, readLayoutArgs } from '../layout-input.ts';
import { secondsOption } from '../seconds.ts';
import { printPlan } from './plan.ts';

const command: Command = {
  name: 'apply',
  summary: 'Make the vehicle match its layout: enable, reload, start and stop in dependency order',
  usage: 'apply [LAYOUT...] [--dry-run] [--wait-offline SECONDS]',
  help: `LAYOUT as for plan (default ${DEFAULT_LAYOUT} and its layout.d/). Without LAYOUT (and without
--dry-run), when the qm-controller daemon runs, it does the apply (its layout, one apply at a time, restart
budgets reset) and qmctl prints its summary (JSON: the daemon's ApplySummary). The layout is validated whole, the
vehicle observed and the plan made before anything changes. Independent steps run at once, on every
node; a step runs only after the steps it waits for ended 'done'; a failed step stops what depends on
it, not the rest. Applying again when nothing changed makes no calls on the nodes.
  --dry-run                 show the plan, change nothing
  --wait-offline SECONDS    how long a step waits for its node when the node goes offline mid-apply (default 30)
On a terminal: live progress per node on stderr; then a table of every step and its job result.
A start runs only if every unit it needs is running just then: one whose start job ended 'done' but that
failed right after stops what needs it, like a failed step. Once the steps ended, the vehicle is observed
again: every unit not as the layout wants is listed ("not as the layout wants: NODE/UNIT is failed, wanted
running") and the exit is 1.
Exit: 0 all done and the vehicle as the layout wants; 1 a step did not end 'done', or a unit is not as the
layout wants; 2 invalid layout; 3 BlueChi unreachable;
4 a layout node unknown to BlueChi, or units left waiting for offline nodes; 130 interrupted (Ctrl-C:
no new step starts, those not started end 'canceled', jobs already started go on).
JSON: { steps: [{ id, action, node, unit, result, job, error, blockedBy, attempts, startedMs, endedMs }], waiting, offline,
unconverged: [{ node, unit, desired, observed }] }`,
  options: { 'dry-run': { type: 'boolean' }, 'wait-offline': { type: 'string' } },
  args: [0],
  async run(context, paths, options) {
    const wait = options['wait-offline'] === undefined ? { ms: 30_000 } : secondsOption('wait-offline', options['wait-offline'] as string, { zero: true });
    if ('error' in wait) {
      context.stderr.write(`qmctl apply: ${wait.error}\n`);
      return ExitCode.usage;
    }
    // The daemon's layout is the default one: without LAYOUT arguments, a running daemon does the apply (one at a time).
    if (paths.length === 0 && options['dry-run'] !== true) {
      const client = await context.blueChi();
      if (await daemonRunning(client.bus)) {
        context.waiting("qm-controller's apply continues in the background.");
        return applyThroughDaemon(context, await callDaemon<ApplySummary>(client.bus, 'Apply', context.global.timeoutMs * 10));
      }
    }
    const layout = await readLayoutArgs(context, 'apply', paths);
    if (!layout) return ExitCode.usage;
    const progress = context.tty ? liveProgress(context) : undefined;
    const result = await applyLayout(await context.blueChi(), layout, {
      dryRun: options['dry-run'] === true,
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
    if (result.kind === 'refused') {
      printErrors(context, 'apply', result.errors);
      return ExitCode.node;
    }
    if (options['dry-run'] === true) {
      printPlan(context, result.plan);
      return ExitCode.ok;
    }
    printSummary(context, result.plan, result.reports, result.unconverged);
    // The interrupt ended every wait at once and started nothing new: the summary says which steps were canceled.
    if (context.interrupted.aborted) return reportInterrupted(context.stderr, 'apply', 'Jobs already started continue in the background; no new step was started.');
    if (result.reports.some((report) => report.result !== 'done') || result.unconverged.length > 0) return ExitCode.jobFailed;
    return result.plan.waiting.length > 0 ? ExitCode.node : ExitCode.ok;
  },
};
export default command;

function applyThroughDaemon(context: Context, reply: ApplySummary): number {
  // A daemon from before `unconverged` (still running across an upgrade) does not send it.
  const summary = { ...reply, unconverged: (reply.unconverged as ApplySummary['unconverged'] | undefined) ?? [] };
  if (context.global.json) context.printJson(summary);
  else {
    const rows = summary.steps.map((step) => [step.id, painted(context.tty, step.result), step.error?.message ?? (step.blockedBy ? `not run: ${step.blockedBy} did not end done` : '')]);
    if (rows.length > 0) context.print(table(['STEP', 'RESULT', 'DETAIL'], rows));
    for (const wait of summary.waiting) context.print(`waiting: ${wait.key}: ${wait.reason}`);
    printUnconverged(context, summary.unconverged);
    const done = summary.steps.filter((step) => step.result === 'done').length;
    context.print(`qm-controller applied: ${summary.outcome}, ${done} of ${summary.steps.length} steps done${unconvergedCount(summary.unconverged)}.`);
  }
  for (const error of summary.errors) context.stderr.write(`qmctl apply: ${formatError(error)}\n`);
  if (summary.outcome === 'unreachable') return ExitCode.unreachable;
  if (summary.outcome === 'refused') return ExitCode.node;
  if (summary.outcome === 'failed' || summary.steps.some((step) => step.result !== 'done') || summary.unconverged.length > 0) return ExitCode.jobFailed;
  return summary.waiting.length > 0 ? ExitCode.node : ExitCode.ok;
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

function printSummary(context: Context, plan: Plan, reports: readonly StepReport[], unconverged: readonly Unconverged[]): void {
  if (context.global.json) {
    context.printJson({
      steps: reports.map((report) => ({
        id: report.step.id,
        action: report.step.action,
        node: report.step.node,
        unit: report.step.unit,
        result: report.result,
        job: report.job,
        error: report.error?.toJSON(),
        blockedBy: report.blockedBy,
        attempts: report.attempts,
        startedMs: report.startedMs,
        endedMs: report.endedMs,
      })),
      waiting: plan.waiting,
      offline: plan.offline,
      unconverged,
    });
    return;
  }
  if (reports.length > 0) {
    const rows = reports.map((report) => [
      report.step.node,
      report.step.action,
      report.step.unit ?? '',
      painted(context.tty, report.result),
      report.startedMs === undefined ? '' : `${report.endedMs! - report.startedMs} ms`,
      report.error?.message ?? (report.blockedBy ? `not run: ${report.blockedBy} did not end done` : ''),
    ]);
    context.print(table(['NODE', 'ACTION', 'UNIT', 'RESULT', 'TIME', 'DETAIL'], rows));
  }
  for (const wait of plan.waiting) context.print(`waiting: ${wait.key}: ${wait.reason}`);
  printUnconverged(context, unconverged);
  const failed = reports.filter((report) => report.result !== 'done').length;
  context.print(reports.length === 0 ? summaryLine(plan) : `${reports.length - failed} of ${reports.length} steps done${failed > 0 ? `, ${failed} not` : ''}${unconvergedCount(unconverged)}.`);
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
