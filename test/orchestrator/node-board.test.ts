// The node board against a status stream that fails: waits give up instead of pending for ever.
import test from 'ava';
import { Subject } from 'rxjs';
import type { BlueChi } from '../../controller/bluechi/client.ts';
import { watchNodeStatus } from '../../controller/orchestrator/node-board.ts';
import type { NodeName } from '../../controller/unit-names.ts';

function boardOver(statuses: Subject<{ node: string; status: string }>) {
  return watchNodeStatus({ nodeStatus$: () => statuses } as unknown as BlueChi);
}

test('a wait for a node ends true when it comes online', async (t) => {
  const statuses = new Subject<{ node: string; status: string }>();
  const board = boardOver(statuses);
  const back = board.whenOnline('a' as NodeName, new AbortController().signal);
  statuses.next({ node: 'a', status: 'online' });
  t.true(await back);
  board.close();
});

test('when the status stream fails, pending and later waits give up (false) instead of pending for ever', async (t) => {
  const statuses = new Subject<{ node: string; status: string }>();
  const board = boardOver(statuses);
  const pending = board.whenOnline('a' as NodeName, new AbortController().signal);
  statuses.error(new Error('the controller spoke another API'));
  t.false(await pending);
  t.false(await board.whenOnline('b' as NodeName, new AbortController().signal));
  board.close();
});
