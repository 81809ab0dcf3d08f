// The layout loader under fast-check: generated and mutated files never make it throw, take unbounded time
// or memory, or report an error without its file and line. bench/fuzz.ts runs the same with 100,000 cases.
import test from 'ava';
import { fuzz } from '../support/fuzz.ts';
import { checkAgreement, checkLayoutCase, layoutCase, mutatedYaml } from './fuzz-cases.ts';

test('3,000 generated and mutated layouts: no exception, bounded CPU time and heap, every error with file and line', (t) => {
  fuzz(layoutCase, checkLayoutCase, 3000);
  t.pass();
});

test('2,000 mutated YAML documents: where the yaml library and ours both read one, they read the same', (t) => {
  fuzz(mutatedYaml, checkAgreement, 2000);
  t.pass();
});
