// The sub-packages' drop-ins through the real quadlet and podman 5.4 (from the cached trixie rootfs, in a chroot):
// what each changes on qm.service's `podman run` line, with and without the host's devices, and what the
// containers.conf.d files change for QM's nested containers. The device path itself, on a booted vehicle node, is
// devices-e2e.test.ts.
import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  adminUnitDir,
  devicesOf,
  execStart,
  projectDir,
  qmUnitFiles,
  quadletDryrun,
  runInTrixie,
  subpackageFiles,
  subpackageNames,
  vendorUnitDir,
  type DeviceNode,
  type SubpackageName,
} from './trixie-chroot.ts';

const dropInDir = `${vendorUnitDir}/qm.container.d`;
const nestedConfDir = '/etc/qm/containers/containers.conf.d';
const examplesDir = '/usr/share/qm/examples';

const char = (path: string, major: number, minor: number): DeviceNode => ({ path, major, minor });
/** Device nodes as a host with every device the sub-packages know would have them (majors from devices.txt). */
const hostDevices = {
  video: [char('/dev/video0', 81, 0), char('/dev/video1', 81, 1), char('/dev/media0', 239, 0)],
  input: [char('/dev/input/event0', 13, 64), char('/dev/input/mice', 13, 63)],
  sound: [char('/dev/snd/controlC0', 116, 0), char('/dev/snd/pcmC0D0p', 116, 16)],
  tty7: [char('/dev/tty7', 4, 7)],
  kvm: [char('/dev/kvm', 10, 232), char('/dev/net/tun', 10, 200)],
};
const allHostDevices = [...Object.values(hostDevices).flat(), char('/dev/fuse', 10, 229)];

/** Each device sub-package and the `--device` arguments it adds where the host has every device. */
const deviceCases: ReadonlyArray<{ name: SubpackageName; added: readonly string[] }> = [
  { name: 'mount_bind_video', added: ['/dev/video0', '/dev/video1', '/dev/media0'] },
  { name: 'mount_bind_input', added: ['/dev/input'] },
  { name: 'mount_bind_sound', added: ['/dev/snd'] },
  { name: 'mount_bind_tty7', added: ['/dev/tty7'] },
  { name: 'mount_bind_kvm', added: ['/dev/net/tun'] },
];

const qmRun = async (files: Record<string, string>, devices: readonly DeviceNode[]) => execStart((await quadletDryrun({ files, devices }))['qm.service']);

test('every sub-package has its README (name, one-line summary) and only files under the agreed install paths', async (t) => {
  t.deepEqual((await readdir(join(projectDir, 'subpackages'))).sort(), [...subpackageNames].sort());
  for (const name of subpackageNames) {
    const readme = await readFile(join(projectDir, 'subpackages', name, 'README.md'), 'utf8');
    const [title, blank, summary, after] = readme.split('\n');
    t.is(title, `# qm_dropin_${name}`, `${name}: README's first line`);
    t.is(blank, '', `${name}: README's summary is its second paragraph`);
    t.true((summary ?? '').length > 20 && (summary ?? '').length <= 120 && after === '', `${name}: a one-line summary of at most 120 characters: ${summary}`);
    for (const path of Object.keys(await subpackageFiles(name))) {
      const allowed =
        path === `${dropInDir}/30-qm_dropin_${name}.conf` || path === `${nestedConfDir}/qm_dropin_${name}.conf` || path.startsWith(`${examplesDir}/`);
      t.true(allowed, `${name}: ${path} is not one of the sub-package install paths`);
    }
  }
});

test("every setting in the sub-packages' drop-ins and example quadlets comes after a comment, and devices are optional", async (t) => {
  for (const name of subpackageNames) {
    for (const [path, text] of Object.entries(await subpackageFiles(name))) {
      if (!/\.(conf|container)$/.test(path)) continue;
      let commented = false;
      for (const line of text.split('\n')) {
        if (line.startsWith('#')) commented = true;
        else if (line.trim() === '' || line.startsWith('[')) commented = false;
        else if (!line.startsWith(' ') && !line.startsWith('Description=')) t.true(commented, `${name}: ${path}: no comment says why: ${line}`);
        if (path.startsWith(dropInDir)) t.false(/^AddDevice=[^-]/.test(line), `${name}: ${path}: a device QM needs to start: ${line}`);
      }
    }
  }
});

