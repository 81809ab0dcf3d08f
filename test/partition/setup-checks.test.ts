// The pure parts of qmctl setup and the QM commands: options, platform detection, preflight, generated files.
import test from 'ava';
import { parseCopy } from '../../controller/partition/container.ts';
import { distroOf, parseOsRelease, parsePodmanVersion } from '../../controller/partition/platform.ts';
import { preflight, type PlatformFacts } from '../../controller/partition/preflight.ts';
import { qmStorageConf, setupDropIn, withIdRange, withoutLines } from '../../controller/partition/qm-config.ts';
import { buildCommand, rootfsRecipe } from '../../controller/partition/rootfs.ts';
import { parseSetupOptions, type SetupOptions } from '../../controller/partition/setup-options.ts';
import { parseSize, parseSs, parseTopic, parseUnitFile } from '../../controller/partition/show.ts';

const trixie = 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\nVERSION_CODENAME=trixie\n';
const defaults = (): SetupOptions => parseSetupOptions({}, 'vehicle1');
const goodFacts: PlatformFacts = {
  uid: 0,
  osRelease: trixie,
  podmanVersion: 'podman version 5.4.2\n',
  quadlet: '/usr/libexec/podman/quadlet',
  tools: { mmdebstrap: true, debootstrap: false, dnf: false },
  freeBytes: 10 * 1024 ** 3,
  rootfsCurrent: false,
  rootfsCached: false,
  systemdBooted: true,
  defaultSeccomp: '/usr/share/containers/seccomp.json',
};

test("setup's options default to upstream's paths and the machine's hostname", (t) => {
  t.deepEqual(defaults(), {
    rootfs: '/usr/lib/qm/rootfs',
    rwetcfs: '/etc/qm',
    rwvarfs: '/var/qm',
    hostname: 'vehicle1',
    skipSystemctl: false,
    remove: false,
  });
  t.true(parseSetupOptions({ 'remove-qm-rootfs': true }, 'h').remove, "upstream's --remove-qm-rootfs is --remove");
  t.is(parseSetupOptions({ rootfs: '/srv/qm/root/' }, 'h').rootfs, '/srv/qm/root');
});

test('bad setup options are refused, naming the option', (t) => {
  const refused = (values: Record<string, string | boolean>, message: RegExp) => {
    const error = t.throws(() => parseSetupOptions(values, 'h'));
    t.is((error as { code?: string }).code, 'usage');
    t.regex(error.message, message);
  };
  refused({ rootfs: 'qm/rootfs' }, /--rootfs takes an absolute path, not "qm\/rootfs"/);
  refused({ rwetcfs: '/etc' }, /--rwetcfs \/etc is a system directory/);
  refused({ rwvarfs: '/' }, /--rwvarfs \/ is a system directory/);
  refused({ rwvarfs: '/usr/lib/qm/rootfs/var' }, /--rwvarfs \/usr\/lib\/qm\/rootfs\/var lies within --rootfs/);
  refused({ hostname: 'a b' }, /--hostname "a b" cannot name a bluechi node: it contains whitespace/);
  refused({ remove: true, hostname: 'x' }, /--hostname has no meaning with --remove/);
});

test('the distribution decides how the rootfs is built', (t) => {
  t.deepEqual(distroOf(parseOsRelease(trixie)), { id: 'debian', family: 'debian', release: 'trixie', prettyName: 'Debian GNU/Linux 13 (trixie)' });
  const ubuntu = distroOf(parseOsRelease('ID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\nUBUNTU_CODENAME=noble\n'));
  t.is(ubuntu.family, 'debian');
  const centos = distroOf(parseOsRelease('ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="10"\n'));
  t.deepEqual([centos.family, centos.release], ['fedora', '10']);
  t.throws(() => distroOf(parseOsRelease('ID=alpine\nPRETTY_NAME="Alpine Linux v3.20"\n')), {
    message: /unsupported distribution "Alpine Linux v3\.20" \(ID=alpine\); qmctl setup supports the Debian family .* and the Fedora family/,
  });
  t.deepEqual(buildCommand('mmdebstrap', rootfsRecipe({ id: 'debian', family: 'debian', release: 'trixie' }, false), '/x').slice(0, 2), ['mmdebstrap', '--variant=minbase']);
  const fedora = rootfsRecipe({ id: 'fedora', family: 'fedora', release: '41' }, true);
  t.true(fedora.packages.includes('bluechi-agent'));
  t.deepEqual(buildCommand('dnf', fedora, '/x').slice(0, 6), ['dnf', '-y', 'install', '--releasever=41', '--installroot=/x', '--use-host-config']);
});

test('the rootfs cache key follows the package list, not its order', (t) => {
  const distro = { id: 'debian', family: 'debian', release: 'trixie' } as const;
  t.is(rootfsRecipe(distro, false).key, rootfsRecipe(distro, false).key);
  t.not(rootfsRecipe(distro, false).key, rootfsRecipe(distro, true).key);
  t.not(rootfsRecipe(distro, false).key, rootfsRecipe({ ...distro, release: 'bookworm' }, false).key);
});

test("podman's version is read from its own words", (t) => {
  t.like(parsePodmanVersion('podman version 5.4.2'), { major: 5, minor: 4, patch: 2, text: '5.4.2' });
  t.like(parsePodmanVersion('podman version 4.9.4-rhel'), { major: 4, minor: 9, text: '4.9.4-rhel' });
  t.is(parsePodmanVersion('docker 24'), undefined);
});

test('preflight passes a good machine and says which tool builds the rootfs', (t) => {
  t.like(preflight(defaults(), goodFacts, true), { tool: 'mmdebstrap', distro: { release: 'trixie' } });
});

