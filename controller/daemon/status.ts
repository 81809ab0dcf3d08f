// The status model: what qm-controller shows of itself (org.qm.Controller1's properties), made from the layout, the
// vehicle model, the restart budgets and the history of applies and reloads — never from a call to BlueChi, so
// reading it costs the vehicle nothing. Changes are announced once per turn of the event loop, and again when a
// repair leaves its budget's window (repairs left grows back with time alone).
import { Observable, Subject } from 'rxjs';
import { layoutNodes, type Layout } from '../layout/index.ts';
import { isAsDesired } from '../orchestrator/observed.ts';
import type { ApplySummary, DaemonStatus, ReloadOutcome, UnitStatus } from './api.ts';
import type { VehicleModel } from './model.ts';
import { repairsLeft } from './repair.ts';
import type { Repairs } from './repairs.ts';
import { afterDelay, type Timer } from './timer.ts';

export interface StatusSources {
  readonly layout: () => Layout;
  readonly blueChiUp: () => boolean;
  readonly model: VehicleModel;
  readonly repairs: Repairs;
  readonly now: () => number;
}

export interface History {
  readonly applies: number;
  readonly lastApply?: ApplySummary;
  readonly lastReload?: ReloadOutcome;
}

/** The status now, and when it next changes by time alone (a repair leaving its window), if ever. Pure given its sources. */
export function statusOf(sources: StatusSources, history: History): { status: DaemonStatus; nextChangeAt?: number } {
  const layout = sources.layout();
  const up = sources.blueChiUp();
  const at = sources.now();
  let nextChangeAt: number | undefined;
  const units = [...layout.units.values()].map((spec): UnitStatus => {
    const observed = up && sources.model.isOnline(spec.node) ? sources.model.unit(spec.node, spec.unit).activeState : 'unknown';
    const record = sources.repairs.record(spec.key);
    for (const ran of record.ran) {
      const leaves = ran + spec.restart.windowMs;
      if (leaves > at && !record.exhausted) nextChangeAt = Math.min(nextChangeAt ?? leaves, leaves);
    }
    return {
      node: spec.node,
      unit: spec.unit,
      desired: spec.state,
      observed,
      converged: isAsDesired(spec.state, observed),
      repairs: {
        done: record.ran.length,
        left: repairsLeft(record, spec.restart, at),
        budget: spec.restart.attempts,
        exhausted: record.exhausted,
        ...(record.lastDelayMs === undefined ? {} : { lastDelayMs: record.lastDelayMs }),
      },
    };
  });
  const converged = up && units.every((unit) => unit.converged);
  const status: DaemonStatus = {
    status: !up ? 'down' : converged ? 'converged' : 'diverged',
    layout: { files: [...layout.files], units: layout.units.size },
    bluechi: up ? 'up' : 'down',
    converged,
    nodes: layoutNodes(layout).map((name) => ({ name, online: up && sources.model.isOnline(name) })),
    units,
    applies: history.applies,
    ...(history.lastApply ? { lastApply: history.lastApply } : {}),
    ...(history.lastReload ? { lastReload: history.lastReload } : {}),
  };
  return nextChangeAt === undefined ? { status } : { status, nextChangeAt };
}

export interface StatusBoard {
  /** The status now (computed once per change, however often it is read). */
  current(): DaemonStatus;
  /** Something it is made of may have changed: look again on the next turn of the event loop. */
  touch(): void;
  applied(summary: ApplySummary): void;
  reloaded(outcome: ReloadOutcome): void;
  /** The status after each change (at most one per turn of the event loop). */
  readonly changes: Observable<DaemonStatus>;
  close(): void;
}

export function statusBoard(sources: StatusSources): StatusBoard {
  let history: History = { applies: 0 };
  let cached: DaemonStatus | undefined;
  let pending: NodeJS.Immediate | undefined;
  let windowTimer: Timer | undefined;
  const changes = new Subject<DaemonStatus>();

  const compute = (): DaemonStatus => {
    const { status, nextChangeAt } = statusOf(sources, history);
    windowTimer?.clear();
    windowTimer = nextChangeAt === undefined ? undefined : afterDelay(nextChangeAt - sources.now() + 1, touch);
    return status;
  };
  const touch = () => {
    cached = undefined;
    pending ??= setImmediate(() => {
      pending = undefined;
      cached ??= compute();
      changes.next(cached);
    });
  };
  return {
    current: () => (cached ??= compute()),
    touch,
    applied(summary) {
      history = { ...history, applies: history.applies + 1, lastApply: summary };
      touch();
    },
    reloaded(outcome) {
      history = { ...history, lastReload: outcome };
      touch();
    },
    changes: changes.asObservable(),
    close() {
      clearImmediate(pending);
      windowTimer?.clear();
      changes.complete();
    },
  };
}
