// What qmctl setup runs to label QM's files where SELinux is enabled (controller/partition/selinux.ts). SELinux is
// not enabled on these machines, so the commands are checked as a plan here; the policy's file contexts themselves
// are checked against the real policy store in test/selinux/, and setup's "skipped" line on a real node in
// test/packaging/boot-e2e.test.ts.
import test from 'ava';
import { labelPlan, moduleLoaded, unlabelCommands } from '../../controller/partition/selinux.ts';
import { defaultPaths } from '../../controller/partition/setup-options.ts';

test("at the policy's own paths, restorecon relabels the three trees and no rule is added", (t) => {
  const plan = labelPlan(defaultPaths);
  t.deepEqual(plan.equivalences, []);
  t.deepEqual(plan.commands, [['restorecon', '-R', '-F', '/usr/lib/qm/rootfs', '/etc/qm', '/var/qm']]);
});

test('a tree put elsewhere is labelled like its default path through an equivalence rule, taken away by --remove', (t) => {
  const plan = labelPlan({ ...defaultPaths, rootfs: '/srv/qm/rootfs', rwvarfs: '/data/qm-var' });
  t.deepEqual(plan.equivalences, [
    { path: '/srv/qm/rootfs', like: '/usr/lib/qm/rootfs' },
    { path: '/data/qm-var', like: '/var/qm' },
  ]);
  t.deepEqual(plan.commands, [
    ['semanage', 'fcontext', '--add', '--equal', '/usr/lib/qm/rootfs', '/srv/qm/rootfs'],
    ['semanage', 'fcontext', '--add', '--equal', '/var/qm', '/data/qm-var'],
    ['restorecon', '-R', '-F', '/srv/qm/rootfs', '/etc/qm', '/data/qm-var'],
  ]);
  t.deepEqual(unlabelCommands(plan.equivalences), [
    ['semanage', 'fcontext', '--delete', '--equal', '/usr/lib/qm/rootfs', '/srv/qm/rootfs'],
    ['semanage', 'fcontext', '--delete', '--equal', '/var/qm', '/data/qm-var'],
  ]);
});

test("semodule -l lists the qm module, with or without a version; a module named like it is not it", (t) => {
  t.true(moduleLoaded('abrt\nqm\nxserver\n'));
  t.true(moduleLoaded('abrt 1.4.1\nqm 0.1.0\n'));
  t.false(moduleLoaded('qmail\nqm_extra 1.0\n'));
  t.false(moduleLoaded(''));
});
