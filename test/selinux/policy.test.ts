// QM's SELinux policy (selinux/), built with selinux/build.sh, loaded into Debian's selinux-policy-default store
// with semodule (SELinux need not be enabled: semodule rebuilds /etc/selinux/default/policy/policy.NN) and
// checked whole with setools: what QM's domains may and may not do, and that no other domain gains anything.
// The module is removed again afterwards, so the store is left as found.
import anyTest, { type TestFn } from 'ava';
import { appendFile, cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked, runCommand } from '../support/command.ts';
import { withFileLock } from '../support/file-lock.ts';
import { ensureHostPackages } from '../support/host-packages.ts';
import { permsOf, readPolicy, search, targetsOf, transitionsFrom, typesOf, type Policy } from './setools.ts';

/** What the build, the store and the queries need on Debian. */
export const selinuxHostPackages: readonly string[] = [
  'selinux-policy-dev',
  'selinux-policy-default',
  'setools',
  'checkpolicy',
  'semodule-utils',
  'policycoreutils',
];

const repo = join(import.meta.dirname, '..', '..');
const store = 'default';
const qmTypes = ['qm_t', 'qm_container_t', 'qm_bluechi_agent_t'] as const;
const isQm = (name: string): boolean => name.startsWith('qm_');
/** Every Linux capability, in the capability and capability2 classes. */
const allCapabilities = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'linux_immutable',
  'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner', 'sys_module', 'sys_rawio', 'sys_chroot',
  'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot', 'sys_nice', 'sys_resource', 'sys_time', 'sys_tty_config', 'mknod', 'lease',
  'audit_write', 'audit_control', 'setfcap', 'mac_override', 'mac_admin', 'syslog', 'wake_alarm', 'block_suspend', 'audit_read',
  'perfmon', 'bpf', 'checkpoint_restore',
];

interface Context {
  /** Lets go of the store lock; resolves once it is released. */
  unlock?: () => Promise<void>;
  /** This run loaded the module, so this run removes it. */
  installed: boolean;
  scratch: string;
  before: Policy;
  after: Policy;
  /** units/qm.container's AddCapability lines, and the names its "Not granted" comment lists. */
  granted: string[];
  notGranted: string[];
  /** Every permission of the capability and capability2 classes. */
  capabilities: string[];
  capability2: string[];
}
const test = anyTest as TestFn<Context>;

async function policyFile(): Promise<string> {
  const dir = `/etc/selinux/${store}/policy`;
  const files = (await readdir(dir)).filter((name) => /^policy\.\d+$/.test(name)).sort();
  if (files.length === 0) throw new Error(`no binary policy in ${dir}`);
  return join(dir, files.at(-1)!);
}

async function installedModules(): Promise<string[]> {
  const result = await runChecked(['semodule', '-s', store, '-l']);
  return result.stdout.split('\n').map((line) => line.trim().split(/\s+/)[0] ?? '');
}

/** A class's permissions, its common's included (capability inherits cap, capability2 cap2). */
async function classPerms(file: string, cls: string): Promise<string[]> {
  const result = await runChecked(['seinfo', file, '-c', cls, '-x']);
  const common = /^inherits (\S+)$/m.exec(result.stdout)?.[1];
  const inherited = common === undefined ? '' : (await runChecked(['seinfo', file, '--common', common, '-x'])).stdout;
  return [...`${result.stdout}\n${inherited}`.matchAll(/^\t(\S+)$/gm)].map((match) => match[1]!);
}

/** AddCapability values, and the capability names in the comment block that follows "# Not granted:". */
function unitCapabilities(unit: string): { granted: string[]; notGranted: string[] } {
  const granted = [...unit.matchAll(/^AddCapability=(\S+)$/gm)].map((match) => match[1]!);
  const lines = unit.split('\n');
  const start = lines.findIndex((line) => line.startsWith('# Not granted:'));
  const notGranted: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('#   ')) break;
    for (const clause of line.slice(1).split(';')) {
      const names = clause.split(':')[0]!;
      notGranted.push(...names.split(/,|\band\b/).map((name) => name.trim()).filter((name) => /^[a-z_]+$/.test(name)));
    }
  }
  return { granted, notGranted };
}

/** Holds an exclusive lock on `path` until the returned function is called: one run of this file at a time changes the store. */
async function holdLock(path: string): Promise<() => Promise<void>> {
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  let locked = (): void => undefined;
  const acquired = new Promise<void>((resolve) => (locked = resolve));
  const done = withFileLock(path, async () => {
    locked();
    await held;
  });
  await Promise.race([acquired, done]);
  return async () => {
    release();
    await done;
  };
}

