// Unit jobs on many nodes and units at once: concurrent, results in the order asked.
import type { BlueChi, JobMode, JobOutcome, UnitOperation } from '../bluechi/client.ts';
import { isQmError, QmError } from '../errors.ts';
import { parseNodeName, parseUnitName } from '../unit-names.ts';

export interface JobRequest {
  readonly node: string;
  readonly unit: string;
}

export type JobReport =
  | (JobRequest & { readonly ok: true; readonly outcome: JobOutcome })
  | (JobRequest & { readonly ok: false; readonly error: QmError });

/**
 * Every (node, unit) pair, nodes outer, each once (BlueChi never reports the end of a job merged into
 * a newer one, so a pair asked twice would wait forever); names are checked before anything is sent.
 */
export function crossRequests(nodes: readonly string[], units: readonly string[]): JobRequest[] {
  const uniqueNodes = [...new Set(nodes.map(parseNodeName))];
  const uniqueUnits = [...new Set(units.map(parseUnitName))];
  return uniqueNodes.flatMap((node) => uniqueUnits.map((unit) => ({ node, unit })));
}

export async function runUnitJobs(
  client: BlueChi,
  operation: UnitOperation,
  requests: readonly JobRequest[],
  options: { mode?: JobMode; timeoutMs?: number; onReport?: (report: JobReport, index: number) => void } = {},
): Promise<JobReport[]> {
  return Promise.all(
    requests.map(async (request, index) => {
      let report: JobReport;
      try {
        const outcome = await client.node(request.node).runJob(operation, request.unit, options.mode, options.timeoutMs);
        report = { ...request, ok: true, outcome };
      } catch (error) {
        if (!isQmError(error)) throw error;
        report = { ...request, ok: false, error };
      }
      options.onReport?.(report, index);
      return report;
    }),
  );
}

/** The first error that decides the exit code: node and bus problems outrank failed jobs. */
export function worstError(reports: readonly JobReport[]): QmError | undefined {
  const errors = reports.flatMap((report) => (report.ok ? [] : [report.error]));
  return errors.sort((a, b) => b.exitCode - a.exitCode)[0];
}
