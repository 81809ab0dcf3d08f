// Writes the manual pages (dist/man) and the shell completion (dist/completion) from the commands' own help and
// option tables and from docs/; run by scripts/build.mjs as `node --import tsx scripts/gen-docs.ts [OUTDIR]`.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bashCompletion, completionTable, zshCompletion } from '../controller/cli/completion.ts';
import { MODES } from '../controller/cli/commands/unit-job.ts';
import { globalOptions, LOG_LEVELS, qmctlHelp } from '../controller/cli/main.ts';
import { manualPages } from '../controller/cli/man.ts';
import { commandNames, loadCommand } from '../controller/cli/registry.ts';
import { VERSION } from '../controller/cli/version.ts';
import { usage as controllerUsage } from '../controller/daemon/main.ts';

const out = process.argv[2] ?? 'dist';
const root = new URL('..', import.meta.url);
const commands = await Promise.all(commandNames.map(async (name) => (await loadCommand(name))!));
// Reproducible builds say when through SOURCE_DATE_EPOCH; otherwise the page carries no date.
const epoch = process.env.SOURCE_DATE_EPOCH;
const date = epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000).toISOString().slice(0, 10) : '';

const pages = manualPages({
  version: VERSION,
  date,
  qmctl: { ...qmctlHelp, commands },
  controllerUsage,
  partitionMarkdown: await readFile(new URL('docs/qm.md', root), 'utf8'),
  layoutMarkdown: await readFile(new URL('docs/layout.md', root), 'utf8'),
});
// Options whose help names a placeholder for a fixed set of values.
const table = completionTable(commands, globalOptions, qmctlHelp.commonOptions, { 'log-level': LOG_LEVELS, mode: MODES });
const files: Record<string, string> = {
  ...Object.fromEntries(Object.entries(pages).map(([name, text]) => [join('man', name), text])),
  [join('completion', 'qmctl.bash')]: bashCompletion(table),
  [join('completion', '_qmctl')]: zshCompletion(table),
};
for (const [name, text] of Object.entries(files)) {
  await mkdir(join(out, name, '..'), { recursive: true });
  await writeFile(join(out, name), text);
}
