// Which capabilities QM needs, measured on a real vehicle node: QM is restarted with one capability taken away at a
// time, then with every capability that was not missed taken away together, and each time we look at what broke.
// A tool, not a test: `node --import tsx test/partition/measure-capabilities.ts [CAPABILITY…]` (about 15 minutes
// for all of them on a 2-core machine; name capabilities to measure only those, the rest stay granted).
// Prints a table and the conclusion, and compares it with what units/qm.container grants.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bootQmNode, importBusybox, projectDir, waitForQmScript, type QmNode } from './qm-node.ts';
import { capabilityNames, decodeMask, defaultCapabilities, encodeMask, inBitOrder, isCapability, qmCapabilities, type Capability } from './capabilities.ts';

/** Taken away first in the cumulative pass, so that where two capabilities overlap the one that reaches the host goes. */
const hostReachFirst: readonly Capability[] = [
  'sys_module', 'sys_rawio', 'sys_time', 'syslog', 'mac_admin', 'mac_override', 'audit_control', 'audit_read',
  'linux_immutable', 'sys_pacct', 'wake_alarm', 'block_suspend', 'checkpoint_restore', 'dac_read_search', 'bpf',
  'perfmon', 'sys_boot', 'sys_ptrace', 'sys_tty_config', 'ipc_owner', 'lease', 'net_broadcast', 'mknod',
];

const dropIn = '/etc/containers/systemd/qm.container.d/99-measure-capabilities.conf';
/** QM's /var/tmp is the node's /var/qm/tmp. */
const checksScript = 'measure-capabilities.sh';

interface Check {
  readonly name: string;
  /** What it shows, for the table's legend. */
  readonly shows: string;
  /** Shell run inside QM. */
  readonly script: string;
  /** Undefined when the output is as it should be, else what went wrong. */
  judge(code: number, output: string): string | undefined;
}

/** The first line that says what failed (podman and systemd print the cause last), shortened for a table cell. */
function cause(output: string): string {
  const lines = output.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const line = lines.find((l) => /error|denied|not permitted|failed/i.test(l)) ?? lines.at(-1) ?? '(no output)';
  return line.replace(/^time="[^"]*" level=\w+ msg=/, '').slice(0, 140);
}

/** The checks; `nested` is what units/containers.conf gives nested containers. */
const checksFor = (nested: readonly Capability[]): readonly Check[] => [
  {
    name: 'unit',
    shows: 'a sandboxed service of QM\'s systemd (PrivateTmp, ProtectSystem=strict, PrivateDevices, User=nobody, one ambient capability)',
    script:
      'systemd-run --wait --pipe --quiet -p PrivateTmp=yes -p ProtectSystem=strict -p PrivateDevices=yes -p NoNewPrivileges=yes ' +
      '-p User=nobody -p CapabilityBoundingSet=CAP_NET_BIND_SERVICE -p AmbientCapabilities=CAP_NET_BIND_SERVICE ' +
      "sh -c 'id -u; grep ^CapEff /proc/self/status'",
    judge: (code, output) =>
      code === 0 && /^65534$/m.test(output) && /^CapEff:\s+0000000000000400$/m.test(output) ? undefined : `exit ${code}: ${cause(output)}`,
  },
  {
    name: 'nested-run',
    shows: 'podman run --rm of a nested container reading its oom_score_adj (750)',
    script: 'podman run --rm localhost/busybox cat /proc/self/oom_score_adj',
    judge: (code, output) => (code === 0 && output.trim().split('\n').at(-1) === '750' ? undefined : `exit ${code}: ${cause(output)}`),
  },
  {
    name: 'nested-netns',
    shows: 'a nested container with a network namespace of its own (--network none, as qmctl check runs its probe)',
    script: 'podman run --rm --network none localhost/busybox cat /proc/self/oom_score_adj',
    judge: (code, output) => (code === 0 && output.trim().split('\n').at(-1) === '750' ? undefined : `exit ${code}: ${cause(output)}`),
  },
  {
    name: 'nested-userns',
    shows: "a nested container in a user namespace of its own (--userns auto, from the ids setup gives QM's podman)",
    script: 'podman run --rm --userns auto localhost/busybox cat /proc/self/uid_map',
    judge: (code, output) => (code === 0 && /^\s*0\s+1\d{9}\s+\d+$/m.test(output) ? undefined : `exit ${code}: ${cause(output)}`),
  },
  {
    name: 'nested-exec',
    shows: 'a detached nested container, podman exec into it (what qmctl execin does), podman rm -f',
    script:
      'podman run -d --replace --name measure-caps localhost/busybox sleep 300 >/dev/null && podman exec measure-caps cat /proc/1/oom_score_adj; ' +
      'c=$?; podman rm -f -t 0 measure-caps >/dev/null || c=1; exit $c',
    judge: (code, output) => (code === 0 && output.trim().split('\n').at(-1) === '750' ? undefined : `exit ${code}: ${cause(output)}`),
  },
  {
    name: 'nested-caps',
    shows: "a nested container's CapBnd is the default_capabilities of units/containers.conf",
    script: 'podman run --rm localhost/busybox cat /proc/self/status',
    judge: (code, output) => {
      const mask = /^CapBnd:\s+([0-9a-f]+)$/m.exec(output)?.[1];
      if (code !== 0 || mask === undefined) return `exit ${code}: ${cause(output)}`;
      const got = decodeMask(mask);
      const missing = nested.filter((c) => !got.includes(c));
      const more = got.filter((c) => !nested.includes(c));
      if (missing.length === 0 && more.length === 0) return undefined;
      return [missing.length ? `lacks ${missing.join(' ')}` : '', more.length ? `has more: ${more.join(' ')}` : ''].filter(Boolean).join(', ');
    },
  },
];

