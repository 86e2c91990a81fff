/**
 * Progress of a transfer, drawn from the core's byte events: a cli-progress bar on a terminal,
 * a plain line every few seconds elsewhere (screen logs, CI), nothing under --quiet or --json.
 */
import cliProgress from 'cli-progress';
import { formatBytes, type Reporter } from './reporter.js';

export interface Progress {
  bytes(delta: number): void;
  segmentDone(): void;
  retry(): void;
  stop(): void;
}

const PLAIN_EVERY_MS = 5000;

export function startProgress(
  reporter: Reporter,
  total: number,
  segments: number,
  already: { bytes: number; segments: number },
  enabled: boolean,
): Progress {
  let done = already.bytes;
  let segs = already.segments;
  let retries = 0;
  const started = performance.now();
  const rate = () => (done - already.bytes) / Math.max(0.001, (performance.now() - started) / 1000);
  const count: Progress = {
    bytes: (d) => {
      done += d;
    },
    segmentDone: () => {
      segs++;
    },
    retry: () => {
      retries++;
    },
    stop: () => undefined,
  };
  if (!enabled) return count;

  if (reporter.io.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: reporter.io.stderr as NodeJS.WritableStream,
        format:
          '{bar} {percentage}% | {done} of {size} | {rate}/s | ETA {eta_formatted} | ' +
          'segments {segs}/{segments} | retries {retries}',
        hideCursor: true,
        barsize: 24,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    const payload = () => ({
      done: formatBytes(done),
      size: formatBytes(total),
      rate: formatBytes(rate()),
      segs,
      segments,
      retries,
    });
    bar.start(Math.max(1, total), done, payload());
    return {
      bytes: (d) => {
        done += d;
        bar.update(done, payload());
      },
      segmentDone: () => {
        segs++;
        bar.update(done, payload());
      },
      retry: () => {
        retries++;
        bar.update(done, payload());
      },
      stop: () => {
        bar.update(done, payload());
        bar.stop();
      },
    };
  }

  const timer = setInterval(() => {
    const pct = total ? ((done / total) * 100).toFixed(0) : '100';
    reporter.line(
      `cfimg: ${formatBytes(done)} of ${formatBytes(total)} (${pct}%), ${formatBytes(rate())}/s, ` +
        `segments ${segs}/${segments}, retries ${retries}`,
    );
  }, PLAIN_EVERY_MS);
  timer.unref();
  return { ...count, stop: () => clearInterval(timer) };
}
