// Where QM's installed files live, and the names of its unit and container.
export const installDir = '/usr/share/qm';
export const quadletFile = '/usr/share/containers/systemd/qm.container';
export const vendorDropInDir = '/usr/share/containers/systemd/qm.container.d';
export const adminDropInDir = '/etc/containers/systemd/qm.container.d';
export const qmUnit = 'qm.service';
export const qmContainer = 'qm';
/** Where setup installs the host units of qm-bluechi-gate, QM's only way to the host's bluechi-controller. */
export const systemUnitDir = '/usr/lib/systemd/system';
export const gateUnits = ['qm-bluechi-gate.socket', 'qm-bluechi-gate.service'] as const;
/** Where packages install the gate; setup points the service at the running qmctl's copy when it is not there. */
export const gateExecutable = '/usr/libexec/qm-bluechi-gate';
