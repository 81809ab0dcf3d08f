// The qmctl commands, one module each, loaded only when run so start-up stays fast.
import type { Command } from './command.ts';

// A Map, not an object: a verb such as `__proto__` or `toString` must not find Object.prototype's members.
const loaders = new Map<string, () => Promise<{ default: Command }>>(Object.entries({
  'list-nodes': () => import('./commands/list-nodes.ts'),
  'list-units': () => import('./commands/list-units.ts'),
  'list-unit-files': () => import('./commands/list-unit-files.ts'),
  start: () => import('./commands/start.ts'),
  stop: () => import('./commands/stop.ts'),
  restart: () => import('./commands/restart.ts'),
  reload: () => import('./commands/reload.ts'),
  freeze: () => import('./commands/freeze.ts'),
  thaw: () => import('./commands/thaw.ts'),
  kill: () => import('./commands/kill.ts'),
  enable: () => import('./commands/enable.ts'),
  disable: () => import('./commands/disable.ts'),
  'is-enabled': () => import('./commands/is-enabled.ts'),
  'daemon-reload': () => import('./commands/daemon-reload.ts'),
  'reset-failed': () => import('./commands/reset-failed.ts'),
  status: () => import('./commands/status.ts'),
  monitor: () => import('./commands/monitor.ts'),
  metrics: () => import('./commands/metrics.ts'),
  'is-online': () => import('./commands/is-online.ts'),
  'get-default': () => import('./commands/get-default.ts'),
  'set-default': () => import('./commands/set-default.ts'),
  'set-loglevel': () => import('./commands/set-loglevel.ts'),
  'agent-config': () => import('./commands/agent-config.ts'),
  version: () => import('./commands/version.ts'),
  plan: () => import('./commands/plan.ts'),
  apply: () => import('./commands/apply.ts'),
  'controller-status': () => import('./commands/controller-status.ts'),
  'controller-reload': () => import('./commands/controller-reload.ts'),
  layout: () => import('./commands/layout.ts'),
  setup: () => import('./commands/setup.ts'),
  show: () => import('./commands/show.ts'),
  exec: () => import('./commands/exec.ts'),
  execin: () => import('./commands/execin.ts'),
  cp: () => import('./commands/cp.ts'),
  check: () => import('./commands/check.ts'),
  wait: () => import('./commands/wait.ts'),
}));

export const commandNames = [...loaders.keys()];

export async function loadCommand(name: string): Promise<Command | undefined> {
  const load = loaders.get(name);
  return load ? (await load()).default : undefined;
}
