// A BlueChi job object (/org/eclipse/bluechi/job/<id>), after upstream's src/controller/job.c.
import type { MessageBus } from 'dbus-next';
import { JOB_PATH_PREFIX, jobInterface } from './api.ts';
import { type ServedObject, serveObject } from './serve.ts';

export type JobType = 'start' | 'stop' | 'restart' | 'reload';

export class Job {
  readonly path: string;
  state: 'waiting' | 'running' = 'waiting';
  readonly createdMicros = process.hrtime.bigint() / 1000n;
  private served: ServedObject | undefined;

  constructor(
    readonly id: number,
    readonly node: string,
    readonly unit: string,
    readonly type: JobType,
    private readonly cancel: (job: Job) => Promise<void>,
  ) {
    this.path = `${JOB_PATH_PREFIX}/${id}`;
  }

  export(bus: MessageBus): void {
    this.served = serveObject(bus, this.path, jobInterface, {
      methods: { Cancel: () => this.cancel(this) },
      properties: {
        Id: () => this.id,
        Node: () => this.node,
        Unit: () => this.unit,
        JobType: () => this.type,
        State: () => this.state,
      },
    });
  }

  setState(state: string): void {
    if (state !== 'waiting' && state !== 'running') return;
    this.state = state;
    this.served?.propertiesChanged(['State']);
  }

  unexport(): void {
    this.served?.unexport();
    this.served = undefined;
  }
}
