// start, stop, restart and reload: one shape, several nodes and units at once.
import type { JobMode, UnitOperation } from '../../bluechi/client.ts';
import { ExitCode } from '../../errors.ts';
import { crossRequests, runUnitJobs, worstError, type JobReport } from '../../operations/unit-jobs.ts';
import { knownNodesHint } from '../../operations/status.ts';
import type { Command } from '../command.ts';
import { paint, painted, table } from '../format.ts';

export const MODES: readonly JobMode[] = ['replace', 'fail', 'isolate', 'ignore-dependencies', 'ignore-requirements'];

export function unitJobCommand(operation: UnitOperation): Command {
  return {
    name: operation,
    summary: `${operation[0]!.toUpperCase()}${operation.slice(1)} units on nodes and wait for their jobs`,
    usage: `${operation} NODE[,NODE...] UNIT... [--mode MODE]`,
    help: `Runs one ${operation} job per node and unit, all at once, and waits for each to end.
Output keeps the order asked. Exit 1 if any job ended other than 'done'; 130 when interrupted
(Ctrl-C) while waiting: the jobs continue in the background.
  --mode MODE   systemd job mode: ${MODES.join(', ')} (default replace)
JSON: [{ node, unit, result, job, id } | { node, unit, error: { code, message, dbusName } }]`,
    options: { mode: { type: 'string' } },
    args: [2],
    async run(context, [nodes, ...units], options) {
      const mode = (options.mode as JobMode | undefined) ?? 'replace';
      if (!MODES.includes(mode)) {
        context.stderr.write(`qmctl ${operation}: --mode must be one of ${MODES.join(', ')}\n`);
        return ExitCode.usage;
      }
      const requests = crossRequests(nodes!.split(','), units);
      const client = await context.blueChi();
      context.waiting('Jobs continue in the background.');
      const progress = context.tty && requests.length > 1;
      let finished = 0;
      const reports = await runUnitJobs(client, operation, requests, {
        mode,
        timeoutMs: context.global.timeoutMs,
        onReport: () => {
          finished += 1;
          if (progress) context.stderr.write(`\r${operation}: ${finished}/${requests.length} jobs finished`);
        },
      });
      if (progress) context.stderr.write('\n');
      printReports(context, reports);
      const worst = worstError(reports);
      if (worst?.code === 'node-offline' || worst?.code === 'node-unknown') {
        context.stderr.write(`qmctl ${operation}: ${worst.message}${await knownNodesHint(client)}\n`);
      }
      if (worst) return worst.exitCode;
      return reports.every((report) => report.ok && report.outcome.result === 'done') ? ExitCode.ok : ExitCode.jobFailed;
    },
  };
}

function printReports(context: Parameters<Command['run']>[0], reports: readonly JobReport[]): void {
  if (context.global.json) {
    context.printJson(
      reports.map((report) =>
        report.ok
          ? { node: report.node, unit: report.unit, result: report.outcome.result, job: report.outcome.job, id: report.outcome.id }
          : { node: report.node, unit: report.unit, error: report.error.toJSON() },
      ),
    );
    return;
  }
  const rows = reports.map((report) => [
    report.node,
    report.unit,
    report.ok ? painted(context.tty, report.outcome.result) : paint(context.tty, 'red', report.error.code),
    report.ok ? '' : report.error.message,
  ]);
  context.print(table(['NODE', 'UNIT', 'RESULT', 'ERROR'], rows));
}
