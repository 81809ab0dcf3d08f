import { hostname as systemHostname } from 'node:os';
import { errnoReason, readConfigFile } from '../../config-file.ts';
import { QmError, isQmError } from '../../errors.ts';
import {
  applyUntilStable,
  hostEffective,
  qmEffective,
  renderQmAgentConf,
  resolveLocations,
  type AgentView,
  type Locations,
  type Plan,
  type RenderRequest,
} from '../../../agent-config/apply.ts';
import type { ControllerMode } from '../../../agent-config/derive.ts';
import { MAX_AGENT_FILE_BYTES } from '../../../agent-config/files.ts';
import { AGENT_KEY_NAMES } from '../../../agent-config/keys.ts';
import { configError, errorsIn, formatDiagnostic, warningsIn, type Diagnostic } from '../../../agent-config/diagnostics.ts';
import { originOf } from '../../../agent-config/merge.ts';
import { restartQmAgent, spawnRunner } from '../../../agent-config/restart.ts';
import { watchAgentConfig } from '../../../agent-config/watch.ts';
import type { Command, Context, OptionValues } from '../command.ts';
import { paint, table } from '../format.ts';
import { MAX_TIMER_MS } from '../../timers.ts';

const SUBCOMMANDS = ['render', 'apply', 'check', 'show'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

const HOST_OPTIONS = ['host-config-dir', 'packaged-default'];
const QM_OPTIONS = ['rootfs', 'rwetcfs'];
const DERIVE_OPTIONS = ['hostname', 'controller', 'controller-host'];
/** The options each sub-command takes besides the global ones. */
const ALLOWED: Record<Subcommand, readonly string[]> = {
  render: [...HOST_OPTIONS, ...DERIVE_OPTIONS],
  check: [...HOST_OPTIONS, ...DERIVE_OPTIONS],
  apply: [...HOST_OPTIONS, ...QM_OPTIONS, ...DERIVE_OPTIONS, 'dry-run', 'no-restart', 'watch', 'debounce'],
  show: [...HOST_OPTIONS, ...QM_OPTIONS, 'hostname', 'effective', 'host'],
};

const command: Command = {
  name: 'agent-config',
  summary: "Derive QM's bluechi-agent configuration from the host's and keep it in step",
  usage: `agent-config render|check [--host-config-dir DIR] [--hostname NAME] [--controller auto|unix|tcp] [--controller-host ADDR]
       agent-config apply [--rootfs DIR] [--rwetcfs DIR] [--dry-run] [--no-restart] [--watch]
       agent-config show [--effective | --host] [--rootfs DIR] [--rwetcfs DIR]`,
  help: `Reads the host's bluechi-agent configuration as bluechi-agent does (packaged default, then
/etc/bluechi/agent.conf, then /etc/bluechi/agent.conf.d/*.conf in lexical order; later keys win)
and derives QM's: NodeName=qm.<host NodeName, else hostname>, and a controller address that works
from QM's private network (a loopback controller is reached through its Unix socket, which
qm.container.d/20-bluechi-controller-socket.conf mounts at /run/bluechi-controller).

  render     print the QM agent.conf to stdout
  check      validate the host's configuration and the derivation; write nothing
  apply      write <rwetcfs>/bluechi/agent.conf atomically (previous version kept as agent.conf.prev)
             when its bytes differ, and restart QM's bluechi-agent when its settings changed
  show       print QM's agent.conf as it is, or with --effective / --host what an agent runs with

Options:
  --host-config-dir DIR    the host's BlueChi directory (default /etc/bluechi)
  --packaged-default FILE  the host's packaged default (default /usr/share/bluechi-agent/config/agent.conf)
  --rootfs DIR             QM's root filesystem (default /usr/lib/qm/rootfs)
  --rwetcfs DIR            the host directory QM sees as /etc (qm.container: Volume=\${RWETCFS}:/etc;
                           default <rootfs>/etc)
  --hostname NAME          the host name to use when the host sets no NodeName (default: this host's)
  --controller MODE        auto (default), unix (the mounted socket) or tcp (needs --controller-host
                           when the host's controller address is loopback)
  --controller-host ADDR   the controller's address as reachable from inside QM
  --dry-run                show the diff, write nothing
  --no-restart             write, but do not restart QM's bluechi-agent (e.g. before QM starts)
  --watch                  apply, then again whenever the host's files change (until interrupted)
  --debounce MS            with --watch: apply once the host's files were still for MS milliseconds (default 300)
  --effective              show: what QM's agent runs with, each key with the file:line it came from
                           (QM's own agent.conf.d included)
  --host                   show: the same for the host's agent

Environment: QMCTL_PODMAN names the podman executable used to restart QM's agent (default podman).
Warnings (unknown keys, ignored sections) go to stderr; invalid values are errors naming file:line:key,
exit 2, and nothing is written. JSON: render { content, nodeName, controller, settings, sources, warnings };
check { ok, nodeName, controller, warnings }; apply { target, written, changes, effectiveChanges,
restart, previous, diff, warnings }; show { file, content } or { settings: [{ key, value, file, line }] }.`,
  options: {
    'host-config-dir': { type: 'string' },
    'packaged-default': { type: 'string' },
    rootfs: { type: 'string' },
    rwetcfs: { type: 'string' },
    hostname: { type: 'string' },
    controller: { type: 'string' },
    'controller-host': { type: 'string' },
    'dry-run': { type: 'boolean' },
    'no-restart': { type: 'boolean' },
    watch: { type: 'boolean' },
    debounce: { type: 'string' },
    effective: { type: 'boolean' },
    host: { type: 'boolean' },
  },
  args: [1, 1],
  async run(context, args, options) {
    const sub = args[0] as Subcommand;
    if (!SUBCOMMANDS.includes(sub)) throw new QmError('usage', `unknown sub-command ${JSON.stringify(args[0])}: use ${SUBCOMMANDS.join(', ')}`);
    const foreign = Object.keys(options).filter((key) => key in (command.options ?? {}) && options[key] !== undefined && !ALLOWED[sub].includes(key));
    if (foreign.length > 0) throw new QmError('usage', `${sub} does not take ${foreign.map((key) => `--${key}`).join(', ')}`);
    const request = renderRequest(options);
    switch (sub) {
      case 'render':
        return render(context, request);
      case 'check':
        return check(context, request);
      case 'apply':
        return options.watch ? watchAndApply(context, request, options) : apply(context, request, options);
      case 'show':
        return show(context, request, options);
    }
  },
};
export default command;

function renderRequest(options: OptionValues): RenderRequest {
  const string = (name: string) => options[name] as string | undefined;
  const controller = string('controller') ?? 'auto';
  if (!['auto', 'unix', 'tcp'].includes(controller)) throw new QmError('usage', `--controller must be auto, unix or tcp, not ${JSON.stringify(controller)}`);
  const locations: Locations = Object.fromEntries(
    (
      [
        ['hostConfigDir', 'host-config-dir'],
        ['packagedDefault', 'packaged-default'],
        ['rootfs', 'rootfs'],
        ['rwetcfs', 'rwetcfs'],
      ] as const
    )
      .filter(([, option]) => string(option) !== undefined)
      .map(([key, option]) => [key, string(option)!]),
  );
  const hostname = string('hostname');
  if (hostname === '') throw new QmError('usage', '--hostname must not be empty');
  return {
    locations,
    hostname: hostname ?? systemHostname(),
    hostnameFrom: hostname === undefined ? 'hostname' : '--hostname',
    controller: controller as ControllerMode,
    ...(string('controller-host') === undefined ? {} : { controllerHost: string('controller-host')! }),
  };
}

/** Warnings to stderr; `seen` keeps apply's repeated rounds from repeating them. */
function reportWarnings(context: Context, diagnostics: readonly Diagnostic[], seen = new Set<string>()): void {
  for (const diagnostic of warningsIn(diagnostics)) {
    const line = formatDiagnostic(diagnostic);
    if (seen.has(line)) continue;
    seen.add(line);
    context.stderr.write(`qmctl agent-config: ${paint(context.tty, 'yellow', 'warning')}: ${line}\n`);
  }
}

const warningsJson = (diagnostics: readonly Diagnostic[]) => warningsIn(diagnostics);

async function render(context: Context, request: RenderRequest): Promise<number> {
  const rendered = await context.readOnly(() => renderQmAgentConf(request));
  reportWarnings(context, rendered.diagnostics);
  if (context.global.json) {
    context.printJson({
      content: rendered.content,
      nodeName: rendered.config.nodeName,
      controller: rendered.config.controller,
      settings: Object.fromEntries(rendered.config.settings),
      sources: rendered.host.files.map((file) => file.file),
      warnings: warningsJson(rendered.diagnostics),
    });
  } else {
    context.stdout.write(rendered.content);
  }
  return 0;
}

async function check(context: Context, request: RenderRequest): Promise<number> {
  const rendered = await context.readOnly(() => renderQmAgentConf(request));
  reportWarnings(context, rendered.diagnostics);
  const { nodeName, controller } = rendered.config;
  if (context.global.json) {
    context.printJson({ ok: true, nodeName, controller, warnings: warningsJson(rendered.diagnostics) });
  } else {
    const warnings = warningsIn(rendered.diagnostics).length;
    context.print(`ok: QM's bluechi-agent would register as ${nodeName} and reach the controller through ${controller.reason}${warnings > 0 ? ` (${warnings} warning${warnings === 1 ? '' : 's'} above)` : ''}`);
  }
  return 0;
}

async function apply(context: Context, request: RenderRequest, options: OptionValues): Promise<number> {
  const dryRun = options['dry-run'] === true;
  const log = await context.log();
  const lines: string[] = [];
  const warned = new Set<string>();
  const rounds = await applyUntilStable(request, {
    dryRun,
    log: (line) => {
      lines.push(line);
      log.info(line);
    },
    onRound: ({ plan }) => reportWarnings(context, plan.diagnostics, warned),
    ...(options['no-restart'] === true
      ? {}
      : {
          restart: (plan: Plan) =>
            restartQmAgent({
              run: spawnRunner(),
              ...(context.env.QMCTL_PODMAN ? { podman: context.env.QMCTL_PODMAN } : {}),
              node: plan.rendered.config.nodeName,
              blueChiRestart: blueChiRestart(context),
            }),
        }),
  });
  const { plan, outcome } = rounds.findLast((round) => round.outcome.written) ?? rounds.at(-1)!;
  if (context.global.json) {
    context.printJson({
      target: plan.target,
      dryRun,
      written: outcome.written,
      ...(outcome.previous ? { previous: outcome.previous } : {}),
      nodeName: plan.rendered.config.nodeName,
      controller: plan.rendered.config.controller,
      changes: plan.changes,
      effectiveChanges: plan.effectiveChanges,
      restartNeeded: plan.restart,
      ...(outcome.restart ? { restart: outcome.restart } : {}),
      diff: plan.diff,
      rounds: rounds.length,
      warnings: warningsJson(plan.diagnostics),
    });
    return 0;
  }
  if (dryRun) {
    context.stdout.write(plan.write ? plan.diff : `${plan.target} is up to date\n`);
    if (plan.write) context.print(`would ${plan.current === null ? 'create' : 'replace'} ${plan.target}${plan.restart ? " and restart QM's bluechi-agent" : ''}`);
    return 0;
  }
  context.print(outcome.written ? lines.join('\n') : `${plan.target} is up to date`);
  return 0;
}

function blueChiRestart(context: Context) {
  return async (node: string, unit: string) => {
    const outcome = await (await context.blueChi()).node(node).runJob('restart', unit, 'replace', 15_000);
    if (outcome.result !== 'done') throw new Error(`restart job ended ${outcome.result}`);
  };
}

async function watchAndApply(context: Context, request: RenderRequest, options: OptionValues): Promise<number> {
  if (options['dry-run'] === true) throw new QmError('usage', '--watch and --dry-run do not go together');
  const debounceMs = options.debounce === undefined ? 300 : Number(options.debounce);
  if (!Number.isFinite(debounceMs) || debounceMs < 0 || debounceMs > MAX_TIMER_MS) {
    throw new QmError('usage', `--debounce takes milliseconds from 0 to ${MAX_TIMER_MS} (the longest a timer can wait), not ${JSON.stringify(options.debounce)}`);
  }
  const once = async () => {
    try {
      await apply(context, request, options);
    } catch (error) {
      if (!isQmError(error)) throw error;
      // A bad edit on the host must not stop the watch: report it, keep the old file, wait for the fix.
      context.stderr.write(`qmctl agent-config: ${error.position}${error.message} (nothing written; still watching)\n`);
    }
  };
  const configDir = resolveLocations(request.locations).hostConfigDir;
  let failed: Error | undefined;
  // Interrupting is how watching ends: normally, exit 0.
  context.endsOnInterrupt();
  // The first apply runs once the watch is in place, so an edit made meanwhile is not missed.
  await watchAgentConfig(configDir, once, {
    runAtStart: true,
    debounceMs,
    signal: context.interrupted,
    onError: (error) => {
      failed = error;
      context.stderr.write(`qmctl agent-config: cannot watch ${configDir}: ${errnoReason(error)}\n`);
    },
  });
  return failed && !context.interrupted.aborted ? 1 : 0;
}

async function show(context: Context, request: RenderRequest, options: OptionValues): Promise<number> {
  if (options.effective === true && options.host === true) throw new QmError('usage', 'give --effective or --host, not both');
  const locations = request.locations ?? {};
  if (options.effective !== true && options.host !== true) {
    const file = resolveLocations(locations).qm.configFile;
    // The file is named by the error's origin, which the CLI prints before the message.
    const read = await readConfigFile(file, MAX_AGENT_FILE_BYTES);
    if (!read.ok && read.missing) throw new QmError('io', 'does not exist yet; run "qmctl agent-config apply"', { file }, { cause: read.cause });
    if (!read.ok) throw new QmError('io', `cannot read: ${read.reason}`, { file }, { cause: read.cause });
    const content = read.bytes.toString('utf8');
    if (context.global.json) context.printJson({ file, content });
    else context.stdout.write(content);
    return 0;
  }
  const view = options.host === true ? await hostEffective(locations, request.hostname) : await qmEffective(locations);
  reportWarnings(context, view.diagnostics);
  printView(context, view);
  const errors = errorsIn(view.diagnostics);
  if (errors.length > 0) throw configError(errors);
  return 0;
}

function printView(context: Context, view: AgentView): void {
  // Documented order, then unknown keys by name; what ControllerAddress overrides is marked.
  const rank = (key: string) => (AGENT_KEY_NAMES.includes(key) ? AGENT_KEY_NAMES.indexOf(key) : AGENT_KEY_NAMES.length);
  const entries = [...view.agent].sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const overridden = (key: string) => (key === 'ControllerHost' || key === 'ControllerPort') && (view.agent.get('ControllerAddress')?.value ?? null) !== null;
  const settings = entries.map(([key, setting]) => ({
    key,
    value: setting.value,
    file: setting.file,
    ...(setting.line === undefined ? {} : { line: setting.line }),
    ...(setting.lines.length > 1 ? { lines: setting.lines } : {}),
    ...(overridden(key) ? { unused: 'ControllerAddress overrides it' } : {}),
  }));
  if (context.global.json) {
    context.printJson({ files: view.files.map((file) => file.file), settings, warnings: warningsJson(view.diagnostics) });
    return;
  }
  const rows = entries.map(([key, setting]) => {
    const lines = setting.lines.length > 1 ? ` (lines ${setting.lines.join(', ')})` : '';
    const unused = overridden(key) ? '; unused: ControllerAddress overrides it' : '';
    return [`${key}=${setting.value ?? ''}`, paint(context.tty, 'dim', `# ${originOf(setting)}${lines}${unused}`)];
  });
  context.print(`[bluechi-agent]\n${table(['', ''], rows).split('\n').slice(1).join('\n')}`);
}
