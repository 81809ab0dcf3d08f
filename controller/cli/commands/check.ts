import type { Command, Context } from '../command.ts';
import type { CheckReport } from '../../partition/check.ts';

const command: Command = {
  name: 'check',
  summary: 'Check that QM is isolated from the host: upstream\'s FFI checks and known container escapes, each tried and reported',
  usage: 'check [--stress] [--json]',
  help: `Runs on the host, as root, with QM running. Each check is tried for real, from QM root, from a container nested
in QM (podman run --rootfs, no image needed) and from the host, with a probe whose permission check comes before any
effect (values written back unchanged, invalid module images, devices opened but never read): safe on a vehicle.
Checks that need SELinux report "not applicable" by name where it is not enabled; so do cases this kernel cannot do.
  --stress   also the checks that load the machine: memory (a hog in QM and in a nested container until the OOM
             killer ends it; an ASIL stand-in and QM's init must live on), fork_bomb (held by qm.service's pids
             limit while the host still forks) and disk (QM's /var filled to ENOSPC, the host's space unchanged;
             fails without writing where /var/qm is on the host's filesystem). Never on a vehicle in service
Exit 1 when any check fails.
JSON: { checks: [{ name, from: host|qm|nested, status: pass|fail|not-applicable, evidence, errno?, figures? }],
        passed, failed, notApplicable, seconds, stress }`,
  options: { stress: { type: 'boolean' } },
  args: [0, 0],
  async run(context, _args, values) {
    const { check } = await import('../../partition/check.ts');
    const report = await check({ stress: values.stress === true, progress: (line) => context.tty && context.stderr.write(`${line}\n`) });
    if (context.global.json) context.printJson(report);
    else printReport(context, report);
    return report.failed > 0 ? 1 : 0;
  },
};
export default command;

const label = { pass: 'PASS', fail: 'FAIL', 'not-applicable': 'N/A ' } as const;

/** The report a person reads: one line per check, its evidence and figures, then the totals. */
export function formatReport(report: CheckReport): string {
  const width = Math.max(...report.checks.map((result) => result.name.length));
  const lines = report.checks.map((result) => {
    const figures = result.figures ? ` [${Object.entries(result.figures).map(([key, value]) => `${key}=${value}`).join(' ')}]` : '';
    const errno = result.errno && !result.evidence.includes(result.errno) ? ` (${result.errno})` : '';
    return `${label[result.status]}  ${result.name.padEnd(width)}  ${result.from.padEnd(6)}  ${result.evidence}${errno}${figures}`;
  });
  lines.push(`${report.passed} passed, ${report.failed} failed, ${report.notApplicable} not applicable in ${report.seconds} s${report.stress ? ' (with --stress)' : ''}`);
  return lines.join('\n');
}

function printReport(context: Context, report: CheckReport): void {
  context.print(formatReport(report));
}
