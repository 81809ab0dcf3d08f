// The shipped manual pages (dist/man, from `npm run build`) as man shows them: without warnings, holding the text
// --help prints, and naming what the units' Documentation= lines promise.
import test from 'ava';
import { execFile } from 'node:child_process';
import { access, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { qmctlHelp } from '../../controller/cli/main.ts';
import { commandNames, loadCommand } from '../../controller/cli/registry.ts';
import { usage as controllerUsage } from '../../controller/daemon/main.ts';
import { escapeRoff, manPage, textLine } from '../../controller/cli/man.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const MAN = join(root, 'dist/man');
const PAGES = ['qmctl.1', 'qm-controller.8', 'qm.8', 'qm-layout.5'];

/** `man --warnings -l FILE` as a person runs it, in `locale`, 80 columns. */
function man(file: string, locale = 'C.UTF-8', width = 80): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('man', ['--warnings', '-l', file], { env: { PATH: process.env.PATH, LC_ALL: locale, MANWIDTH: String(width), MAN_KEEP_FORMATTING: '' } }, (error, stdout, stderr) =>
      error ? reject(new Error(`man -l ${file}: ${error.message}\n${stderr}`)) : resolve({ stdout, stderr }),
    );
  });
}

// Wide enough that few long paths need the break points the pages allow after a slash or dot.
const WIDE = 200;

/** Text with its layout gone: man fills, indents and breaks long paths after a slash; the words stay. */
const words = (text: string) => text.replace(/(\S\/)\s+/g, '$1').replace(/\s+/g, ' ').trim();

test('every page renders without a warning, on a UTF-8 and on an ASCII terminal, wide or narrow', async (t) => {
  for (const page of PAGES) {
    for (const [locale, width] of [['C.UTF-8', 80], ['C', 80], ['C.UTF-8', 60]] as const) {
      const { stdout, stderr } = await man(join(MAN, page), locale, width);
      t.is(stderr, '', `${page} in ${locale} at ${width} columns`);
      t.regex(stdout, /^NAME\n/m, page);
    }
  }
});

test("every Documentation=man: line of the units names a page the build makes, and every unit has one", async (t) => {
  const files = (await readdir(join(root, 'units'))).filter((name) => /\.(service|socket|path|container)$/.test(name));
  t.true(files.length >= 6);
  for (const file of files) {
    const text = await readFile(join(root, 'units', file), 'utf8');
    const pages = [...text.matchAll(/^Documentation=(.*)$/gm)].flatMap((match) => match[1]!.trim().split(/\s+/)).filter((uri) => uri.startsWith('man:'));
    t.true(pages.length > 0, `${file} points at no man page`);
    for (const uri of pages) {
      const [, name, section] = /^man:([\w.-]+)\((\d)\)$/.exec(uri) ?? [];
      t.truthy(name, `${file}: ${uri} is not man:NAME(SECTION)`);
      await t.notThrowsAsync(access(join(MAN, `${name}.${section}`)), `${file}: ${uri} is not generated`);
    }
  }
});

test('qmctl(1) holds what --help prints: each command with its usage, summary and help, the common options and exit codes', async (t) => {
  const page = words((await man(join(MAN, 'qmctl.1'), 'C.UTF-8', WIDE)).stdout);
  for (const name of commandNames) {
    const command = (await loadCommand(name))!;
    for (const line of command.usage.split('\n')) t.true(page.includes(`qmctl ${words(line)}`), `usage of ${name}: ${line}`);
    t.true(page.includes(command.summary), `summary of ${name}`);
    if (command.help) t.true(page.includes(words(command.help)), `help of ${name}`);
  }
  t.true(page.includes(words(qmctlHelp.commonOptions)));
  t.true(page.includes(`EXIT STATUS ${words(qmctlHelp.exitCodes)}`));
  t.true(page.includes(`SYNOPSIS ${qmctlHelp.synopsis}`));
});

test('qm-controller(8) is its --help: synopsis, description, options, exit status', async (t) => {
  const page = words((await man(join(MAN, 'qm-controller.8'), 'C.UTF-8', WIDE)).stdout);
  const [synopsis, ...rest] = controllerUsage.split('\n');
  t.true(page.includes(`SYNOPSIS ${synopsis!.replace('Usage: ', '')}`));
  for (const line of rest.filter((text) => text.trim() !== '')) t.true(page.includes(words(line.replace(/^Exit: /, ''))), line);
  t.regex(page, /OPTIONS --layout PATH a layout file/);
  t.regex(page, /EXIT STATUS 0 stopped by SIGTERM\/SIGINT, 2 usage or invalid layout, 3 cannot serve\./);
});

test("qm(8) names the partition's files and units, and the OOM scores the shipped files set", async (t) => {
  const page = words((await man(join(MAN, 'qm.8'), 'C.UTF-8', WIDE)).stdout);
  for (const path of [
    '/usr/share/containers/systemd/qm.container',
    '/usr/share/containers/systemd/qm.container.d/*.conf',
    '/etc/containers/systemd/qm.container.d/*.conf',
    '/usr/lib/qm/rootfs',
    '/etc/qm/containers/containers.conf',
    '/etc/qm/containers/containers.conf.d/*.conf',
    '/var/qm',
    'qm-bluechi-gate.socket',
    'qm-bluechi-gate.service',
    'qm-agent-config.path',
    'qm-agent-config.service',
  ]) {
    t.true(page.includes(path), path);
  }
  const qm = /^OOMScoreAdjust=(\d+)$/m.exec(await readFile(join(root, 'units/qm.container'), 'utf8'))?.[1];
  const nested = /^oom_score_adj = (\d+)$/m.exec(await readFile(join(root, 'units/containers.conf'), 'utf8'))?.[1];
  t.true(page.includes(`nested containers (oom_score_adj ${nested}`));
  t.true(page.includes(`then QM itself (OOMScoreAdjust=${qm})`));
});

test('qm-layout(5) is docs/layout.md: every key of its table a tagged paragraph, the example verbatim', async (t) => {
  const page = (await man(join(MAN, 'qm-layout.5'))).stdout;
  const markdown = await readFile(join(root, 'docs/layout.md'), 'utf8');
  const keys = [...markdown.matchAll(/^\| `([\w-]+)` \| (\w+) \|/gm)].map((match) => [match[1]!, match[2]!] as const);
  t.true(keys.length >= 9);
  for (const [key, where] of keys) t.regex(page, new RegExp(`^ {7}${key} \\(${where}\\)$`, 'm'), key);
  t.true(page.includes('        qm: true                    # hosts a QM partition, whose agent is the node qm.ecu-main'));
});

test('text that roff would take for requests or escapes comes out as written', async (t) => {
  const nasty = [".TH a line that starts with a dot", "'also an apostrophe", 'back\\slash \\fB not bold \\n(.g', '--option -x a-b', 'unicode → … — ✓'];
  const page = manPage({ name: 'nasty', section: 1, purpose: 'test', version: '0' }, [{ heading: 'DESCRIPTION', lines: nasty.flatMap((line) => ['.PP', textLine(escapeRoff(line))]) }]);
  const dir = await mkdtemp(join(tmpdir(), 'qm-man-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'nasty.1'), page);
  const { stdout, stderr } = await man(join(dir, 'nasty.1'));
  t.is(stderr, '');
  for (const line of nasty) t.true(stdout.includes(`       ${line}\n`), line);
});
