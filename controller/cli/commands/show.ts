import type { Command, Context } from '../command.ts';
import { table } from '../format.ts';
import type { ShowResult } from '../../partition/show.ts';

const command: Command = {
  name: 'show',
  summary: 'Show the QM partition: its configuration, sockets, shared memory, resources, devices, namespaces',
  usage: 'show [container|unix-domain-sockets|shared-memory|resources|available-devices|namespaces|all] [--json]',
  help: `container            qm.container and its drop-ins, in the order quadlet applies them (default)
unix-domain-sockets  listening UNIX sockets inside QM (ss -xl)
shared-memory        System V segments and POSIX objects (/dev/shm) inside QM
resources            memory, CPU, tasks and OOM score of QM now
available-devices    the AddDevice= devices and whether QM has them
namespaces           QM's namespaces, and which are its own rather than the host's
all                  every topic; one that fails shows its error
JSON: { TOPIC: value, ... } with the topics asked for.`,
  args: [0, 1],
  async run(context, [topicArgument]) {
    const { parseTopic, show } = await import('../../partition/show.ts');
    const result = await show(parseTopic(topicArgument));
    if (context.global.json) context.printJson(result);
    else printHuman(context, result);
    return 0;
  },
};
export default command;

function printHuman(context: Context, result: ShowResult): void {
  for (const [topic, value] of Object.entries(result)) {
    if (Object.keys(result).length > 1) context.print(`== ${topic} ==`);
    if (value && typeof value === 'object' && 'error' in value) {
      context.print(`error: ${String((value as { error: unknown }).error)}`);
      continue;
    }
    switch (topic) {
      case 'container':
        for (const file of value as Array<{ path: string; text: string }>) context.print(`# ${file.path}\n${file.text}`);
        break;
      case 'unix-domain-sockets':
        context.print(table(['STATE', 'RECV-Q', 'SEND-Q', 'LOCAL', 'PEER'], (value as Array<Record<string, unknown>>).map((s) => [String(s.state), String(s.recvQ), String(s.sendQ), String(s.local), String(s.peer)])));
        break;
      case 'available-devices':
        for (const d of value as Array<{ device: string; present: boolean }>) context.print(`${d.device}: ${d.present ? 'present in QM' : 'missing in QM'}`);
        break;
      case 'namespaces':
        context.print(table(['TYPE', 'NAMESPACE', 'OWN'], (value as Array<{ type: string; qm: string; own: boolean }>).map((n) => [n.type, n.qm, n.own ? 'yes' : 'shared with host'])));
        break;
      default:
        context.print(JSON.stringify(value, null, 2));
    }
  }
}
