// Following a stream: monitor's lines of one event-loop turn go out in one write, in order, and none is lost on interrupt.
import test from 'ava';
import { Writable } from 'node:stream';
import { Subject } from 'rxjs';
import { perTurn } from '../../controller/cli/follow.ts';

function recorder() {
  const writes: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push(chunk.toString());
      done();
    },
  });
  return { stream, writes };
}

test('lines written in one event-loop turn go out in one write, in order; the next turn makes the next write', async (t) => {
  const { stream, writes } = recorder();
  const output = perTurn(stream);
  const events = new Subject<number>();
  events.subscribe((n) => output.write(`line ${n}\n`));
  for (let n = 0; n < 1_000; n++) events.next(n);
  t.deepEqual(writes, [], 'nothing written within the turn');
  await new Promise((resolve) => setImmediate(resolve));
  t.is(writes.length, 1);
  t.is(writes[0], Array.from({ length: 1_000 }, (_, n) => `line ${n}\n`).join(''));
  output.write('line 1000\n');
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(writes.slice(1), ['line 1000\n']);
});

test('flush writes what is gathered at once (an interrupt ends following mid-turn), and nothing twice', async (t) => {
  const { stream, writes } = recorder();
  const output = perTurn(stream);
  output.write('a\n');
  output.write('b\n');
  output.flush();
  t.deepEqual(writes, ['a\nb\n']);
  await new Promise((resolve) => setImmediate(resolve));
  output.flush();
  t.deepEqual(writes, ['a\nb\n']);
});
