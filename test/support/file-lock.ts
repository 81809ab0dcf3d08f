// An exclusive lock across test processes, held by a flock(1) child that lets go when we close its stdin or die.
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

/** Runs `work` while holding an exclusive flock on `path` (created if missing). */
export async function withFileLock<T>(path: string, work: () => Promise<T>): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  // `read` returns on EOF, so the lock also goes when this process dies without cleaning up.
  const holder = spawn('flock', ['--exclusive', path, 'sh', '-c', 'echo locked; read -r _ || true'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => holder.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: holder.stdout });
    holder.once('error', (error) => reject(new Error(`flock ${path}: ${error.message}`)));
    holder.once('exit', (code) => reject(new Error(`flock ${path} exited with ${code} before locking`)));
    lines.once('line', () => {
      lines.close();
      resolve();
    });
  });
  try {
    return await work();
  } finally {
    holder.stdin.end();
    await exited;
  }
}
