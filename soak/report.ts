/** The soak's closing report: runs, faults injected by kind, outcomes and violations. */
import { FAULT_KINDS, type FaultKind } from './proxy.js';
import type { RunRecord } from './session.js';

export interface Totals {
  runs: number;
  faults: Map<FaultKind, number>;
  successes: number;
  refusals: number;
  interrupted: number;
  resumes: number;
  /** Resumed runs that found verified segments left by the run before. */
  partialResumes: number;
  resumedBytes: number;
  resumeLeftBytes: number;
  violations: { run: number; problem: string }[];
}

export function tally(records: RunRecord[]): Totals {
  const totals: Totals = {
    runs: records.length,
    faults: new Map(FAULT_KINDS.map((k) => [k, 0])),
    successes: 0,
    refusals: 0,
    interrupted: 0,
    resumes: 0,
    partialResumes: 0,
    resumedBytes: 0,
    resumeLeftBytes: 0,
    violations: [],
  };
  for (const r of records) {
    for (const [kind, n] of r.injected) totals.faults.set(kind, (totals.faults.get(kind) ?? 0) + n);
    if (r.outcome === 'success') totals.successes++;
    else if (r.outcome === 'refusal') totals.refusals++;
    else totals.interrupted++;
    if (r.resume) {
      totals.resumes++;
      if (r.resume.left < r.resume.full) totals.partialResumes++;
      totals.resumedBytes += r.resume.fetched;
      totals.resumeLeftBytes += r.resume.left;
    }
    for (const problem of r.problems) totals.violations.push({ run: r.run, problem });
  }
  return totals;
}

/** One line per run, printed as the soak goes. */
export function runLine(r: RunRecord): string {
  const faults = [...r.injected].map(([k, n]) => (n > 1 ? `${k}x${n}` : k)).join(',') || '-';
  const resume = r.resume
    ? ` -> resumed: ${r.resume.outcome}, fetched ${r.resume.fetched} of ${r.resume.left} left`
    : '';
  const evidence = r.evidence.map(
    (e) => `\n    stderr: ${e.trimEnd().split('\n').join('\n    | ')}`,
  );
  const bad = r.problems.length ? `  VIOLATION: ${r.problems.join('; ')}${evidence.join('')}` : '';
  return `run ${r.run} ${r.command}: exit ${r.exit} (${r.outcome}) faults ${faults}${resume}${bad}`;
}

export function formatReport(t: Totals, seed: number, seconds: number): string {
  const faults = [...t.faults].map(([k, n]) => `  ${k.padEnd(13)} ${n}`).join('\n');
  const injected = [...t.faults.values()].reduce((a, b) => a + b, 0);
  const lines = [
    `soak report (seed ${seed}; replay with: npm run soak -- --seed ${seed} --runs ${t.runs}; one run: --from N --runs 1)`,
    `runs:                ${t.runs} in ${seconds.toFixed(0)} s`,
    `faults injected:     ${injected}`,
    faults,
    `successes:           ${t.successes} (exit 0, byte-identical)`,
    `correct refusals:    ${t.refusals} (documented exit code, cause named)`,
    `interrupted:         ${t.interrupted} (SIGINT 130, SIGTERM 143, or SIGKILL)`,
    `resumed runs:        ${t.resumes}, fetched ${t.resumedBytes} bytes where ${t.resumeLeftBytes} were left;`,
    `                     ${t.partialResumes} kept verified segments and fetched less than the image`,
    `violations:          ${t.violations.length}`,
    ...t.violations.map((v) => `  run ${v.run}: ${v.problem}`),
  ];
  return lines.join('\n');
}
