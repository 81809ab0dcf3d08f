import { parseNodeName, parseUnitName } from '../../unit-names.ts';
import type { Command } from '../command.ts';

const command: Command = {
  name: 'is-enabled',
  summary: 'Show whether a unit file is enabled on a node',
  usage: 'is-enabled NODE UNIT',
  help: "Exit 0 when the state is enabled, enabled-runtime, static, alias, indirect or generated, 1 otherwise (as systemctl).\nJSON: { node, unit, state }",
  args: [2, 2],
  async run(context, [node, unit]) {
    parseNodeName(node!);
    parseUnitName(unit!);
    const state = await (await context.blueChi()).node(node!).getUnitFileState(unit!);
    if (context.global.json) context.printJson({ node, unit, state });
    else context.print(state);
    return ['enabled', 'enabled-runtime', 'static', 'alias', 'indirect', 'generated'].includes(state) ? 0 : 1;
  },
};
export default command;
