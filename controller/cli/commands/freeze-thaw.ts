// freeze and thaw: the cgroup freezer on units of one node.
import { parseNodeName, parseUnitName } from '../../unit-names.ts';
import type { Command } from '../command.ts';

export function freezerCommand(action: 'freeze' | 'thaw'): Command {
  return {
    name: action,
    summary: action === 'freeze' ? 'Freeze units (suspend their processes) on a node' : 'Thaw frozen units on a node',
    usage: `${action} NODE UNIT...`,
    help: 'JSON: [{ node, unit, ok: true }]',
    args: [2],
    async run(context, [node, ...units]) {
      parseNodeName(node!);
      units.forEach(parseUnitName);
      const target = (await context.blueChi()).node(node!);
      await Promise.all(units.map((unit) => (action === 'freeze' ? target.freezeUnit(unit) : target.thawUnit(unit))));
      const done = units.map((unit) => ({ node: node!, unit, ok: true }));
      if (context.global.json) context.printJson(done);
      else context.print(done.map(({ unit }) => `${action === 'freeze' ? 'Froze' : 'Thawed'} ${unit} on ${node}`).join('\n'));
      return 0;
    },
  };
}