for (const { name, added } of deviceCases) {
  test(`quadlet: ${name} adds ${added.join(', ')} to QM's podman run, only where the host has them`, async (t) => {
    const qm = await qmUnitFiles();
    const withDropIn = { ...qm, ...(await subpackageFiles(name)) };
    const [without, withDevices, withoutDevices] = await Promise.all([
      qmRun(qm, allHostDevices),
      qmRun(withDropIn, allHostDevices),
      qmRun(withDropIn, []),
    ]);
    const base = devicesOf(without);
    t.deepEqual(
      added.filter((device) => base.includes(device)),
      [],
      'without the sub-package QM does not get them',
    );
    t.deepEqual(
      devicesOf(withDevices).filter((device) => !base.includes(device)),
      [...added],
      'with it, exactly these are added',
    );
    t.deepEqual(devicesOf(withoutDevices), [], 'on a host without the devices quadlet leaves them out (and QM still gets a qm.service)');
  });
}

test("quadlet: base qm.container already gives QM /dev/kvm and /dev/fuse (the kvm sub-package adds only /dev/net/tun)", async (t) => {
  t.deepEqual(devicesOf(await qmRun(await qmUnitFiles(), allHostDevices)), ['/dev/kvm', '/dev/fuse']);
});

test("quadlet: a same-named file in the admin's qm.container.d masks a sub-package's drop-in", async (t) => {
  const files = {
    ...(await qmUnitFiles()),
    ...(await subpackageFiles('mount_bind_video')),
    [`${adminUnitDir}/qm.container.d/30-qm_dropin_mount_bind_video.conf`]: '# no cameras in QM on this vehicle\n[Container]\nAddDevice=-/dev/video1\n',
  };
  t.deepEqual(devicesOf(await qmRun(files, hostDevices.video)), ['/dev/video1']);
});

test('quadlet: img_tempdir makes qm.service create QM /var/tmp.images before QM starts', async (t) => {
  const qm = await qmUnitFiles();
  const mkdir = 'ExecStartPre=/usr/bin/mkdir -p -m 0700 ${RWVARFS}/tmp.images';
  const [without, withDropIn] = await Promise.all([
    quadletDryrun({ files: qm }),
    quadletDryrun({ files: { ...qm, ...(await subpackageFiles('img_tempdir')) } }),
  ]);
  t.false(without['qm.service']!.includes(mkdir));
  t.true(withDropIn['qm.service']!.split('\n').includes(mkdir));
  t.regex(withDropIn['qm.service']!, /^Environment=RWVARFS=\/var\/qm$/m, '${RWVARFS} is set in the same unit');
});

test("quadlet: ros2_rolling gives QM a 512 MiB /dev/shm and keeps QM's private network", async (t) => {
  const qm = await qmUnitFiles();
  const [without, withDropIn] = await Promise.all([qmRun(qm, []), qmRun({ ...qm, ...(await subpackageFiles('ros2_rolling')) }, [])]);
  t.notRegex(without, /--shm-size/);
  t.regex(withDropIn, / --shm-size 512m /);
  t.regex(withDropIn, / --network private /);
  t.notRegex(withDropIn, /--(network|ipc|pid|uts)[ =]host/);
});

/** Every example quadlet the sub-packages ship, with the devices its `podman run` line should carry. */
const exampleCases: ReadonlyArray<{ name: SubpackageName; file: string; devices: readonly string[]; image: string }> = [
  { name: 'mount_bind_video', file: 'rear-camera/rear-camera.container', devices: ['/dev/video0'], image: 'localhost/rear-camera' },
  { name: 'mount_bind_sound', file: 'audio-tone/audio-tone.container', devices: ['/dev/snd'], image: 'localhost/audio-tone' },
  { name: 'mount_bind_kvm', file: 'vm/vm.container', devices: ['/dev/kvm', '/dev/net/tun'], image: 'localhost/qm-vm' },
  { name: 'ros2_rolling', file: 'ros2-rolling/ros2-talker.container', devices: [], image: 'localhost/ros2-rolling' },
  { name: 'ros2_rolling', file: 'ros2-rolling/ros2-listener.container', devices: [], image: 'localhost/ros2-rolling' },
];

test('every example quadlet is listed here, and none is installed where QM would start it by itself', async (t) => {
  const shipped: string[] = [];
  for (const name of subpackageNames) {
    for (const path of Object.keys(await subpackageFiles(name))) if (path.endsWith('.container')) shipped.push(path);
  }
  t.deepEqual(shipped.sort(), exampleCases.map((example) => `${examplesDir}/${example.file}`).sort());
});