test.before(async (t) => {
  t.context.installed = false;
  await ensureHostPackages(selinuxHostPackages);
  t.context.unlock = await holdLock('/var/lock/qm-test-selinux-store.lock');
  if ((await installedModules()).includes('qm')) {
    throw new Error(`a qm module is already in the ${store} store; remove it (semodule -s ${store} -r qm) to run these tests`);
  }
  const scratch = await mkdtemp(join(tmpdir(), 'qm-selinux-test-'));
  t.context.scratch = scratch;
  await runChecked(['sh', join(repo, 'selinux', 'build.sh'), join(scratch, 'build')]);
  const file = await policyFile();
  t.context.before = await readPolicy(file);
  t.context.installed = true; // set first: a failed install may still have left the module in the store
  await runChecked(['semodule', '-s', store, '-i', join(scratch, 'build', 'qm.pp')]);
  t.context.after = await readPolicy(await policyFile());
  const unit = unitCapabilities(await readFile(join(repo, 'units', 'qm.container'), 'utf8'));
  t.context.granted = unit.granted;
  t.context.notGranted = unit.notGranted;
  t.context.capability2 = await classPerms(file, 'capability2');
  t.context.capabilities = [...(await classPerms(file, 'capability')), ...t.context.capability2];
});

test.after.always(async (t) => {
  try {
    if (t.context.installed && (await installedModules()).includes('qm')) await runChecked(['semodule', '-s', store, '-r', 'qm']);
    if (t.context.scratch) await rm(t.context.scratch, { recursive: true, force: true });
  } finally {
    await t.context.unlock?.();
  }
});

test('the module is in the store and defines every QM type', async (t) => {
  t.true((await installedModules()).includes('qm'));
  const result = await runChecked(['seinfo', t.context.after.file, '-t']);
  for (const type of [...qmTypes, 'qm_file_t', 'qm_container_file_t', 'qm_bluechi_agent_exec_t', 'qm_bluechi_gate_sock_t']) {
    t.regex(result.stdout, new RegExp(`^ +${type}$`, 'm'), type);
  }
});

test('units/qm.container names 14 capabilities to grant and the ones it does not; the policy knows them all', (t) => {
  t.is(t.context.granted.length, 14);
  t.deepEqual([...t.context.capabilities].sort(), [...allCapabilities].sort());
  for (const name of ['sys_module', 'sys_time', 'sys_rawio', 'mac_admin', 'mac_override', 'audit_control', 'bpf', 'perfmon']) {
    t.true(t.context.notGranted.includes(name), name);
  }
  for (const name of [...t.context.granted, ...t.context.notGranted]) t.true(t.context.capabilities.includes(name), `${name} is a capability`);
});

// One test per capability: qm_t holds exactly qm.container's allowlist, nested containers and the agent a subset.
for (const cap of allCapabilities) {
  test(`capability ${cap}: qm_t as qm.container says, nested and agent never beyond qm_t`, (t) => {
    const { after, granted } = t.context;
    t.true(t.context.capabilities.includes(cap), `the policy has no ${cap}`);
    const cls = t.context.capability2.includes(cap) ? ['capability2', 'cap2_userns'] : ['capability', 'cap_userns'];
    const holds = (domain: string): boolean => cls.some((c) => permsOf(after, domain, domain, c).has(cap));
    t.is(holds('qm_t'), granted.includes(cap), `qm_t ${cap}`);
    if (!granted.includes(cap)) {
      t.false(holds('qm_container_t'), `qm_container_t ${cap}`);
      t.false(holds('qm_bluechi_agent_t'), `qm_bluechi_agent_t ${cap}`);
    }
    if (['sys_admin', 'net_admin', 'mknod'].includes(cap)) t.false(holds('qm_container_t'), `nested ${cap}`);
  });
}

test('capability rules name no target but the domain itself', (t) => {
  for (const source of qmTypes) {
    const rules = search(t.context.after, { source, classes: ['capability', 'capability2', 'cap_userns', 'cap2_userns'] });
    t.deepEqual(rules.filter((rule) => rule.kind === 'allow' && rule.target !== 'self' && rule.target !== source).map((r) => r.line), []);
  }
});

