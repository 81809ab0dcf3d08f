// `qmctl version` cold start ÷ `node -e 0`, interleaved so both see the same machine load.
import { QMCTL_BIN } from '../test/support/qmctl.ts';
import { median, report, timeProcess } from './measure.ts';

export function coldStart(rounds = 30): void {
  const qmctl: number[] = [];
  const bare: number[] = [];
  for (let round = 0; round < rounds; round++) {
    bare.push(timeProcess(process.execPath, ['-e', '0']));
    qmctl.push(timeProcess(process.execPath, [QMCTL_BIN, 'version']));
  }
  report('qmctl version cold start ÷ node -e 0', median(qmctl), median(bare), '≤ 1.5');
}
