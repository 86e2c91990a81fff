/** The benchmark's table, its raw figures and the targets, as Markdown. */
import type { Sample } from './measure.js';
import { median } from './measure.js';

/** Every sample of a row, one per round, in round order. */
export type Samples = Map<string, Sample[]>;

export interface Summary {
  row: string;
  bytes: number;
  seconds: number;
  rssMiB: number;
  cpuSeconds: number;
  serverCpuSeconds: number;
}

export const CFIMG = 'cfimg get -o FILE';
export const PEERS = ['swift download', 'rclone copyto'];
export const LIMIT = '4 curls of the segments (limit)';
const FLOORS = [
  '4 curls | md5sum per segment (floor)',
  '4 curls -o FILE, md5sum of each (floor)',
  '4 curls | tee FILE | md5sum, files kept (floor)',
];

export function summarize(samples: Samples, bytesOf: (row: string) => number): Summary[] {
  return [...samples].map(([row, list]) => ({
    row,
    bytes: bytesOf(row),
    seconds: median(list.map((s) => s.seconds)),
    rssMiB: Math.max(...list.map((s) => s.rssMiB)),
    cpuSeconds: median(list.map((s) => s.cpuSeconds)),
    serverCpuSeconds: median(list.map((s) => s.serverCpuSeconds)),
  }));
}

const f = (n: number, digits = 2) => n.toFixed(digits);

/** The table: medians, rate, peak RSS (highest round), CPU, and cfimg's time over the row's. */
export function table(rows: Summary[]): string {
  const cfimg = rows.find((r) => r.row === CFIMG);
  const lines = [
    '| row | median s | MiB/s | peak RSS MiB | CPU s | server CPU s | cfimg ÷ row |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const sameSize = cfimg && cfimg.bytes === r.bytes;
    const ratio = sameSize ? f(cfimg.seconds / r.seconds) : '';
    const rate = r.bytes / 2 ** 20 / r.seconds;
    lines.push(
      `| ${r.row} | ${f(r.seconds)} | ${f(rate, 0)} | ${f(r.rssMiB, 0)} | ${f(r.cpuSeconds)} | ${f(r.serverCpuSeconds)} | ${ratio} |`,
    );
  }
  return lines.join('\n');
}

/** Every sample, by round, so a reader can see the noise behind the medians. */
export function raw(samples: Samples): string {
  const lines = [
    '| row | round | s | RSS MiB | CPU s | server CPU s |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [row, list] of samples) {
    list.forEach((s, i) => {
      const cells = [f(s.seconds), f(s.rssMiB, 0), f(s.cpuSeconds), f(s.serverCpuSeconds)];
      lines.push(`| ${row} | ${i + 1} | ${cells.join(' | ')} |`);
    });
  }
  return lines.join('\n');
}

/** The issue's targets, each with the figure that decides it. */
export function targets(rows: Summary[], big: { file?: string; pipe?: string }): string {
  const get = (name: string) => rows.find((r) => r.row === name);
  const cfimg = get(CFIMG);
  if (!cfimg) return '';
  const out: string[] = [];
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const peers = PEERS.map(get).filter((r): r is Summary => !!r);
  if (peers.length > 0) {
    const fastest = peers.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
    const x = fastest.seconds / cfimg.seconds;
    out.push(
      `- ${fastest.row} (fastest peer) ÷ cfimg = ${f(x)}x, target ≥ 1.5x: ${verdict(x >= 1.5)}`,
    );
  }
  const limit = get(LIMIT);
  if (limit) {
    const x = cfimg.seconds / limit.seconds;
    out.push(`- cfimg ÷ 4 curls = ${f(x)}x, target ≤ 1.35x: ${verdict(x <= 1.35)}`);
  }
  const rss = [
    cfimg,
    get('cfimg get -o - | wc -c'),
    ...[big.file, big.pipe].map((n) => (n ? get(n) : undefined)),
  ].filter((r): r is Summary => !!r);
  const worst = Math.max(...rss.map((r) => r.rssMiB));
  const bigFile = big.file ? get(big.file) : undefined;
  const flat = !bigFile || bigFile.rssMiB <= cfimg.rssMiB + 8;
  out.push(
    `- peak RSS: ${rss.map((r) => `${r.row} ${f(r.rssMiB, 0)} MiB`).join(', ')}; target ≤ 128 MiB and the same for 4 GiB (within 8 MiB): ${verdict(worst <= 128 && flat)}`,
  );
  for (const name of FLOORS) {
    const floor = get(name);
    if (floor)
      out.push(
        `- cfimg ÷ ${name} = ${f(cfimg.seconds / floor.seconds)}x (no target: the cost of verifying)`,
      );
  }
  for (const sink of ['md5sum', 'wc -c']) {
    const pipe = get(`cfimg get -o - | ${sink}`);
    if (!pipe) continue;
    const x = pipe.seconds / cfimg.seconds;
    out.push(`- -o - | ${sink} ÷ -o FILE = ${f(x)}x, target ≤ 1.5x: ${verdict(x <= 1.5)}`);
  }
  return out.join('\n');
}
