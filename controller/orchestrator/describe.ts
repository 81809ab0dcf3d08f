// A plan as a person reads it: per node, what changes from what to what, and why some things wait.
import { paint, table, type Colour } from '../cli/format.ts';
import type { Action, Plan, Step } from './plan.ts';

const marks: Record<Action, { mark: string; colour: Colour }> = {
  start: { mark: '+', colour: 'green' },
  stop: { mark: '-', colour: 'red' },
  enable: { mark: '~', colour: 'yellow' },
  disable: { mark: '~', colour: 'yellow' },
  'daemon-reload': { mark: '↻', colour: 'dim' },
};

const REFUSED: { mark: string; colour: Colour } = { mark: '!', colour: 'red' };

export interface PlanCounts {
  readonly start: number;
  readonly stop: number;
  readonly enable: number;
  readonly disable: number;
  readonly 'daemon-reload': number;
  /** Steps the vehicle refuses (enabling a masked unit): reported, not run. */
  readonly refused: number;
  readonly waiting: number;
}

export function countSteps(plan: Plan): PlanCounts {
  const count = (action: Action) => plan.steps.filter((step) => step.action === action && step.error === undefined).length;
  return {
    start: count('start'),
    stop: count('stop'),
    enable: count('enable'),
    disable: count('disable'),
    'daemon-reload': count('daemon-reload'),
    refused: plan.steps.filter((step) => step.error !== undefined).length,
    waiting: plan.waiting.length,
  };
}

/** The summary line: `Plan: 2 to start, 1 to stop, …` or that nothing changes. */
export function summaryLine(plan: Plan): string {
  const counts = countSteps(plan);
  const offline = plan.offline.length > 0 ? ` (offline: ${plan.offline.join(', ')})` : '';
  if (plan.steps.length === 0 && plan.waiting.length === 0) return 'No changes: the vehicle matches the layout.';
  return (
    `Plan: ${counts.start} to start, ${counts.stop} to stop, ${counts.enable} to enable, ${counts.disable} to disable, ` +
    `${counts['daemon-reload']} daemon-reload${counts['daemon-reload'] === 1 ? '' : 's'}` +
    (counts.refused > 0 ? `; ${counts.refused} refused` : '') +
    (counts.waiting > 0 ? `; ${counts.waiting} waiting${offline}.` : '.')
  );
}

/** The diff: steps grouped by node in plan order, dependencies named, then what waits and the summary. */
export function describePlan(plan: Plan, tty = false): string {
  const byNode = new Map<string, Step[]>();
  for (const step of plan.steps) byNode.set(step.node, [...(byNode.get(step.node) ?? []), step]);
  const sections = [...byNode].map(([node, steps]) => {
    const rows = steps.map((step) => {
      const { mark, colour } = step.error === undefined ? marks[step.action] : REFUSED;
      // Name the other units waited for; the per-node enable → daemon-reload → job order goes without saying.
      const units = step.action === 'start' || step.action === 'stop' ? step.after.filter((id) => id.startsWith('start ') || id.startsWith('stop ')) : [];
      const after = units.map((id) => id.slice(id.indexOf(' ') + 1));
      return [paint(tty, colour, `${mark} ${step.action}`), step.unit ?? '', step.change, after.length > 0 ? `after ${after.join(', ')}` : ''];
    });
    const body = table(['', '', '', ''], rows).split('\n').slice(1).map((line) => `  ${line}`.trimEnd());
    return [paint(tty, 'bold', node), ...body].join('\n');
  });
  if (plan.waiting.length > 0) {
    sections.push([paint(tty, 'bold', 'waiting'), ...plan.waiting.map((wait) => `  ${wait.key}: ${wait.reason}`)].join('\n'));
  }
  return [...sections, summaryLine(plan)].join('\n\n');
}