interface Trial {
  readonly granted: readonly Capability[];
  /** QM's systemd state after boot, or why it could not be read. */
  readonly boot: string;
  /** QM init's CapEff, decoded. */
  readonly qmEffective: readonly Capability[];
  /** A nested container's CapBnd, decoded; undefined when none ran. */
  readonly nestedBounding: readonly Capability[] | undefined;
  /** Check name → what went wrong; `boot` when QM did not reach `running`. */
  readonly failures: ReadonlyMap<string, string>;
}

/** Restarts QM with exactly `granted` (or with qm.container's own set when undefined) and runs every check. */
async function trial(node: QmNode, checks: readonly Check[], granted: readonly Capability[] | undefined): Promise<Trial> {
  const config =
    granted === undefined
      ? `rm -f ${dropIn}`
      : `printf '%s\\n' '[Container]' 'AddCapability=' 'AddCapability=${granted.join(' ')}' 'DropCapability=' 'DropCapability=all' > ${dropIn}`;
  // Waits until QM's systemd has finished booting; a QM that never gets there is described by its journal.
  const boot = await node.sh(
    `${config}
systemctl daemon-reload
systemctl restart qm.service >/dev/null 2>&1 || echo "qm.service did not start: $(journalctl -u qm.service -n 3 -o cat | tr '\\n' ' ')"
${waitForQmScript}
echo "@@state \${state:-unreachable}"
pid=$(podman inspect --format '{{.State.Pid}}' qm 2>/dev/null) && echo "@@capeff $(awk '/^CapEff/ {print $2}' /proc/$pid/status)"
if [ "$state" != running ] && [ -n "$state" ]; then
  for unit in $(podman exec qm systemctl --failed --plain --no-legend 2>/dev/null | awk '{print $1}'); do
    echo "@@failed $unit: $(podman exec qm journalctl -u $unit -n 1 -o cat 2>/dev/null | cut -c1-120)"
  done
  [ "$state" = starting ] && echo "@@failed still starting: $(podman exec qm systemctl list-jobs --plain --no-legend | head -3 | awk '{print $2}' | tr '\\n' ' ')"
fi
true`,
    180_000,
  );
  const lines = boot.stdout.split('\n');
  const value = (key: string) => lines.find((line) => line.startsWith(`@@${key} `))?.slice(key.length + 3);
  const state = value('state') ?? 'unreachable';
  const failed = lines.filter((line) => line.startsWith('@@failed ')).map((line) => line.slice(9));
  const failures = new Map<string, string>();
  const notStarted = lines.find((line) => line.startsWith('qm.service did not start'));
  if (state !== 'running') failures.set('boot', [state, ...failed, ...(notStarted ? [notStarted] : [])].join('; ').slice(0, 200));
  const capeff = value('capeff');
  let nestedBounding: Capability[] | undefined;
  if (state !== 'unreachable') {
    const run = await node.sh(`podman exec qm sh /var/tmp/${checksScript}`, 300_000);
    const sections = new Map<string, { code: number; output: string }>();
    for (const match of run.stdout.matchAll(/^@@begin (\S+)\n([\s\S]*?)^@@end \1 (\d+)$/gm)) {
      sections.set(match[1]!, { code: Number(match[3]), output: match[2]! });
    }
    for (const check of checks) {
      const result = sections.get(check.name);
      const wrong = result ? check.judge(result.code, result.output) : `did not run: ${cause(run.stderr)}`;
      if (wrong !== undefined) failures.set(check.name, wrong);
    }
    const bounding = /^CapBnd:\s+([0-9a-f]+)$/m.exec(sections.get('nested-caps')?.output ?? '');
    nestedBounding = bounding ? decodeMask(bounding[1]!) : undefined;
  } else {
    for (const check of checks) failures.set(check.name, 'not run: QM unreachable');
  }
  return { granted: granted ?? [], boot: state, qmEffective: capeff ? decodeMask(capeff) : [], nestedBounding, failures };
}