/** Whatever changes, creates, removes or relabels a file, or mounts on it. */
const fileClasses = ['file', 'dir', 'lnk_file', 'chr_file', 'blk_file', 'sock_file', 'fifo_file'];
const writePerms = ['write', 'append', 'create', 'setattr', 'unlink', 'rename', 'link', 'add_name', 'remove_name', 'rmdir', 'reparent', 'relabelfrom', 'relabelto', 'mounton'];

test('QM writes no host file type it is not given: etc_t, shadow_t, bin_t and the rest are out of reach', (t) => {
  const { after } = t.context;
  // Given: its delegated cgroup tree, selinuxfs's query files, mounting over /proc and /sys in its own namespace, the
  // journal socket, its devices, the pipes its starter hands it (init_t: qm.service's podman; unconfined_t: podman
  // exec); and what the base policy gives every domain (the null and tty devices, mcstrans' socket).
  const given: Record<string, string[]> = {
    qm_t: ['init_t', 'unconfined_t', 'cgroup_t', 'security_t', 'proc_t', 'sysfs_t', 'devlog_t', 'kvm_device_t', 'fuse_device_t', 'ptmx_t', 'devpts_t'],
    qm_container_t: ['ptmx_t', 'devpts_t'],
    qm_bluechi_agent_t: [],
  };
  const everyDomain = ['null_device_t', 'zero_device_t', 'devtty_t', 'setrans_runtime_t'];
  for (const source of qmTypes) {
    const host = [...targetsOf(after, source, fileClasses, writePerms)].filter((type) => !isQm(type)).sort();
    t.deepEqual(host, [...given[source]!, ...everyDomain].sort(), `${source} writes`);
  }
  for (const target of ['etc_t', 'shadow_t', 'bin_t', 'sbin_t', 'lib_t', 'usr_t', 'var_t', 'var_log_t', 'var_lib_t', 'var_run_t', 'tmp_t', 'root_t', 'boot_t', 'default_t', 'home_root_t', 'user_home_dir_t', 'etc_runtime_t', 'modules_object_t', 'container_file_t', 'init_exec_t', 'systemd_unit_t', 'sysctl_t', 'sysctl_kernel_t', 'memory_device_t', 'fixed_disk_device_t', 'kmsg_device_t']) {
    for (const source of qmTypes) {
      t.deepEqual(search(after, { source, target, classes: fileClasses, perms: writePerms }).map((r) => r.line), [], `${source} on ${target}`);
    }
  }
  for (const source of qmTypes) {
    t.deepEqual(search(after, { source, target: 'shadow_t', classes: fileClasses }).map((r) => r.line), [], `${source} reads shadow_t`);
    t.deepEqual(search(after, { source, target: 'memory_device_t' }).map((r) => r.line), [], `${source} /dev/mem`);
  }
});

test('no policy load, no setenforce, no booleans: the security class allows only queries', (t) => {
  for (const source of qmTypes) {
    const perms = new Set(search(t.context.after, { source, classes: ['security'] }).flatMap((rule) => rule.perms));
    for (const perm of perms) t.true(['compute_av', 'compute_create', 'compute_relabel', 'check_context'].includes(perm), `${source} security ${perm}`);
    for (const perm of ['load_policy', 'setenforce', 'setbool', 'setsecparam', 'read_policy', 'setcheckreqprot']) t.false(perms.has(perm), `${source} ${perm}`);
  }
  t.false(permsOf(t.context.after, 'qm_container_t', 'security_t', 'security').has('compute_create'), 'nested containers ask nothing');
});

test('no transition out of QM: sedta from qm_t reaches only QM domains', async (t) => {
  const { after } = t.context;
  const reached = new Set<string>(['qm_t']);
  const queue = ['qm_t'];
  while (queue.length > 0) {
    for (const next of await transitionsFrom(after.file, queue.shift()!)) {
      if (!reached.has(next)) {
        reached.add(next);
        queue.push(next);
      }
    }
  }
  t.deepEqual([...reached].sort(), ['qm_bluechi_agent_t', 'qm_container_t', 'qm_t']);
  for (const source of qmTypes) {
    const targets = [...targetsOf(after, source, ['process'], ['transition', 'dyntransition'])];
    t.deepEqual(targets.filter((type) => !isQm(type)), [], `${source} process transition`);
    t.false([...targetsOf(after, source, ['process'], ['dyntransition', 'setcurrent'])].length > 0, `${source} dyntransition`);
  }
  t.deepEqual([...targetsOf(after, 'qm_container_t', ['process'], ['transition'])], [], 'nested containers become nothing else');
});