test('preflight refuses with every problem at once, naming the podman found and the one needed', (t) => {
  const error = t.throws(() =>
    preflight(defaults(), { ...goodFacts, uid: 1000, podmanVersion: 'podman version 4.3.1', freeBytes: 100 * 1024 ** 2, tools: { mmdebstrap: false, debootstrap: false, dnf: false } }, true),
  );
  t.is((error as { code?: string }).code, 'access-denied');
  t.regex(error.message, /must run as root \(running as uid 1000\)/);
  t.regex(error.message, /podman 4\.3\.1 found; QM needs podman >= 5\.0 \(quadlet reading qm\.container\.d\/ drop-ins\)/);
  t.regex(error.message, /neither mmdebstrap nor debootstrap is installed/);
  t.regex(error.message, /only 100 MiB free where \/usr\/lib\/qm\/rootfs goes; QM's rootfs needs 1024 MiB/);
});

test('preflight: no podman, podman without quadlet, no systemd, unsupported distribution', (t) => {
  t.throws(() => preflight(defaults(), { ...goodFacts, podmanVersion: undefined }, false), { message: /podman is not installed; QM needs podman >= 4\.8 with quadlet/ });
  t.throws(() => preflight(defaults(), { ...goodFacts, quadlet: undefined }, false), { message: /podman 5\.4\.2 found without quadlet/ });
  t.throws(() => preflight(defaults(), { ...goodFacts, systemdBooted: false }, false), { message: /not running systemd.*--skip-systemctl/ });
  t.notThrows(() => preflight({ ...defaults(), skipSystemctl: true }, { ...goodFacts, systemdBooted: false }, false));
  t.throws(() => preflight(defaults(), { ...goodFacts, osRelease: 'ID=arch\n' }, false), { message: /unsupported distribution/ });
  t.notThrows(() => preflight(defaults(), { ...goodFacts, tools: { mmdebstrap: false, debootstrap: false, dnf: false }, rootfsCached: true }, false), 'a cached rootfs needs no builder');
});

test("setup's drop-in: paths that differ from the defaults, and no nested SELinux label where SELinux is off", (t) => {
  t.is(setupDropIn(defaults(), { selinux: true }), undefined);
  const dropIn = setupDropIn({ ...defaults(), rootfs: '/srv/qm/rootfs' }, { selinux: false })!;
  t.regex(dropIn, /\[Service\]\n.*\nEnvironment=ROOTFS=\/srv\/qm\/rootfs\n/);
  t.regex(dropIn, /\[Container\]\n(#.*\n)+SecurityLabelNested=false\n/);
  t.notRegex(dropIn, /RWETCFS/);
});

test("QM's storage.conf: transient store and /var/lib/shared added to the distribution's, idempotently", (t) => {
  const debian = '[storage]\ndriver = "overlay"\n\n[storage.options]\nadditionalimagestores = [\n]\n\n[storage.options.overlay]\nmountopt = "nodev"\n';
  const once = qmStorageConf(debian);
  t.regex(once, /\[storage\]\ntransient_store = true\ndriver = "overlay"/);
  t.regex(once, /additionalimagestores = \["\/var\/lib\/shared"\]\n\n\[storage\.options\.overlay\]/);
  t.is(qmStorageConf(once), once);
  t.regex(qmStorageConf('[storage]\ntransient_store = false\n[storage.options]\nadditionalimagestores = ["/usr/lib/containers/storage"]\n'), /transient_store = true\n[\s\S]*\["\/usr\/lib\/containers\/storage", "\/var\/lib\/shared"\]/);
  t.regex(qmStorageConf(undefined), /graphroot = "\/var\/lib\/containers\/storage"[\s\S]*additionalimagestores = \["\/var\/lib\/shared"\]/);
});

test('id ranges are added once and removed exactly', (t) => {
  const { text, added } = withIdRange('root:100000:65536\n', 'qmcontainers', '1000000000:1500000000');
  t.is(added, 'qmcontainers:1000000000:1500000000');
  t.is(text, 'root:100000:65536\nqmcontainers:1000000000:1500000000\n');
  t.deepEqual(withIdRange(text, 'qmcontainers', '5:5'), { text });
  t.is(withoutLines(text, [added!]), 'root:100000:65536\n');
});

test('qmctl cp takes exactly one side in QM, as an absolute qm: path', (t) => {
  t.deepEqual(parseCopy('./a', 'qm:/etc/a'), { source: './a', destination: 'qm:/etc/a', direction: 'into-qm' });
  t.is(parseCopy('qm:/var/log/x', '.').direction, 'from-qm');
  t.throws(() => parseCopy('a', 'b'), { message: /exactly one of SRC and DST must be inside QM/ });
  t.throws(() => parseCopy('qm:/a', 'qm:/b'), { message: /exactly one/ });
  t.throws(() => parseCopy('a', 'qm:etc/a'), { message: /must be absolute/ });
});

test("qmctl show's topics and parsers", (t) => {
  t.is(parseTopic(undefined), 'container');
  t.throws(() => parseTopic('disks'), { message: /unknown topic "disks"; one of: container, unix-domain-sockets/ });
  t.deepEqual(parseUnitFile('# c\n[Container]\nVolume=a:/etc\nVolume=b:/var\n[Service]\nOOMScoreAdjust=500\n'), {
    Container: { Volume: ['a:/etc', 'b:/var'] },
    Service: { OOMScoreAdjust: ['500'] },
  });
  t.deepEqual(parseSs('u_str LISTEN 0 4096 /run/systemd/private 1234 * 0\n'), [{ state: 'LISTEN', recvQ: 0, sendQ: 4096, local: '/run/systemd/private', peer: '*' }]);
  t.is(parseSize('12.5MB'), 12_500_000);
  t.is(parseSize('1GiB'), 1024 ** 3);
});
