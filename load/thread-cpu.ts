// CPU seconds of this process's main thread and of all its other threads, from Linux /proc
// (node 20 has no per-thread CPU clock of its own). Null where /proc is not there.
import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadCpu {
  main: number;
  others: number;
}

const USER_HZ = 100;

export function threadCpu(): ThreadCpu | null {
  try {
    let main = 0;
    let others = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state is [0], utime [11], stime [12].
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const s = (Number(f[11]) + Number(f[12])) / USER_HZ;
      if (Number(tid) === process.pid) main += s;
      else others += s;
    }
    return { main, others };
  } catch {
    return null;
  }
}

/** µs of CPU per event between two samples, main thread and the rest; null without /proc. */
export function cpuPerEvent(a: ThreadCpu | null, b: ThreadCpu | null, events: number): { main: number; workers: number } | null {
  if (!a || !b || events <= 0) return null;
  return {
    main: Number((((b.main - a.main) * 1e6) / events).toFixed(2)),
    workers: Number((((b.others - a.others) * 1e6) / events).toFixed(2)),
  };
}