/** A trial that broke something is run again: what breaks only once is marked so, and counted as broken. */
async function confirmed(node: QmNode, checks: readonly Check[], granted: readonly Capability[]): Promise<Trial> {
  const first = await trial(node, checks, granted);
  if (first.failures.size === 0) return first;
  const second = await trial(node, checks, granted);
  if (second.failures.size > 0) return second;
  return { ...first, failures: new Map([...first.failures].map(([check, why]) => [check, `once in two runs: ${why}`])) };
}

/** The checks as one script inside QM; each section's output and exit code are marked for parsing. */
function checksInQm(checks: readonly Check[]): string {
  const sections = checks.map(
    (check) => `echo "@@begin ${check.name}"\n( ${check.script} ) 2>&1\necho "@@end ${check.name} $?"`,
  );
  return `export PODMAN_IGNORE_CGROUPSV1_WARNING=1\n${sections.join('\n')}\n`;
}

/** What broke, checks that broke the same way named together. */
function summary(result: Trial): string {
  if (result.failures.size === 0) return 'nothing broke';
  const byReason = new Map<string, string[]>();
  for (const [check, why] of result.failures) byReason.set(why, [...(byReason.get(why) ?? []), check]);
  return [...byReason].map(([why, names]) => `${names.join(', ')}: ${why}`).join(' | ');
}

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  for (const name of asked) if (!isCapability(name)) throw new Error(`${name} is not a capability; known: ${capabilityNames.join(' ')}`);
  const nested = defaultCapabilities(await readFile(join(projectDir, 'units/containers.conf'), 'utf8'));
  if (!nested) throw new Error('units/containers.conf sets no default_capabilities: nested containers would get whatever the rootfs defaults to');
  const everyCheck = checksFor(nested);
  const node = await bootQmNode('qm-caps');
  try {
    const setup = await node.qmctl(['setup']);
    if (setup.code !== 0) throw new Error(`qmctl setup failed (${setup.code}): ${setup.stderr}`);
    await importBusybox(node);
    const written = await node.exec(['sh', '-c', `cat > /var/qm/tmp/${checksScript}`], { input: checksInQm(everyCheck) });
    if (written.code !== 0) throw new Error(`cannot write the checks into QM: ${written.stderr}`);

    // Everything the node itself holds can be granted to QM: that is the baseline every drop is measured against.
    const bounding = /^CapBnd:\s+([0-9a-f]+)$/m.exec((await node.sh('cat /proc/1/status')).stdout);
    if (!bounding) throw new Error("cannot read the node's capability bounding set");
    const all = decodeMask(bounding[1]!);
    const candidates = asked.length > 0 ? inBitOrder(asked as Capability[]).filter((c) => all.includes(c)) : all;
    const without = (granted: readonly Capability[], gone: Iterable<Capability>) => {
      const drop = new Set(gone);
      return granted.filter((c) => !drop.has(c));
    };
    const progress = (what: string, result: Trial) => console.error(`${what}: ${summary(result)}`);

    const baseline = await trial(node, everyCheck, all);
    progress(`baseline (all ${all.length} the node holds)`, baseline);
    if (baseline.failures.has('boot')) throw new Error(`QM does not boot even with every capability: ${summary(baseline)}`);
    // What fails with every capability cannot tell what a capability is needed for: left out, and said so.
    const checks = everyCheck.filter((check) => !baseline.failures.has(check.name));
    await node.exec(['sh', '-c', `cat > /var/qm/tmp/${checksScript}`], { input: checksInQm(checks) });

    const alone = new Map<Capability, Trial>();
    for (const capability of candidates) {
      const result = await confirmed(node, checks, without(all, [capability]));
      alone.set(capability, result);
      progress(`without ${capability}`, result);
    }

    // Taking several away can break what no single one did (one capability standing in for another): add them up.
    const order = [...hostReachFirst, ...capabilityNames].filter((c, i, list) => list.indexOf(c) === i && alone.get(c)?.failures.size === 0);
    const together = new Map<Capability, Trial>();
    let granted: readonly Capability[] = all;
    for (const capability of order) {
      const result = await confirmed(node, checks, without(granted, [capability]));
      together.set(capability, result);
      progress(`without ${capability} and ${all.length - granted.length} others`, result);
      if (result.failures.size === 0) granted = without(granted, [capability]);
    }

    const verified = await trial(node, checks, granted);
    progress(`the needed set (${granted.join(' ')})`, verified);
    const control = await trial(node, checks, all);
    progress('all again (the node is still sound)', control);
    const shipped = await trial(node, checks, undefined);
    progress("units/qm.container's own set", shipped);

    console.log("\nQM's capabilities, measured on a trixie vehicle node (systemd 257, podman 5.4; nested containers: crun, cgroups disabled)");
    console.log('Checks after each restart of qm.service with the capability taken away:');
    console.log("  boot: QM's systemd reaches 'running' (else: its state and the failed units' last log line)");
    for (const check of checks) console.log(`  ${check.name}: ${check.shows}`);
    for (const check of everyCheck.filter((c) => !checks.includes(c))) {
      console.log(`  (left out: ${check.name}, ${check.shows}: fails even with every capability: ${baseline.failures.get(check.name)})`);
    }
    console.log('');
    const rows = candidates.map((capability) => {
      const single = alone.get(capability)!;
      const cumulative = together.get(capability);
      const kept = granted.includes(capability);
      return [
        capability,
        kept ? 'KEEP' : 'drop',
        summary(single),
        cumulative ? summary(cumulative) : single.failures.size > 0 ? '-' : 'not tried',
      ];
    });
    const header = ['capability', 'decision', 'taken away alone', 'taken away with those dropped before it'];
    const widths = header.slice(0, 2).map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    for (const row of [header, ...rows]) {
      console.log(row.map((cell, i) => (i < widths.length ? cell.padEnd(widths[i]!) : cell)).join(' | '));
    }
    console.log('');
    const unmeasured = asked.length > 0 ? ` (only ${candidates.join(' ')} measured; the others stayed granted)` : '';
    console.log(`Needed (${granted.length}): ${granted.join(' ')}  (mask ${encodeMask(granted)})${unmeasured}`);
    console.log(`Together: ${summary(verified)}; all again: ${summary(control)}`);
    if (verified.nestedBounding) {
      const beyond = verified.nestedBounding.filter((c) => !granted.includes(c));
      console.log(`A nested container's CapBnd: ${verified.nestedBounding.join(' ')}${beyond.length ? ` — beyond QM's: ${beyond.join(' ')}` : " (within QM's)"}`);
    }
    const unitText = await readFile(join(projectDir, 'units/qm.container'), 'utf8');
    const equal = encodeMask(shipped.qmEffective) === encodeMask(granted);
    console.log(
      `units/qm.container gives QM's init: ${shipped.qmEffective.join(' ')} (${summary(shipped)}) — ` +
        (equal ? 'exactly the measured set' : `differs from the measured set (missing: ${without(granted, shipped.qmEffective).join(' ') || 'none'}; more: ${without(shipped.qmEffective, granted).join(' ') || 'none'})`),
    );
    if (encodeMask(qmCapabilities) !== encodeMask(granted)) {
      console.log(`test/partition/capabilities.ts qmCapabilities (${qmCapabilities.join(' ') || 'empty'}) differs from the measured set: update it with units/qm.container.`);
    }
    if (!/^DropCapability=all$/m.test(unitText)) console.log('units/qm.container does not start from DropCapability=all: the host\'s containers.conf defaults add to its list.');
  } finally {
    await node.sh(`rm -f ${dropIn}`).catch(() => undefined);
    await node.stop();
  }
}

await main();