test('the agent is entered only from its own binary, which nothing in QM may change', (t) => {
  const { after } = t.context;
  t.deepEqual([...targetsOf(after, 'qm_bluechi_agent_t', ['file'], ['entrypoint'])], ['qm_bluechi_agent_exec_t']);
  for (const source of qmTypes) {
    t.deepEqual(search(after, { source, target: 'qm_bluechi_agent_exec_t', classes: fileClasses, perms: writePerms }).map((r) => r.line), [], source);
  }
  t.false(permsOf(after, 'qm_t', 'qm_bluechi_agent_t', 'process').has('ptrace'));
  t.false(permsOf(after, 'qm_t', 'qm_bluechi_agent_t', 'process').has('noatsecure'), 'the agent starts in secure mode (no LD_PRELOAD from QM)');
});

test('only the agent connects to the gate socket', (t) => {
  const { after } = t.context;
  const writers = new Set(search(after, { target: 'qm_bluechi_gate_sock_t', classes: ['sock_file'], perms: ['write'] }).flatMap((rule) => [...typesOf(after, rule.source)]));
  t.deepEqual([...writers].filter(isQm), ['qm_bluechi_agent_t']);
  const listeners = [...typesOf(after, 'qm_bluechi_gate_listener_type')];
  t.true(listeners.includes('init_t'), 'systemd makes the socket as init_t on refpolicy');
  for (const source of qmTypes) {
    const connects = listeners.some((listener) => permsOf(after, source, listener, 'unix_stream_socket').has('connectto'));
    t.is(connects, source === 'qm_bluechi_agent_t', `${source} connectto the gate`);
  }
  for (const source of qmTypes) {
    const changes = search(after, { source, target: 'qm_bluechi_gate_sock_t', classes: fileClasses, perms: writePerms.filter((p) => p !== 'write') });
    t.deepEqual(changes.map((r) => r.line), [], `${source} changes the gate's files`);
  }
});

test('nested containers stay within qm_t: MCS-separated, nothing of QM own files, no permission qm_t lacks', (t) => {
  const { after } = t.context;
  t.true(after.attributes.get('mcs_constrained_type')?.has('qm_container_t'));
  t.false(after.attributes.get('mcs_constrained_type')?.has('qm_t'), 'qm_t manages every category');
  const open = search(after, { source: 'qm_container_t', target: 'qm_file_t', classes: ['file', 'dir', 'lnk_file', 'sock_file', 'fifo_file'] });
  t.deepEqual(open.map((r) => r.line), []);
  for (const rule of search(after, { source: 'qm_container_t' })) {
    if (rule.kind !== 'allow' || isQm(rule.target) || rule.target === 'self') continue;
    const held = permsOf(after, 'qm_t', rule.target, rule.cls);
    const missing = rule.perms.filter((perm) => !held.has(perm));
    t.deepEqual(missing, [], `${rule.line}: qm_t lacks ${missing.join(' ')}`);
  }
  t.false(permsOf(after, 'qm_t', 'qm_container_file_t', 'file').has('execute_no_trans'), 'a nested program runs only as qm_container_t');
});

test('bpf and perf_event stay closed unless qm_nested_bpf is turned on', (t) => {
  const { after } = t.context;
  for (const source of qmTypes) t.deepEqual(search(after, { source, classes: ['perf_event'] }).map((r) => r.line), [], source);
  const bpf = search(after, { source: 'qm_t', classes: ['bpf'] });
  t.true(bpf.length > 0 && bpf.every((rule) => rule.condition === 'qm_nested_bpf'), bpf.map((r) => r.line).join('\n'));
  t.deepEqual(search(after, { source: 'qm_container_t', classes: ['bpf'] }).map((r) => r.line), []);
});

test('on this store, systemd (init_t) and an administrator (unconfined_t) may start QM as qm_t', (t) => {
  const { after } = t.context;
  for (const starter of ['init_t', 'unconfined_t']) t.true(permsOf(after, starter, 'qm_t', 'process').has('transition'), starter);
  t.true(permsOf(after, 'qm_t', 'qm_file_t', 'file').has('entrypoint'), 'QM init comes from its qm_file_t rootfs');
});

