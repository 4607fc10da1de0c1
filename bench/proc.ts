/** What Linux says about a process: CPU time, resident memory, sockets. The bench is Linux-only. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU time of the whole process (every thread: libuv's pool, GC helpers), in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / clockTicks();
}

function statusField(pid: number, name: string): number | undefined {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) * 1024 : undefined;
}

/** Current resident set size, bytes. */
export function rssBytes(pid: number): number | undefined {
  return statusField(pid, 'VmRSS');
}

/** Peak resident set size since start or since resetPeakRss, bytes. */
export function peakRssBytes(pid: number): number | undefined {
  return statusField(pid, 'VmHWM');
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0), so each run gets its own peak. False if not allowed. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Local ports of the TCP connections process `pid` has open to `remotePort` right now (IPv4 and
 * IPv6), matched by socket inode. Sampled during a run, it tells whether the process reuses its
 * connections to Hydra (keep-alive): a handful of ports for a whole run, not one per request.
 */
export function connectionsFrom(pid: number, remotePort: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      // closed between readdir and readlink
    }
  }
  const ports: number[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const parts = line.trim().split(/\s+/);
      const [, local, remote, state] = parts;
      const inode = parts[9];
      // 01 = ESTABLISHED
      if (state !== '01' || !local || !remote || !inode || !inodes.has(inode)) continue;
      if (Number.parseInt(remote.split(':')[1] ?? '', 16) !== remotePort) continue;
      ports.push(Number.parseInt(local.split(':')[1] ?? '', 16));
    }
  }
  return ports;
}

/** Samples a process while a run lasts: the highest RSS seen, and its connections to `hydraPort`. */
export function startSampler(pid: number, hydraPort: number | undefined, everyMs = 250) {
  let maxRss = rssBytes(pid) ?? 0;
  const ports = new Set<number>();
  let maxOpen = 0;
  const sample = () => {
    try {
      maxRss = Math.max(maxRss, rssBytes(pid) ?? 0);
      if (hydraPort !== undefined) {
        const open = connectionsFrom(pid, hydraPort);
        maxOpen = Math.max(maxOpen, open.length);
        for (const port of open) ports.add(port);
      }
    } catch {
      // The process went away; the run will report that.
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { maxRss, distinctPorts: ports.size, maxOpen };
    },
  };
}
