// Serves one interface spec (api.ts) on an object path with dbus-next's service API, and emits its signals.
import dbus from 'dbus-next';
import type { MessageBus } from 'dbus-next';
import { type InterfaceSpec, inSignature, outSignature, signalSignature } from './api.ts';
import { busOpen } from './bus.ts';

const { Message, Variant } = dbus;

export type Handler = (...args: never[]) => unknown;

/** What an object does: one function per method (may return a Promise, may throw DBusError), one getter per property. */
export interface ObjectImpl {
  readonly methods: Readonly<Record<string, Handler>>;
  readonly properties: Readonly<Record<string, () => unknown>>;
}

export interface ServedObject {
  readonly path: string;
  readonly spec: InterfaceSpec;
  /** Emits a signal of this interface; with `destination` it is unicast, as sd_bus_send_to does. */
  emit(signal: string, body: unknown[], destination?: string): void;
  /** Emits org.freedesktop.DBus.Properties.PropertiesChanged with the current values of `names`. */
  propertiesChanged(names: readonly string[]): void;
  unexport(): void;
}

export function serveObject(bus: MessageBus, path: string, spec: InterfaceSpec, impl: ObjectImpl): ServedObject {
  class Served extends dbus.interface.Interface {}
  const prototype = Served.prototype as unknown as Record<string, unknown>;
  const methods: Record<string, { inSignature: string; outSignature: string }> = {};
  for (const method of spec.methods) {
    const handler = impl.methods[method.name] as ((...args: unknown[]) => unknown) | undefined;
    if (!handler) throw new Error(`${spec.name}.${method.name} has no implementation`);
    prototype[method.name] = (...args: unknown[]) => handler(...args);
    methods[method.name] = { inSignature: inSignature(method), outSignature: outSignature(method) };
  }
  const properties: Record<string, { signature: string; access: 'read' }> = {};
  for (const property of spec.properties) {
    const getter = impl.properties[property.name];
    if (!getter) throw new Error(`${spec.name}.${property.name} has no getter`);
    Object.defineProperty(prototype, property.name, { get: getter });
    properties[property.name] = { signature: property.type, access: 'read' };
  }
  Served.configureMembers({ methods, properties });
  // dbus-next's own introspection drops argument names and annotations; the real controller's has both.
  prototype.$introspect = () => introspection(spec);

  const iface = new Served(spec.name);
  bus.export(path, iface);
  let exported = true;
  // sd-bus leaves explicit properties out of GetAll (they answer Get only); dbus-next would list them all.
  const explicit = spec.properties.filter((property) => property.explicit);
  const getAll = (message: InstanceType<typeof Message>): boolean => {
    if (message.path !== path || message.interface !== 'org.freedesktop.DBus.Properties' || message.member !== 'GetAll' || message.body[0] !== spec.name) return false;
    const values = Object.fromEntries(
      spec.properties.filter((property) => !property.explicit).map((property) => [property.name, new Variant(property.type, impl.properties[property.name]!())]),
    );
    bus.send(Message.newMethodReturn(message, 'a{sv}', [values]));
    return true;
  };
  if (explicit.length > 0) bus.addMethodHandler(getAll);

  return {
    path,
    spec,
    emit(name, body, destination) {
      const signal = spec.signals.find((candidate) => candidate.name === name);
      if (!signal) throw new Error(`${spec.name} has no signal ${name}`);
      // A connection the bus daemon has gone from sends nothing (writing would throw).
      if (!exported || !busOpen(bus)) return;
      const message = Message.newSignal(path, spec.name, name, signalSignature(signal), body);
      if (destination !== undefined) message.destination = destination;
      bus.send(message);
    },
    propertiesChanged(names) {
      if (!exported || !busOpen(bus)) return;
      const changed: Record<string, InstanceType<typeof Variant>> = {};
      for (const name of names) {
        const property = spec.properties.find((candidate) => candidate.name === name);
        if (!property) throw new Error(`${spec.name} has no property ${name}`);
        changed[name] = new Variant(property.type, impl.properties[name]!());
      }
      bus.send(
        Message.newSignal(path, 'org.freedesktop.DBus.Properties', 'PropertiesChanged', 'sa{sv}as', [
          spec.name,
          changed,
          [],
        ]),
      );
    },
    unexport() {
      if (!exported) return;
      exported = false;
      bus.unexport(path, iface);
      if (explicit.length > 0) bus.removeMethodHandler(getAll);
    },
  };
}

/** The xml2js shape dbus-next builds introspection XML from. */
function introspection(spec: InterfaceSpec): unknown {
  const arg = (name: string, type: string, direction?: 'in' | 'out') => ({
    $: direction ? { name, type, direction } : { name, type },
  });
  const unnamed = (type: string, direction: 'in' | 'out') => ({ $: { type, direction } });
  const annotation = (name: string, value: string) => ({ $: { name, value } });
  return {
    $: { name: spec.name },
    // sd-bus vtables of BlueChi 1.2 name no method arguments and mark every method privileged.
    method: spec.methods.map((method) => ({
      $: { name: method.name },
      arg: [...method.in.map((a) => unnamed(a.type, 'in')), ...method.out.map((a) => unnamed(a.type, 'out'))],
      annotation: [annotation('org.freedesktop.systemd1.Privileged', 'true')],
    })),
    signal: spec.signals.map((signal) => ({
      $: { name: signal.name },
      arg: signal.args.slice(0, signal.declared ?? signal.args.length).map((a) => arg(a.name, a.type)),
    })),
    property: spec.properties.map((property) => ({
      $: { name: property.name, type: property.type, access: 'read' },
      annotation: [
        ...(property.explicit ? [annotation('org.freedesktop.systemd1.Explicit', 'true')] : []),
        ...(property.emitsChanged === 'true' ? [] : [annotation('org.freedesktop.DBus.Property.EmitsChangedSignal', property.emitsChanged)]),
      ],
    })),
  };
}
