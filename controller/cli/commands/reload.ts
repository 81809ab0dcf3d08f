// qmctl reload NODE UNIT...: bluechictl's reload of units (the daemon's layout reload is controller-reload).
import { unitJobCommand } from './unit-job.ts';

export default unitJobCommand('reload');
