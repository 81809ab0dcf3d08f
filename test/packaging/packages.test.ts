// make deb and make rpm with the real tools (dpkg-buildpackage with debhelper, Debian's rpmbuild), and what they
// built: every package, lintian without errors, the same files as make install and the README's table, the
// dependencies and scriptlets.
import test from 'ava';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runChecked, runCommand } from '../support/command.ts';
import { ensureHostPackages } from '../support/host-packages.ts';
import { buildPackages, debName, installedByMake, mainPackages, normalisePath, projectDir, readmeTable, rpmName, subpackageNames, type Built } from './packaging.ts';

let built: Built;
let scratch: string;

test.before(async () => {
  await ensureHostPackages(['dpkg-dev', 'debhelper', 'pkgconf', 'lintian', 'rpm']);
  scratch = await mkdtemp('/var/tmp/qm-packages-');
  built = await buildPackages(scratch);
});

test.after.always(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const debFiles = async (file: string) =>
  (await runChecked(['sh', '-c', 'dpkg-deb --fsys-tarfile "$1" | tar -t', 'sh', file])).stdout
    .split('\n')
    .filter((line) => line && !line.endsWith('/'))
    .map((line) => normalisePath(line.replace(/^\.\//, '/')))
    // Debian's own metadata: changelog, copyright, lintian overrides.
    .filter((path) => !/^\/usr\/share\/(doc|lintian)\//.test(path));

/** The files an RPM holds, its directories (%dir), documents and licences and the debug links of .build-id left out. */
const rpmFiles = async (file: string) =>
  (await runChecked(['rpm', '-qp', '--qf', '[%{FILEMODES:perms} %{FILENAMES}\n]', file])).stdout
    .split('\n')
    .filter((line) => line && !line.startsWith('d'))
    .map((line) => line.slice(line.indexOf(' ') + 1))
    .filter((path) => !/^\/usr\/share\/(doc|licenses)\//.test(path) && !path.includes('/.build-id/'))
    .map(normalisePath)
    .sort();

test('make deb builds qm, qm-controller and one package per sub-package; make rpm the same as RPMs', (t) => {
  const subs = subpackageNames();
  t.true(subs.length >= 7, `sub-packages: ${subs.join(' ')}`);
  t.deepEqual(Object.keys(built.debs).sort(), [...mainPackages, ...subs.map(debName)].sort());
  t.deepEqual(Object.keys(built.rpms).sort(), [...mainPackages, ...subs.map(rpmName)].sort());
});

test('lintian finds no errors in the Debian packages (its warnings are logged)', async (t) => {
  const result = await runCommand(['lintian', '--fail-on', 'error', '--suppress-tags', 'initial-upload-closes-no-bugs', built.changes]);
  for (const line of result.stdout.split('\n').filter(Boolean)) t.log(line);
  t.is(result.code, 0, result.stdout + result.stderr);
  t.notRegex(result.stdout, /^E: /m);
});

test("qm, qm-controller and qm-selinux hold exactly what make install puts in place, and the README's table names it all", async (t) => {
  const fromMake = await installedByMake(scratch);
  const table = readmeTable();
  for (const name of mainPackages) {
    const fromDeb = (await debFiles(built.debs[name]!)).sort();
    const fromRpm = await rpmFiles(built.rpms[name]!);
    const rpmOnly = table.filter((row) => row.packages === `${name} (RPM only)`).map((row) => row.path);
    t.deepEqual(fromDeb, fromMake[name], `${name}.deb against make install`);
    t.deepEqual(fromRpm.filter((path) => !rpmOnly.includes(path)), fromMake[name], `${name}.rpm against make install`);
    t.deepEqual(table.filter((row) => row.packages === name).map((row) => row.path).sort(), fromMake[name], `README table against make install (${name})`);
  }
});

test("each sub-package holds its files/ tree, as make install-qm_dropin_NAME installs it, in both formats", async (t) => {
  for (const name of subpackageNames()) {
    const tree = (await runChecked(['find', '.', '-type', 'f', '-o', '-type', 'l'], { cwd: join(projectDir, 'subpackages', name, 'files') })).stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(1))
      .sort();
    t.true(tree.length > 0, name);
    t.deepEqual((await debFiles(built.debs[debName(name)]!)).sort(), tree, `${debName(name)}.deb`);
    t.deepEqual(await rpmFiles(built.rpms[rpmName(name)]!), tree, `${rpmName(name)}.rpm`);
  }
});

test('dependencies: node 20, podman 5 and systemd for qm; dbus for qm-controller; each sub-package on its qm', async (t) => {
  const field = async (file: string, name: string) => (await runChecked(['dpkg-deb', '-f', file, name])).stdout.trim();
  const qmDepends = await field(built.debs.qm!, 'Depends');
  for (const needed of ['nodejs (>= 20)', 'podman (>= 5.0)', 'systemd']) t.true(qmDepends.includes(needed), qmDepends);
  t.true((await field(built.debs['qm-controller']!, 'Depends')).includes('dbus'));
  const version = await field(built.debs.qm!, 'Version');
  for (const name of subpackageNames()) {
    t.is(await field(built.debs[debName(name)]!, 'Depends'), `qm (>= ${version}), qm (<< ${version}.1~)`, debName(name));
  }
  const requires = async (file: string) => (await runChecked(['rpm', '-qp', '--requires', file])).stdout.split('\n').filter((line) => line && !line.startsWith('rpmlib('));
  t.deepEqual((await requires(built.rpms.qm!)).filter((line) => !line.startsWith('/')).sort(), ['nodejs >= 20', 'podman >= 5.0', 'systemd']);
  t.true((await requires(built.rpms['qm-controller']!)).includes('dbus'));
  const evr = (await runChecked(['rpm', '-qp', '--qf', '%{VERSION}-%{RELEASE}', built.rpms.qm!])).stdout;
  for (const name of subpackageNames()) {
    // config(NAME) is rpm's own requirement of a package with %config files.
    t.deepEqual((await requires(built.rpms[rpmName(name)]!)).filter((line) => !line.startsWith('config(')), [`qm = ${evr}`], rpmName(name));
  }
});

test('maintainer scripts: qm-controller and qm-agent-config.path enabled and started on install, restarted on upgrade, stopped on removal; no qmctl setup', async (t) => {
  const script = async (file: string, name: string) => {
    const dir = await mkdtemp(join(scratch, 'control-'));
    await runChecked(['dpkg-deb', '--control', file, dir]);
    return readFile(join(dir, name), 'utf8').catch(() => '');
  };
  for (const [pkg, unit] of [['qm-controller', 'qm-controller.service'], ['qm', 'qm-agent-config.path']] as const) {
    const postinst = await script(built.debs[pkg]!, 'postinst');
    t.regex(postinst, new RegExp(`deb-systemd-helper enable '${unit}'`), `${pkg} postinst enables ${unit}`);
    t.regex(postinst, /_dh_action=restart[\s\S]*_dh_action=start/, `${pkg} postinst restarts on upgrade, starts on install`);
    t.regex(postinst, new RegExp(`deb-systemd-invoke \\$_dh_action '${unit}'`));
    t.regex(await script(built.debs[pkg]!, 'prerm'), new RegExp(`deb-systemd-invoke stop '${unit}'`), `${pkg} prerm stops ${unit}`);
    t.regex(await script(built.debs[pkg]!, 'postrm'), new RegExp(`deb-systemd-helper purge '${unit}'`), `${pkg} postrm forgets ${unit} on purge`);
    const rpmScripts = (await runChecked(['rpm', '-qp', '--scripts', built.rpms[pkg]!])).stdout;
    t.regex(rpmScripts, new RegExp(`postinstall scriptlet[\\s\\S]*preset ${unit.replace('.', '\\.')}`), `${pkg}.rpm %post`);
    t.regex(rpmScripts, new RegExp(`preuninstall scriptlet[\\s\\S]*disable --now ${unit.replace('.', '\\.')}`), `${pkg}.rpm %preun`);
    t.regex(rpmScripts, new RegExp(`postuninstall scriptlet[\\s\\S]*try-restart ${unit.replace('.', '\\.')}`), `${pkg}.rpm %postun`);
  }
  // The gate is started by QM (its socket is wanted by qm.service); enabling or starting it here would be wrong.
  const qmPostinst = await script(built.debs.qm!, 'postinst');
  t.regex(qmPostinst, /if deb-systemd-helper debian-installed 'qm-bluechi-gate\.socket'; then/, 'enabled again on upgrade only where the admin had enabled it');
  t.notRegex(qmPostinst, /deb-systemd-invoke \S+ 'qm-bluechi-gate/);
  for (const file of [...Object.values(built.debs)]) {
    for (const name of ['preinst', 'postinst', 'prerm', 'postrm']) t.notRegex(await script(file, name), /qmctl setup/, `${file} ${name}`);
  }
  t.notRegex((await runChecked(['rpm', '-qp', '--scripts', built.rpms.qm!])).stdout, /qmctl setup/);
  t.regex(await script(built.debs.qm!, 'triggers'), /interest-noawait \/usr\/share\/containers\/systemd\/qm\.container\.d/);
});

test('qm-selinux loads its module with semodule where the tools are, and removes it with the package', async (t) => {
  const dir = await mkdtemp(join(scratch, 'selinux-control-'));
  await runChecked(['dpkg-deb', '--control', built.debs['qm-selinux']!, dir]);
  const postinst = await readFile(join(dir, 'postinst'), 'utf8');
  t.regex(postinst, /command -v semodule[\s\S]*semodule -i \/usr\/share\/selinux\/packages\/qm\.pp/);
  t.regex(postinst, /selinuxenabled[\s\S]*restorecon -RF \/usr\/lib\/qm\/rootfs \/etc\/qm \/var\/qm/, 'relabels only where SELinux is enabled');
  t.regex(await readFile(join(dir, 'postrm'), 'utf8'), /semodule -r qm/);
  const scripts = (await runChecked(['rpm', '-qp', '--scripts', built.rpms['qm-selinux']!])).stdout;
  t.regex(scripts, /postinstall scriptlet[\s\S]*semodule -i \/usr\/share\/selinux\/packages\/qm\.pp/);
  t.regex(scripts, /postuninstall scriptlet[\s\S]*\$1 -eq 0[\s\S]*semodule -r qm/);
  // The packaged module unpacks as a policy module with QM's file contexts in it.
  const extracted = await mkdtemp(join(scratch, 'selinux-files-'));
  await runChecked(['dpkg-deb', '-x', built.debs['qm-selinux']!, extracted]);
  await runChecked(['semodule_unpackage', join(extracted, 'usr/share/selinux/packages/qm.pp'), join(extracted, 'qm.mod'), join(extracted, 'qm.fc')]);
  t.regex(await readFile(join(extracted, 'qm.fc'), 'utf8'), /^\/usr\/lib\/qm\/rootfs\(\/\.\*\)\?\s+system_u:object_r:qm_file_t:s0$/m);
});

test('the layout is a configuration file: a conffile of qm-controller.deb, %config(noreplace) in its RPM', async (t) => {
  const dir = await mkdtemp(join(scratch, 'conffiles-'));
  await runChecked(['dpkg-deb', '--control', built.debs['qm-controller']!, dir]);
  t.is((await readFile(join(dir, 'conffiles'), 'utf8')).trim(), '/etc/qm-controller/layout.yaml');
  t.is((await runChecked(['rpm', '-qpc', built.rpms['qm-controller']!])).stdout.trim(), '/etc/qm-controller/layout.yaml');
  const noreplace = (await runChecked(['rpm', '-qp', '--qf', '[%{FILENAMES} %{FILEFLAGS:fflags}\n]', built.rpms['qm-controller']!])).stdout;
  t.regex(noreplace, /^\/etc\/qm-controller\/layout\.yaml cn$/m);
});

test('make install PREFIX=/usr/local rewrites the units to name the programs where it put them', async (t) => {
  const destdir = await mkdtemp(join(scratch, 'local-'));
  await runChecked(['make', '-s', 'install', `DESTDIR=${destdir}`, 'PREFIX=/usr/local'], { cwd: projectDir });
  const controller = await readFile(join(destdir, 'usr/lib/systemd/system/qm-controller.service'), 'utf8');
  t.regex(controller, /^ExecStart=\/usr\/local\/libexec\/qm-controller /m);
  const dropIn = await readFile(join(destdir, 'usr/share/containers/systemd/qm.container.d/10-bluechi-agent-config.conf'), 'utf8');
  t.regex(dropIn, /ExecStartPre=-\/usr\/local\/bin\/qmctl agent-config apply/);
  t.truthy((await readdir(join(destdir, 'usr/local/bin'))).includes('qmctl'));
});
