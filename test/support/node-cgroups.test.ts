import test from 'ava';
import { childCgroupDirs, parseCgroupMounts } from './node-cgroups.ts';

// This machine's layout: v1 controllers (one unused, hugetlb, on cgroup2) and a memory cgroup that is not the root.
const mountinfo = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
90 88 0:29 /libpod_parent /mnt/elsewhere rw,relatime - cgroup cgroup rw,cpu`;

const procCgroup = `9:name=systemd:/
4:memory:/process_api/abc
1:cpu:/
5:net_cls,net_prio:/
0::/`;

test('parseCgroupMounts keeps root mounts of cgroup file systems with their controllers', (t) => {
  t.deepEqual(parseCgroupMounts(mountinfo), [
    { mountPoint: '/sys/fs/cgroup/cpu', version: 1, controllers: ['cpu'] },
    { mountPoint: '/sys/fs/cgroup/memory', version: 1, controllers: ['memory'] },
    { mountPoint: '/sys/fs/cgroup/systemd', version: 1, controllers: ['name=systemd'] },
    { mountPoint: '/sys/fs/cgroup/unified', version: 2, controllers: [] },
  ]);
});

test('childCgroupDirs puts the child below our own cgroup in each mounted hierarchy, skipping unmounted ones', (t) => {
  t.deepEqual(childCgroupDirs(procCgroup, parseCgroupMounts(mountinfo), 'qm-node-x'), [
    '/sys/fs/cgroup/systemd/qm-node-x',
    '/sys/fs/cgroup/memory/process_api/abc/qm-node-x',
    '/sys/fs/cgroup/cpu/qm-node-x',
    '/sys/fs/cgroup/unified/qm-node-x',
  ]);
});
