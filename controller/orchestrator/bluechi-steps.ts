// The executor's effects through BlueChi: a step is one call on its node — a unit job, an (en|dis)able, a reload.
import { setTimeout as delay } from 'node:timers/promises';
import { Observable, share } from 'rxjs';
import { SYSTEMD_UNIT_IFACE, type UnitInfo } from '../bluechi/api.ts';
import type { BlueChi } from '../bluechi/client.ts';
import { awaitJob } from '../bus/jobs.ts';
import { isQmError, QmError } from '../errors.ts';
import { failedOutcome, type StepEffects, type StepOutcome } from './execute.ts';
import type { NodeBoard } from './node-board.ts';
import { isRunning, isStopped, needsDisable, needsEnable } from './observed.ts';
import type { Step, UnitStep } from './plan.ts';
import { unitKey, type UnitKey, type UnitRef } from '../layout/model.ts';

export interface BlueChiStepOptions {
  /** How long a job may take before its step ends `timeout`. */
  readonly timeoutMs: number;
  /** How long to wait for an offline node to return; undefined: for as long as it takes, 0: not at all. */
  readonly offlineWaitMs?: number | undefined;
  /** Between looks at a unit whose job is still running after its node came back. */
  readonly settleMs?: number;
}

const OFFLINE: StepOutcome = { result: 'offline' };

