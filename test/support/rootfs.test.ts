import test from 'ava';
import { rootfsKey, vehicleNodePackages } from './rootfs.ts';

test('rootfsKey ignores package order and duplicates but not the suite or the package set', (t) => {
  const key = rootfsKey({ packages: ['podman', 'dbus'] });
  t.is(rootfsKey({ packages: ['dbus', 'podman', 'dbus'] }), key);
  t.not(rootfsKey({ suite: 'bookworm', packages: ['podman', 'dbus'] }), key);
  t.not(rootfsKey({ packages: ['podman', 'dbus', 'jq'] }), key);
  t.regex(key, /^trixie-[0-9a-f]{16}$/);
  t.is(rootfsKey(), rootfsKey({ suite: 'trixie', packages: vehicleNodePackages }));
});
