import { unitJobCommand } from './unit-job.ts';

export default unitJobCommand('start');