export function blueChiSteps(client: BlueChi, board: NodeBoard, options: BlueChiStepOptions): StepEffects {
  const settleMs = options.settleMs ?? 100;
  // Decoded once per signal for all waiting steps, not once per step.
  const jobEnds = client.jobRemoved$.pipe(share());
  // One look at a unit serves every start about to run at the same moment (the units a layer needs, read once).
  const looking = new Map<UnitKey, Promise<string>>();
  const activeStateNow = (need: UnitRef): Promise<string> => {
    const key = unitKey(need.node, need.unit);
    let state = looking.get(key);
    if (!state) {
      state = client.node(need.node).getUnitProperty(need.unit, SYSTEMD_UNIT_IFACE, 'ActiveState').then(String);
      looking.set(key, state);
      const forget = () => looking.delete(key);
      state.then(forget, forget);
    }
    return state;
  };

  async function call(step: Step, signal: AbortSignal): Promise<StepOutcome> {
    const node = client.node(step.node);
    switch (step.action) {
      case 'start':
      case 'stop': {
        // A node that disconnects drops its jobs without JobRemoved: stop waiting when it goes, or on interrupt. Every
        // step waits on the one stream of ends (one subscription routes them by job path); the interrupt is its own.
        const end = await awaitJob(
          jobEnds,
          () => node.submit(step.action as 'start' | 'stop', step.unit),
          { node: step.node, unit: step.unit, operation: step.action, timeoutMs: options.timeoutMs },
          abortedBy(signal),
        );
        return { result: end.result, job: end.job };
      }
      case 'enable':
        await node.enableUnitFiles([step.unit]);
        return { result: 'done' };
      case 'disable':
        for (const scope of step.scopes ?? ['persistent']) await node.disableUnitFiles([step.unit], scope === 'runtime');
        return { result: 'done' };
      case 'daemon-reload':
        await node.reload();
        return { result: 'done' };
    }
  }

  async function offlineNow(step: Step): Promise<boolean> {
    try {
      const status = (await client.node(step.node).properties()).status;
      board.set(step.node, status === 'online');
      return status !== 'online';
    } catch {
      return !board.isOnline(step.node);
    }
  }

  return {
    async run(step, interrupted) {
      if (!board.isOnline(step.node)) return OFFLINE;
      const abort = new AbortController();
      const stopListening = board.onOffline(step.node, () => abort.abort('offline'));
      const onInterrupt = () => abort.abort('interrupted');
      interrupted.addEventListener('abort', onInterrupt);
      try {
        // A call in flight (an enable, a reload) is not waited for once the node leaves or the user interrupts.
        return await untilAborted(call(step, abort.signal), abort.signal);
      } catch (error) {
        if (abort.signal.reason === 'offline') return OFFLINE;
        if (abort.signal.reason === 'interrupted') return { result: 'canceled' };
        if (cutOff(error) || (await offlineNow(step))) return OFFLINE;
        return failedOutcome(error, step);
      } finally {
        stopListening();
        interrupted.removeEventListener('abort', onInterrupt);
      }
    },
    whenOnline: (node, signal) => board.whenOnline(node, signal, options.offlineWaitMs),
    async notRunning(step) {
      const needs = step.needs ?? [];
      const states = await Promise.all(
        needs.map((need) =>
          activeStateNow(need).catch((error: unknown) => {
            if (!cutOff(error)) throw error;
            // The step's own node leaving is for its run to find (and wait for); another node's hides the unit.
            return need.node === step.node ? 'active' : `unknown (node ${need.node} is offline)`;
          }),
        ),
      );
      const index = states.findIndex((state) => !isRunning(state));
      return index < 0 ? undefined : { need: needs[index]!, activeState: states[index]! };
    },
    async recheck(step, signal) {
      if (step.action === 'daemon-reload') return 'needed';
      // A job still queued or running from before the disconnect is let end, for as long as a job may take.
      const deadline = performance.now() + options.timeoutMs;
      for (;;) {
        let state: 'needed' | 'done' | 'pending';
        try {
          state = await lookAgain(step);
        } catch (error) {
          // Cut off again by the node leaving (it may be back already): wait and look again, never guess "needed".
          if (!cutOff(error) && !(await offlineNow(step))) return 'needed';
          await pause(settleMs, signal);
          return 'offline';
        }
        if (state !== 'pending' || signal.aborted) return state === 'done' ? 'done' : 'needed';
        if (performance.now() >= deadline) {
          const seconds = options.timeoutMs / 1000;
          throw new QmError('timeout', `${step.action} of ${step.unit} on node ${step.node}: its job from before the node went offline still runs after ${seconds} s`, {
            node: step.node,
            unit: step.unit,
          });
        }
        await pause(settleMs, signal);
      }
    },
  };

  /** Whether `step` is still needed, already done, or its unit's job still pending. */
  async function lookAgain(step: UnitStep): Promise<'needed' | 'done' | 'pending'> {
    const node = client.node(step.node);
    if (step.action === 'enable' || step.action === 'disable') {
      const state = await node.getUnitFileState(step.unit);
      return (step.action === 'enable' ? needsEnable(state) : needsDisable(state)) ? 'needed' : 'done';
    }
    const unit: UnitInfo | undefined = (await node.listUnits()).find((candidate) => candidate.name === step.unit);
    const active = unit?.activeState ?? 'inactive';
    const queued = (unit?.jobType ?? '') !== '';
    if ((step.action === 'start' ? isRunning(active) : isStopped(active)) && !queued) return 'done';
    return active === 'activating' || active === 'deactivating' || unit?.jobType === step.action ? 'pending' : 'needed';
  }
}

/**
 * A call the node's disconnect answered: refused as Offline, or left without a reply. Decided from the
 * error, not the node's status now, which may already be online again.
 */
function cutOff(error: unknown): boolean {
  return isQmError(error) && (error.code === 'node-offline' || error.origin.dbusName === 'org.freedesktop.DBus.Error.NoReply');
}

/** `work`, or a rejection as soon as `signal` aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error(String(signal.reason)));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const pause = (ms: number, signal: AbortSignal): Promise<void> => delay(ms, undefined, { signal }).catch(() => undefined);

/** Emits when `signal` aborts, which ends awaitJob's wait (and its timer) at once. */
function abortedBy(signal: AbortSignal): Observable<Error> {
  return new Observable<Error>((subscriber) => {
    const fail = () => subscriber.next(new Error(String(signal.reason)));
    if (signal.aborted) fail();
    signal.addEventListener('abort', fail);
    return () => signal.removeEventListener('abort', fail);
  });
}
