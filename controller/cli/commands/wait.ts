import type { Command } from '../command.ts';

const command: Command = {
  name: 'wait',
  summary: "Wait until QM's own systemd has finished booting, and say how it ended",
  usage: 'wait [--json]',
  help: `After \`systemctl start\` or \`restart qm.service\`: waits until systemd inside QM has finished booting (up to
--timeout), then prints its state as \`systemctl is-system-running\` does. qm.service returns from its start once
QM's container runs, before QM's systemd can answer: \`qmctl exec systemctl ...\` at that moment fails to connect.
Exits 0 when QM is running; 1 when it is degraded or in maintenance (its failed units on stderr), when qm.service
is inactive or failed on this host, or when QM has not finished booting within --timeout.
JSON: { state, failed, qmService?, seconds }`,
  args: [0, 0],
  async run(context) {
    const { waitForQmSystemd } = await import('../../partition/setup.ts');
    context.waiting("QM's boot goes on");
    const started = performance.now();
    const result = await waitForQmSystemd(context.global.timeoutMs, context.interrupted);
    const seconds = (performance.now() - started) / 1000;
    if (context.global.json) context.printJson({ ...result, seconds });
    else {
      context.print(result.state);
      if (result.qmService) context.stderr.write(`qmctl: qm.service is ${result.qmService} on this host: start it with systemctl start qm.service\n`);
      else if (result.state === 'unknown') context.stderr.write(`qmctl: QM's systemd did not answer within ${(context.global.timeoutMs / 1000).toFixed(0)} s\n`);
      else if (result.failed.length) context.stderr.write(`qmctl: failed units inside QM: ${result.failed.join(', ')}\n`);
    }
    return result.state === 'running' ? 0 : 1;
  },
};
export default command;
