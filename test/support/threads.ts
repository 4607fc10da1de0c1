import { readdir, readFile } from 'node:fs/promises';

/** The nice value of each thread of this process (Linux: field 19 of /proc/self/task/<tid>/stat). */
export async function threadNiceValues(): Promise<number[]> {
  const tasks = await readdir('/proc/self/task');
  // A thread may end between the listing and the read.
  const stats = await Promise.all(tasks.map((tid) => readFile(`/proc/self/task/${tid}/stat`, 'utf8').catch(() => undefined)));
  // The fields after the parenthesised name start at field 3 (state): nice is the 17th of them.
  return stats.flatMap((stat) => (stat === undefined ? [] : [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])]));
}
