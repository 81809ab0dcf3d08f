// qm-controller: keeps the vehicle matching the layout for good. Its named parts, wired here: the vehicle model
// (model.ts, what BlueChi signalled), the repair scheduler (repairs.ts), the reconcile loop (loop.ts), the status
// model (status.ts), and per bus connection a session (session.ts) that feeds the loop and serves org.qm.Controller1
// (service.ts). Here: reconnecting with backoff, and the daemon's interface for main.ts and tests.
import { setTimeout as delay } from 'node:timers/promises';
import type { BlueChi, BlueChiOptions } from '../bluechi/client.ts';
import type { Bus } from '../bus/connection.ts';
import { isQmError, QmError } from '../errors.ts';
import type { Layout } from '../layout/index.ts';
import type { Plan } from '../orchestrator/plan.ts';
import type { ApplyRequest, ApplySummary, DaemonStatus, ReloadOutcome } from './api.ts';
import { reconcileLoop, type LoopLog } from './loop.ts';
import { vehicleModel, type VehicleModel } from './model.ts';
import { reconnectDelay } from './repair.ts';
import { repairScheduler, type Repairs } from './repairs.ts';
import type { ControllerBackend } from './service.ts';
import { openSession, type Session } from './session.ts';
import { statusBoard } from './status.ts';
import { errorJson } from './summary.ts';

export type DaemonLog = LoopLog;

export interface DaemonOptions {
  readonly busAddress: string;
  /** The layout in force at start (already validated), and the paths it is reloaded from. */
  readonly layout: Layout;
  readonly layoutPaths: readonly string[];
  readonly log: DaemonLog;
  readonly jobTimeoutMs?: number;
  /** Reconnect backoff: doubling from initialMs up to maxMs. */
  readonly reconnect?: { readonly initialMs: number; readonly maxMs: number };
  /** Own org.qm.Controller1 and serve the API; default true. */
  readonly serve?: boolean;
  readonly now?: () => number;
  /** Makes the BlueChi client of each connection (tests wrap it to inject faults); default blueChi. */
  readonly blueChi?: (bus: Bus, options: BlueChiOptions) => BlueChi;
}

export interface Daemon {
  /** Resolves once connected and serving (the name owned); rejects when start-up cannot succeed (name taken, not allowed). */
  readonly ready: Promise<void>;
  status(): Promise<DaemonStatus>;
  /** An operator's apply: resets every restart budget, then runs (or joins) the one apply. */
  apply(request?: ApplyRequest): Promise<ApplySummary>;
  plan(): Promise<Plan>;
  /** Reads the layout again (applying nothing); an invalid one is reported and the old one kept. */
  reload(): Promise<ReloadOutcome>;
  /** SIGHUP (systemctl reload): reads the layout again and, when it is valid, applies it. */
  reloadAndApply(): Promise<ReloadOutcome>;
  /** Resolves when no apply runs or waits and no repair is scheduled. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/** Repairs that tell `changed` whenever a budget may have moved. */
function announcing(repairs: Repairs, changed: () => void): Repairs {
  const after =
    <A extends unknown[]>(act: (...args: A) => void) =>
    (...args: A) => {
      act(...args);
      changed();
    };
  return {
    drifted: after(repairs.drifted),
    jobStarted: after(repairs.jobStarted),
    reset: after(repairs.reset),
    held: repairs.held,
    record: repairs.record,
    get scheduled() {
      return repairs.scheduled;
    },
  };
}

export function startDaemon(options: DaemonOptions): Daemon {
  const { log } = options;
  const now = options.now ?? Date.now;
  const backoff = options.reconnect ?? { initialMs: 100, maxMs: 10_000 };
  const stopping = new AbortController();

  const model: VehicleModel = vehicleModel(options.layout);
  // The loop is made below; a repair runs through it once its delay has run out.
  const repairs = announcing(repairScheduler({ now, log, run: (key) => loop.request(`repair ${key}`, { unit: key }) }), () => board.touch());
  const board = statusBoard({ layout: () => loop.layout, blueChiUp: () => loop.blueChiUp, model, repairs, now });
  const loop = reconcileLoop({
    layout: options.layout,
    layoutPaths: options.layoutPaths,
    model,
    repairs,
    log,
    jobTimeoutMs: options.jobTimeoutMs,
    signal: stopping.signal,
    applied: (summary) => board.applied(summary),
    reloaded: (outcome) => board.reloaded(outcome),
    changed: () => board.touch(),
  });
  const backend: ControllerBackend = {
    status: () => board.current(),
    changes: board.changes,
    apply: (request, onRun) => loop.operatorApply(request, onRun),
    plan: () => loop.plan(),
    reload: () => loop.reload(),
  };

  let markReady: () => void = () => undefined;
  let failReady: (error: unknown) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  ready.catch(() => undefined);
  let current: Session | undefined;

  const reconnecting = (async () => {
    let attempt = 0;
    while (!stopping.signal.aborted) {
      let session: Session;
      try {
        session = await openSession({
          busAddress: options.busAddress,
          loop,
          log,
          jobTimeoutMs: options.jobTimeoutMs,
          ...(options.serve === false ? {} : { backend }),
          ...(options.blueChi ? { blueChi: options.blueChi } : {}),
        });
      } catch (error) {
        // Not allowed to own the name, or another daemon owns it: waiting will not change that.
        if (isQmError(error) && error.code !== 'unreachable') {
          failReady(error);
          return;
        }
        const wait = reconnectDelay(attempt++, backoff.initialMs, backoff.maxMs);
        log.warn(`${errorJson(error).message}; retrying in ${wait} ms`);
        await delay(wait, undefined, { signal: stopping.signal }).catch(() => undefined);
        continue;
      }
      attempt = 0;
      if (stopping.signal.aborted) {
        session.close();
        break;
      }
      current = session;
      markReady();
      log.info(`connected to ${options.busAddress}`);
      const stopped = new Promise<string>((resolve) => stopping.signal.addEventListener('abort', () => resolve('stopping'), { once: true }));
      const reason = await Promise.race([session.ended, stopped]);
      session.close();
      current = undefined;
      if (stopping.signal.aborted) break;
      log.warn(`${reason}: reconnecting`);
      // A session that ends at once again (a stream failing on arrival) must not spin.
      await delay(backoff.initialMs, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  })();

  return {
    ready,
    status: async () => board.current(),
    apply: (request) => loop.operatorApply(request),
    plan: () => loop.plan(),
    reload: () => loop.reload(),
    async reloadAndApply() {
      const outcome = await loop.reload();
      if (outcome.reloaded) void loop.request('reload');
      return outcome;
    },
    async settled() {
      for (;;) {
        await loop.idle();
        if (repairs.scheduled === 0 && !loop.running) return;
        await delay(10);
      }
    },
    async stop() {
      stopping.abort();
      repairs.reset();
      current?.close();
      failReady(new QmError('unreachable', 'qm-controller stopped before it was ready'));
      await reconnecting;
      await loop.idle();
      board.close();
    },
  };
}
