// What a test does or reads on a node's own systemd, bypassing BlueChi, the same way for both kinds of node: as an
// administrator on the node would (systemctl kill/stop/start, systemctl list-units, is-enabled).
import { filter, firstValueFrom, timeout } from 'rxjs';
import { type Systemd, UNIT_INTERFACE, unitPath } from './systemd.ts';

/** kill: SIGKILL to the main process, so the unit fails (Result=signal); stop and start: a job, until it ends "done". */
export type NodeAction = 'kill' | 'stop' | 'start';

export interface UnitState {
  readonly activeState: string;
  readonly subState: string;
  readonly unitFileState: string;
}

const WAIT_MS = 20_000;

export async function actOnNode(systemd: Systemd, unit: string, action: NodeAction): Promise<void> {
  if (action === 'kill') {
    const failed = firstValueFrom(
      systemd.events.pipe(
        filter((event) => event.kind === 'UnitChanged' && event.path === unitPath(unit) && event.interface === UNIT_INTERFACE),
        filter((event) => event.kind === 'UnitChanged' && event.changed.ActiveState?.value === 'failed'),
        timeout(WAIT_MS),
      ),
    );
    failed.catch(() => undefined); // awaited below, unless the kill itself is refused
    await systemd.killUnit(unit, 'main', 9);
    await failed;
    return;
  }
  // Subscribed before the job is queued: a fast job may end before the reply is read.
  const removed = new Map<string, string>();
  let onRemoved = () => {};
  const subscription = systemd.events.subscribe((event) => {
    if (event.kind !== 'JobRemoved') return;
    removed.set(event.job, event.result);
    onRemoved();
  });
  try {
    const job = await systemd.queueJob(action === 'start' ? 'StartUnit' : 'StopUnit', unit, 'replace');
    const result =
      removed.get(job) ??
      (await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${action} ${unit}: no JobRemoved within ${WAIT_MS} ms`)), WAIT_MS);
        onRemoved = () => {
          const ended = removed.get(job);
          if (ended === undefined) return;
          clearTimeout(timer);
          resolve(ended);
        };
      }));
    if (result !== 'done') throw new Error(`${action} ${unit} on the node ended "${result}"`);
  } finally {
    subscription.unsubscribe();
  }
}

/** ListUnits and GetUnitFileState, which load nothing: a unit systemd has not loaded is inactive (dead). */
export async function readUnitState(systemd: Systemd, unit: string): Promise<UnitState> {
  const listed = (await systemd.listUnits()).find(([name]) => name === unit);
  const unitFileState = await systemd.getUnitFileState(unit).catch(() => '');
  return { activeState: listed?.[3] ?? 'inactive', subState: listed?.[4] ?? 'dead', unitFileState };
}