for (const example of exampleCases) {
  test(`quadlet in QM: the ${example.file} example converts, with ${example.devices.join(', ') || 'no devices'}`, async (t) => {
    const text = (await subpackageFiles(example.name))[`${examplesDir}/${example.file}`]!;
    const unit = example.file.split('/').pop()!;
    const service = unit.replace(/\.container$/, '.service');
    // As its README says: copied to /etc/qm/containers/systemd on the host, QM's /etc/containers/systemd.
    const [present, absent] = await Promise.all([
      quadletDryrun({ files: { [`${adminUnitDir}/${unit}`]: text }, devices: allHostDevices }),
      quadletDryrun({ files: { [`${adminUnitDir}/${unit}`]: text } }),
    ]);
    const run = execStart(present[service]);
    t.deepEqual(devicesOf(run, example.image), [...example.devices]);
    t.true(run.includes(` ${example.image} `), run);
    t.deepEqual(devicesOf(execStart(absent[service]), example.image), [], 'a QM without the devices still gets the unit');
  });
}

/** QM's podman as QM has it: its containers.conf and what the sub-package installs in /etc/qm/containers/containers.conf.d. */
async function qmPodmanFiles(names: readonly SubpackageName[], containersConf?: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {
    '/etc/containers/containers.conf': containersConf ?? (await readFile(join(projectDir, 'units/containers.conf'), 'utf8')),
  };
  for (const name of names) {
    for (const [path, text] of Object.entries(await subpackageFiles(name))) {
      if (path.startsWith('/etc/qm/')) files[path.replace(/^\/etc\/qm\//, '/etc/')] = text;
    }
  }
  return files;
}

/** `podman create` a container as QM's podman would, and inspect it with `format`; no runtime is started. */
async function nestedCreate(files: Record<string, string>, format: string, devices: readonly DeviceNode[] = []) {
  return runInTrixie({
    files,
    devices,
    script: `mkdir /tmp/empty && podman create --name nested --rootfs /tmp/empty true >/dev/null && podman inspect nested --format '${format}'`,
  });
}

test("QM's podman with ros2_rolling: nested containers join QM's IPC namespace (and its /dev/shm)", async (t) => {
  const [without, withConf] = await Promise.all([
    nestedCreate(await qmPodmanFiles([]), '{{.HostConfig.IpcMode}}'),
    nestedCreate(await qmPodmanFiles(['ros2_rolling']), '{{.HostConfig.IpcMode}}'),
  ]);
  t.is(without.code, 0, without.stderr);
  t.is(without.stdout.trim(), 'shareable');
  t.is(withConf.code, 0, withConf.stderr);
  t.is(withConf.stdout.trim(), 'host');
});

test("QM's podman with img_tempdir copies images through /var/tmp.images, with or without QM's TMPDIR env line", async (t) => {
  const info = `podman info --format '{{.Store.ImageCopyTmpDir}}'`;
  const ours = await readFile(join(projectDir, 'units/containers.conf'), 'utf8');
  const withoutEnv = ours.replace(/^env = .*$/m, '');
  t.not(withoutEnv, ours, "units/containers.conf has the [engine] env line this test takes out");
  const results = await Promise.all([
    runInTrixie({ files: await qmPodmanFiles([]), script: info }),
    runInTrixie({ files: await qmPodmanFiles(['img_tempdir']), script: info }),
    runInTrixie({ files: await qmPodmanFiles([], withoutEnv), script: info }),
    runInTrixie({ files: await qmPodmanFiles(['img_tempdir'], withoutEnv), script: info }),
  ]);
  for (const result of results) t.is(result.code, 0, result.stderr);
  t.deepEqual(
    results.map((result) => result.stdout.trim()),
    ['/var/tmp.images', '/var/tmp.images', '/var/tmp', '/var/tmp.images'],
    "QM's containers.conf alone, with the drop-in; without the env line, alone and with the drop-in",
  );
});

test('why devices are granted per container, not in containers.conf: one missing device there fails every nested create', async (t) => {
  const files = { ...(await qmPodmanFiles([])), '/etc/containers/containers.conf.d/devices.conf': '[containers]\ndevices = ["/dev/video0"]\n' };
  const present = await nestedCreate(files, '{{json .HostConfig.Devices}}', hostDevices.video);
  t.is(present.code, 0, present.stderr);
  t.regex(present.stdout, /"PathOnHost":"\/dev\/video0"/);
  const missing = await nestedCreate(files, '{{json .HostConfig.Devices}}');
  t.not(missing.code, 0);
  t.regex(missing.stderr, /stat \/dev\/video0: no such file or directory/);
});
