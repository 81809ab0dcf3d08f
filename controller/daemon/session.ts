// One bus connection of qm-controller: it follows the owner of org.eclipse.bluechi and, while BlueChi is up, its nodes
// and units, handing all of it to the reconcile loop; and it serves org.qm.Controller1 on the same connection.
import { Subscription, type Observable } from 'rxjs';
import { blueChi, type BlueChi, type BlueChiOptions, type MonitorEvent, type NodeStatusChange } from '../bluechi/client.ts';
import { connectBus, type Bus, type LiveStream } from '../bus/connection.ts';
import { followForGood } from './follow.ts';
import type { LoopLog, ReconcileLoop } from './loop.ts';
import { serveController, type ControllerBackend, type ServedController } from './service.ts';
import { errorJson } from './summary.ts';

export interface SessionOptions {
  readonly busAddress: string;
  readonly loop: ReconcileLoop;
  readonly log: LoopLog;
  readonly jobTimeoutMs?: number;
  /** Serve org.qm.Controller1 with this backend; none: only observe and apply. */
  readonly backend?: ControllerBackend;
  /** Makes the BlueChi client of the connection (tests wrap it to inject faults). */
  readonly blueChi?: (bus: Bus, options: BlueChiOptions) => BlueChi;
}

export interface Session {
  /** Resolves with why the session ended (the connection lost, BlueChi's owner no longer followed). */
  readonly ended: Promise<string>;
  close(): void;
}

/** Opens the session; rejects when the bus cannot be reached (`unreachable`) or the name cannot be owned. */
export async function openSession(options: SessionOptions): Promise<Session> {
  const { loop, log } = options;
  const bus = await connectBus(options.busAddress);
  const subscriptions = new Subscription();
  let blueChiWatch: Subscription | undefined;
  let served: ServedController | undefined;
  const close = () => {
    blueChiWatch?.unsubscribe();
    subscriptions.unsubscribe();
    loop.disconnected();
    served?.close();
    bus.close();
  };
  try {
    const blue = (options.blueChi ?? blueChi)(bus, { jobTimeoutMs: options.jobTimeoutMs });
    // Node status and unit state are followed for good: a failure is logged, and what it hid is caught up by an apply.
    const followed = <T>(what: string, open: () => Observable<T>, next: (value: T) => void): Subscription =>
      followForGood(open, {
        next,
        failed: (error, retryMs) => log.error(`following ${what} failed: ${errorJson(error).message}; following again in ${retryMs} ms`),
        resumed: () => void loop.request(`following ${what} again`),
        retryMs: 1_000,
      });
    const up = () => {
      blueChiWatch?.unsubscribe();
      log.info('BlueChi controller is on the bus: observing and applying');
      blueChiWatch = new Subscription();
      let statuses: LiveStream<NodeStatusChange> | undefined;
      let units: LiveStream<MonitorEvent> | undefined;
      blueChiWatch.add(followed('node status', () => (statuses = blue.nodeStatus$()), (change) => loop.nodeStatus(change)));
      blueChiWatch.add(followed('unit states', () => (units = blue.watchUnits('*')), (event) => loop.unitEvent(event)));
      // A stream that fails to start is followed again, and its return brings a full apply: wait only for the first.
      loop.connected(blue, Promise.allSettled([statuses!.ready(), units!.ready()]).then(() => undefined));
    };
    const down = () => {
      blueChiWatch?.unsubscribe();
      blueChiWatch = undefined;
      loop.disconnected();
      log.warn('BlueChi controller left the bus: waiting for it to return');
    };
    let endSession: (reason: string) => void = () => undefined;
    const ended = new Promise<string>((resolve) => {
      endSession = resolve;
      subscriptions.add(bus.closed.subscribe((error) => resolve(error.message)));
    });
    // Subscribed before asking who owns the name, so a change in between is not missed. Without it the
    // daemon cannot tell BlueChi's comings and goings: a new session asks afresh.
    subscriptions.add(
      blue.controllerOwner$.subscribe({
        next: (owner) => (owner === '' ? down() : up()),
        error: (error: unknown) => {
          log.error(`following the owner of org.eclipse.bluechi failed: ${errorJson(error).message}`);
          endSession('lost track of the BlueChi controller');
        },
      }),
    );
    const [hasOwner] = await bus.call({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'NameHasOwner',
      signature: 's',
      body: ['org.eclipse.bluechi'],
    });
    if (options.backend) served = await serveController(bus, options.backend);
    if (hasOwner === true && !loop.blueChiUp) up();
    else if (hasOwner !== true) log.warn('BlueChi controller is not on the bus: waiting for it');
    return { ended, close };
  } catch (error) {
    close();
    throw error;
  }
}
