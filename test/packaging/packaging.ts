// Building qm's packages for the packaging tests (make deb rpm into a scratch directory) and what they are
// compared with: make install and the README's "What gets installed" table.
import { readdirSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChecked } from '../support/command.ts';

export const projectDir = fileURLToPath(new URL('../../', import.meta.url));

export interface Built {
  /** Package name → .deb file. */
  readonly debs: Readonly<Record<string, string>>;
  /** Package name → .rpm file. */
  readonly rpms: Readonly<Record<string, string>>;
  /** The .changes file of the Debian build (lintian reads the packages through it). */
  readonly changes: string;
}

/** The sub-packages: subpackages/NAME/files. */
export const subpackageNames = (): string[] =>
  readdirSync(join(projectDir, 'subpackages'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && readdirSync(join(projectDir, 'subpackages', entry.name)).includes('files'))
    .map((entry) => entry.name)
    .sort();
export const debName = (name: string) => `qm-${name.replaceAll('_', '-')}`;
export const rpmName = (name: string) => `qm_${name}`;

export interface BuildOptions {
  /** Overrides package.json's version. */
  readonly version?: string;
  /** Default both. */
  readonly formats?: ReadonlyArray<'deb' | 'rpm'>;
}

/** make deb rpm with BUILDDIR and RPMTOPDIR in `scratch`. */
export async function buildPackages(scratch: string, options: BuildOptions = {}): Promise<Built> {
  const buildDir = join(scratch, 'build');
  const rpmTop = join(scratch, 'rpmbuild');
  const formats = options.formats ?? ['deb', 'rpm'];
  await runChecked(['make', '-s', ...formats, `BUILDDIR=${buildDir}`, `RPMTOPDIR=${rpmTop}`, ...(options.version ? [`VERSION=${options.version}`] : [])], {
    cwd: projectDir,
    timeoutMs: 600_000,
  });
  const debDir = join(buildDir, 'deb');
  const debs: Record<string, string> = {};
  for (const file of await readdir(debDir)) if (file.endsWith('.deb')) debs[file.split('_')[0]!] = join(debDir, file);
  const rpms: Record<string, string> = {};
  for (const arch of formats.includes('rpm') ? await readdir(join(rpmTop, 'RPMS')) : []) {
    for (const file of await readdir(join(rpmTop, 'RPMS', arch))) rpms[file.replace(/-[^-]+-[^-]+\.[^.]+\.rpm$/, '')] = join(rpmTop, 'RPMS', arch, file);
  }
  const changes = (await readdir(debDir)).find((file) => file.endsWith('.changes'));
  if (!changes) throw new Error(`no .changes file in ${debDir}`);
  return { debs, rpms, changes: join(debDir, changes) };
}

/** One installed path as the table and make install name it: units in /usr/lib (bookworm's debhelper uses /lib), man pages uncompressed. */
export const normalisePath = (path: string) => path.replace(/^\/lib\/systemd\//, '/usr/lib/systemd/').replace(/(\/man\/man\d\/[^/]+)\.gz$/, '$1');

async function filesBelow(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => `/${relative(root, join(entry.parentPath, entry.name))}`).sort();
}

export const mainPackages = ['qm', 'qm-controller', 'qm-selinux'] as const;

/** What make install-qm, install-qm-controller and install-qm-selinux put in place, each in a DESTDIR of its own. */
export async function installedByMake(scratch: string): Promise<Record<(typeof mainPackages)[number], string[]>> {
  const result = { qm: [] as string[], 'qm-controller': [] as string[], 'qm-selinux': [] as string[] };
  for (const name of mainPackages) {
    const destdir = join(scratch, `make-install-${name}`);
    await runChecked(['make', '-s', `install-${name}`, `DESTDIR=${destdir}`, 'PREFIX=/usr', `BUILDDIR=${join(scratch, 'make-build')}`], { cwd: projectDir });
    result[name] = await filesBelow(destdir);
  }
  return result;
}

export interface TableRow {
  readonly source: string;
  readonly path: string;
  readonly packages: string;
}

const expandBraces = (text: string): string[] => {
  const match = /\{([^}]*)\}/.exec(text);
  if (!match) return [text];
  return match[1]!.split(',').flatMap((part) => expandBraces(text.slice(0, match.index) + part + text.slice(match.index + match[0].length)));
};

/**
 * The README's "What gets installed" table, a row per installed file: `{a,b}` in a source expands, a directory
 * target (ending in /) takes each source's file name, a `*` in a source is matched against the project's files.
 * Sub-package rows (their files are their trees) are left out.
 */
export function readmeTable(): TableRow[] {
  const readme = readFileSync(join(projectDir, 'README.md'), 'utf8');
  const start = readme.indexOf('### What gets installed');
  const section = readme.slice(start, readme.indexOf('\n#', start + 1));
  const rows = section.split('\n').filter((line) => /^\| `/.test(line));
  return rows.flatMap((line) => {
    const [source, target, packages] = line.split('|').slice(1, 4).map((cell) => cell.trim());
    const path = /`([^`]+)`/.exec(target!)![1]!;
    const sourcePath = /`([^`]+)`/.exec(source!)![1]!;
    if (sourcePath.startsWith('subpackages/')) return [];
    const sources = expandBraces(sourcePath).flatMap((one) => {
      if (!one.includes('*')) return [one];
      const dir = one.slice(0, one.lastIndexOf('/'));
      const pattern = new RegExp(`^${basename(one).replace(/\./g, '\\.').replace(/\*/g, '.*')}$`);
      return readdirSync(join(projectDir, dir)).filter((name) => pattern.test(name)).map((name) => `${dir}/${name}`);
    });
    // A file target is one file, whatever it is built from (`selinux/qm.{te,if,fc}` → qm.pp).
    if (!path.endsWith('/')) return [{ source: sourcePath, path, packages: packages! }];
    return sources.map((one) => ({ source: one, path: path + basename(one), packages: packages! }));
  });
}
