// The stand-in's agent socket as a process, for a vehicle node's /run/bluechi/bluechi.sock:
//   node --import tsx test/standin/agent-socket-main.ts --socket PATH --node NAME [--node NAME]...
// prints "ready", then one JSON line per event (connected, register, disconnected); stops on SIGTERM.
import { parseArgs } from 'node:util';
import { startAgentSocket } from './agent-socket.ts';

const { values } = parseArgs({ options: { socket: { type: 'string' }, node: { type: 'string', multiple: true } }, strict: true });
if (!values.socket || !values.node?.length) {
  process.stderr.write('usage: agent-socket-main.ts --socket PATH --node NAME [--node NAME]...\n');
  process.exit(2);
}
const socket = await startAgentSocket({ path: values.socket, nodes: values.node });
let written = 0;
const flush = () => {
  for (; written < socket.events.length; written++) process.stdout.write(`${JSON.stringify(socket.events[written])}\n`);
};
const timer = setInterval(flush, 20);
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  clearInterval(timer);
  flush();
  void socket.stop().then(() => process.exit(0));
});
