// A BlueChi monitor (/org/eclipse/bluechi/monitor/<id>) and its subscriptions, after upstream's
// src/controller/monitor.c. Its signals are unicast to the creator and to each added peer.
import dbus from 'dbus-next';
import type { MessageBus } from 'dbus-next';
import { Errors, MONITOR_PATH_PREFIX, monitorInterface } from './api.ts';
import type { Properties } from './systemd.ts';
import { type ServedObject, serveObject } from './serve.ts';

const { DBusError } = dbus;

/** One Subscribe or SubscribeList: a node (or `*`) and the units (or `*`) it watches. */
export interface Subscription {
  readonly id: number;
  readonly node: string;
  readonly units: readonly string[];
  readonly monitor: Monitor;
}

/** What a monitor needs of its controller: the node side of subscriptions, and the process-wide id counters. */
export interface SubscriptionRegistry {
  add(subscription: Subscription): void;
  remove(subscription: Subscription): void;
  nextSubscriptionId(): number;
  nextPeerId(): number;
  closed(monitor: Monitor): void;
}

interface Peer {
  readonly id: number;
  readonly name: string;
}

/** bus_id_is_valid: a unique connection name such as `:1.42`. */
const isUniqueBusName = (name: string): boolean => /^:[A-Za-z0-9]+(\.[A-Za-z0-9]+)+$/.test(name) && name.length <= 255;

export class Monitor {
  readonly path: string;
  private subscriptions: Subscription[] = [];
  private peers: Peer[] = [];
  private served: ServedObject | undefined;

  constructor(
    readonly id: number,
    readonly owner: string,
    private readonly registry: SubscriptionRegistry,
  ) {
    this.path = `${MONITOR_PATH_PREFIX}/${id}`;
  }

  export(bus: MessageBus): void {
    this.served = serveObject(bus, this.path, monitorInterface, {
      methods: {
        Close: () => this.closeByClient(),
        Subscribe: (node: string, unit: string) => this.subscribe(node, [unit]),
        SubscribeList: (node: string, units: string[]) => this.subscribe(node, units),
        Unsubscribe: (id: number) => this.unsubscribe(id),
        AddPeer: (name: string) => this.addPeer(name),
        RemovePeer: (id: number, reason: string) => this.removePeer(id, reason),
      },
      properties: {},
    });
  }

  /** monitor_close: drops every subscription, tells each peer, and leaves the bus. */
  close(): void {
    for (const subscription of this.subscriptions) this.registry.remove(subscription);
    this.subscriptions = [];
    for (const peer of this.peers) this.served?.emit('PeerRemoved', ['monitor closed'], peer.name);
    this.peers = [];
    this.served?.unexport();
    this.served = undefined;
  }

  onUnitNew(node: string, unit: string, reason: string): void {
    this.broadcast('UnitNew', [node, unit, reason]);
  }

  onUnitRemoved(node: string, unit: string, reason: string): void {
    this.broadcast('UnitRemoved', [node, unit, reason]);
  }

  onUnitStateChanged(node: string, unit: string, activeState: string, subState: string, reason: string): void {
    this.broadcast('UnitStateChanged', [node, unit, activeState, subState, reason]);
  }

  onUnitPropertiesChanged(node: string, unit: string, iface: string, props: Properties): void {
    this.broadcast('UnitPropertiesChanged', [node, unit, iface, props]);
  }

  private broadcast(signal: string, body: unknown[]): void {
    this.served?.emit(signal, body, this.owner);
    for (const peer of this.peers) this.served?.emit(signal, body, peer.name);
  }

  private closeByClient(): void {
    if (!this.served) throw new DBusError(Errors.failed, 'Monitor already closed');
    this.close();
    this.registry.closed(this);
  }

  private subscribe(node: string, units: readonly string[]): number {
    const subscription: Subscription = { id: this.registry.nextSubscriptionId(), node, units: [...units], monitor: this };
    this.subscriptions.push(subscription);
    this.registry.add(subscription);
    return subscription.id;
  }

  private unsubscribe(id: number): void {
    const subscription = this.subscriptions.find((candidate) => candidate.id === id);
    if (!subscription) throw new DBusError(Errors.failed, `Subscription '${id}' not found`);
    this.registry.remove(subscription);
    this.subscriptions = this.subscriptions.filter((candidate) => candidate !== subscription);
  }

  private addPeer(name: string): number {
    if (!isUniqueBusName(name)) throw new DBusError(Errors.invalidArgs, `Peer name '${name}' is not a valid bus name`);
    if (name === this.owner || this.peers.some((peer) => peer.name === name)) {
      throw new DBusError(Errors.invalidArgs, `Peer name '${name}' has already been added`);
    }
    const peer = { id: this.registry.nextPeerId(), name };
    this.peers.push(peer);
    return peer.id;
  }

  private removePeer(id: number, reason: string): void {
    const peer = this.peers.find((candidate) => candidate.id === id);
    if (!peer) throw new DBusError(Errors.failed, `Peer with ID '${id}' not found.`);
    this.served?.emit('PeerRemoved', [reason], peer.name);
    this.peers = this.peers.filter((candidate) => candidate !== peer);
  }
}