test('no other domain gains anything from the module but access to QM types', (t) => {
  const { before, after } = t.context;
  const old = new Set(before.rules.map((rule) => rule.line));
  const added = after.rules.filter((rule) => !old.has(rule.line));
  const now = new Set(after.rules.map((rule) => rule.line));
  t.deepEqual(before.rules.filter((rule) => !now.has(rule.line)).map((r) => r.line), [], 'no rule removed');
  const hostGains = added.filter((rule) => !isQm(rule.source) && !isQm(rule.target));
  t.deepEqual(hostGains.map((r) => r.line), [], 'a rule whose source and target are both the host`s');
  const oldTypeRules = new Set(before.typeRules.map((rule) => rule.line));
  const newTypeRules = after.typeRules.filter((rule) => !oldTypeRules.has(rule.line));
  t.deepEqual(newTypeRules.filter((rule) => !isQm(rule.source) && !isQm(rule.result ?? '')).map((r) => r.line), []);
  for (const [name, members] of before.attributes) {
    const gained = [...(after.attributes.get(name) ?? [])].filter((type) => !members.has(type));
    t.deepEqual(gained.filter((type) => !isQm(type)), [], `attribute ${name} gained host types`);
  }
  for (const [name, members] of before.roles) {
    const gained = [...(after.roles.get(name) ?? [])].filter((type) => !members.has(type));
    t.deepEqual(gained.filter((type) => !isQm(type)), [], `role ${name}`);
  }
  t.true(added.length > 0);
});

test('QM podman contexts file names the nested types', async (t) => {
  const text = await readFile(join(repo, 'selinux', 'qm_contexts'), 'utf8');
  const labels = Object.fromEntries([...text.matchAll(/^(\w+)\s*=\s*"([^"]+)"$/gm)].map((m) => [m[1]!, m[2]!]));
  t.is(labels.process, 'system_u:system_r:qm_container_t:s0');
  t.is(labels.file, 'system_u:object_r:qm_container_file_t:s0');
  for (const label of Object.values(labels)) {
    const result = await runCommand(['seinfo', t.context.after.file, '-t', label.split(':')[2]!]);
    t.regex(result.stdout, /Types: 1/, label);
  }
});

test('file contexts label QM rootfs, /etc/qm, /var/qm, the agent and the gate socket', async (t) => {
  const contexts = await readFile(`/etc/selinux/${store}/contexts/files/file_contexts`, 'utf8');
  for (const [path, type] of [
    ['/usr/lib/qm/rootfs(/.*)?', 'qm_file_t'],
    ['/etc/qm(/.*)?', 'qm_file_t'],
    ['/var/qm(/.*)?', 'qm_file_t'],
    ['/usr/lib/qm/rootfs/usr/libexec/bluechi-agent', 'qm_bluechi_agent_exec_t'],
    ['/run/qm/bluechi-gate(/.*)?', 'qm_bluechi_gate_sock_t'],
  ] as const) {
    const line = contexts.split('\n').find((l) => l.startsWith(`${path}\t`) || l.startsWith(`${path} `));
    t.truthy(line, path);
    t.regex(line ?? '', new RegExp(`:${type}:s0$`), path);
  }
  const match = await runCommand(['matchpathcon', '-f', `/etc/selinux/${store}/contexts/files/file_contexts`, '/usr/lib/qm/rootfs/usr/libexec/bluechi-agent']);
  if (match.code === 0) t.regex(match.stdout, /qm_bluechi_agent_exec_t/);
});

// A neverallow that does not bite is a comment: add what each forbids to a copy of the sources and the build fails.
for (const [what, line] of [
  ['capability sys_module', 'allow qm_t self:capability sys_module;'],
  ['a transition to unconfined_t', "gen_require(`type unconfined_t;')\nallow qm_t unconfined_t:process transition;"],
  ['writing /etc (etc_t)', "gen_require(`type etc_t;')\nallow qm_container_t etc_t:file write;"],
  ['qm_t connecting to the gate', 'allow qm_t qm_bluechi_gate_sock_t:sock_file write;'],
  ['setenforce', "gen_require(`type security_t;')\nallow qm_t security_t:security setenforce;"],
] as const) {
  test.serial(`a neverallow refuses ${what}`, async (t) => {
    const copy = join(t.context.scratch, `broken-${what.replace(/\W+/g, '-')}`);
    await cp(join(repo, 'selinux'), join(copy, 'selinux'), { recursive: true });
    await appendFile(join(copy, 'selinux', 'qm.te'), `\n${line}\n`);
    const result = await runCommand(['sh', join(copy, 'selinux', 'build.sh'), join(copy, 'out')]);
    t.not(result.code, 0, result.stderr);
    t.regex(result.stderr, /neverallow check failed/);
  });
}
