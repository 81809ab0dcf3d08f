// Where QM's installed files live, and the names of its unit and container.
export const installDir = '/usr/share/qm';
export const quadletFile = '/usr/share/containers/systemd/qm.container';
export const vendorDropInDir = '/usr/share/containers/systemd/qm.container.d';
export const adminDropInDir = '/etc/containers/systemd/qm.container.d';
export const qmUnit = 'qm.service';
export const qmContainer = 'qm';
