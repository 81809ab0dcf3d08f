// qmctl layout check FILE…: validate a layout (with its drop-ins) without talking to BlueChi.
import { ExitCode } from '../../errors.ts';
import { layoutNodes } from '../../layout/index.ts';
import type { Command } from '../command.ts';
import { readLayoutArgs } from '../layout-input.ts';

const command: Command = {
  name: 'layout',
  summary: 'Check vehicle layout files: every error at once, with file:line:column',
  usage: 'layout check FILE|DIR...',
  help: `check   validates the layout the files make together: each FILE with its drop-ins
        (NAME.d/*.yaml beside it), a DIR as DIR/layout.yaml + DIR/layout.d/, merged in order.
Prints every problem as file:line:column: field: message and exits 2, or prints a summary and exits 0.
Nothing is sent to BlueChi. The format is documented in qm-layout(5) (docs/layout.md).
JSON: { files, nodes: [..], units: N } or { errors: [{ code, message, file, line, column, field }] }`,
  args: [2],
  async run(context, [action, ...paths]) {
    if (action !== 'check') {
      context.stderr.write(`qmctl layout: unknown action ${JSON.stringify(action)}; the action is "check"\nUsage: qmctl ${command.usage}\n`);
      return ExitCode.usage;
    }
    const layout = await readLayoutArgs(context, 'layout check', paths);
    if (!layout) return ExitCode.usage;
    const nodes = layoutNodes(layout);
    if (context.global.json) context.printJson({ files: layout.files, nodes, units: layout.units.size });
    else context.print(`${layout.files.join(', ')}: valid — ${layout.units.size} units on ${nodes.length} nodes (${nodes.join(', ')})`);
    return ExitCode.ok;
  },
};
export default command;
