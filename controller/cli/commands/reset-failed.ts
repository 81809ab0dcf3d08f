import { parseNodeName, parseUnitName } from '../../unit-names.ts';
import type { Command } from '../command.ts';

const command: Command = {
  name: 'reset-failed',
  summary: "Reset units' failed state: of every node, of one node, or of some units",
  usage: 'reset-failed [NODE] [UNIT...]',
  help: 'JSON: [{ node, unit? }] for what was reset',
  args: [0],
  async run(context, [node, ...units]) {
    if (node !== undefined) parseNodeName(node);
    units.forEach(parseUnitName);
    const client = await context.blueChi();
    let reset: Array<{ node: string; unit?: string }>;
    if (node === undefined) {
      const online = (await client.listNodes()).filter((info) => info.status === 'online');
      await Promise.all(online.map((info) => client.node(info.name).resetFailed()));
      reset = online.map((info) => ({ node: info.name }));
    } else if (units.length === 0) {
      await client.node(node).resetFailed();
      reset = [{ node }];
    } else {
      await Promise.all(units.map((unit) => client.node(node).resetFailedUnit(unit)));
      reset = units.map((unit) => ({ node, unit }));
    }
    if (context.global.json) context.printJson(reset);
    else context.print(reset.map((entry) => `Reset failed state of ${entry.unit ?? 'all units'} on ${entry.node}`).join('\n'));
    return 0;
  },
};
export default command;
