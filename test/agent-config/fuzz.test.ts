// The agent-config parser and merge under fast-check: generated and mutated files never make it throw
// anything but a config error, take unbounded time or memory, or report an error without its file and
// line. bench/fuzz.ts runs the same with 100,000 cases.
import test from 'ava';
import { fuzz } from '../support/fuzz.ts';
import { agentCase, checkAgentCase } from './fuzz-cases.ts';

test('3,000 generated and mutated agent configurations: no exception, bounded CPU time and heap, every error with file and line', (t) => {
  fuzz(agentCase, checkAgentCase, 3000);
  t.pass();
});
