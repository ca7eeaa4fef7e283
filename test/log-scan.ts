/**
 * No patient identifiers in logs, checked: searches every log file the test servers wrote under
 * test-logs/ (test/helpers/server.ts, debug level and above) for the test patients' NHS numbers,
 * names and patient IDs, and for any 10-digit number that passes the NHS number check. Fails
 * (exit 1) naming the file and line, with the identifier masked, never printed whole.
 *
 * The identifiers are collected from the test sources each run (string literals in the places
 * fixtures put them), so a new fixture patient is searched for without editing this file. Person
 * names include staff in fixtures (operators, referring physicians): none belongs in a log either.
 *
 *   tsx test/log-scan.ts                   scan test-logs/ as it is
 *   tsx test/log-scan.ts --run-jest [...]  empty test-logs/, run jest with the remaining arguments,
 *                                          then scan (what `npm test` does; `npm test -- --json ...`
 *                                          hands its arguments to jest this way)
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOG_DIR = path.join(ROOT, 'test-logs');
const SELF = fileURLToPath(import.meta.url);

interface Identifier { kind: 'NHS number' | 'person name' | 'patient ID'; value: string; pattern: RegExp }
interface Finding { file: string; line: number; kind: string; masked: string }

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** First three characters of what was seen, the rest starred: enough to find the fixture, not to read the value. */
const mask = (s: string) => s.slice(0, 3) + '*'.repeat(Math.max(3, s.length - 3));

/** The NHS number check digit (modulus 11); numbers of one repeated digit pass it but are never issued. */
export function passesNhsCheck(digits: string): boolean {
  if (!/^\d{10}$/.test(digits) || /^(\d)\1{9}$/.test(digits)) return false;
  const sum = [...digits.slice(0, 9)].reduce((acc, d, i) => acc + Number(d) * (10 - i), 0);
  const check = 11 - (sum % 11);
  return check !== 10 && (check === 11 ? 0 : check) === Number(digits[9]);
}

/** Not inside a longer number, a word, or a dotted number such as a UID ("1.2.826.0.1.3680043..."). */
const NUMBER_START = String.raw`(?<![\p{L}\p{N}_]|\d\.)`;
const NUMBER_END = String.raw`(?![\p{L}\p{N}_]|\.\d)`;
/** Ten digits, maybe written 3-3-4 with spaces or hyphens as people do ("943 476 5919"). */
const TEN_DIGITS = new RegExp(`${NUMBER_START}(\\d{3})[ -]?(\\d{3})[ -]?(\\d{4})${NUMBER_END}`, 'gu');

function sourceFiles(dir: string, all: boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) { if (entry.name !== 'node_modules') out.push(...sourceFiles(p, all)); continue; }
    if (p !== SELF && /\.ts$/.test(p) && (all || /\.(test|contract)\.ts$/.test(p))) out.push(p);
  }
  return out;
}

/**
 * The test patients' identifiers, from string literals where the fixtures put them: any quoted
 * 10-digit number (NHS numbers, valid or deliberately not); DICOM person names ('Family^Given...')
 * and capture metadata names ({ family, given: [...] }); PatientID values and hospital numbers.
 */
export function fixtureIdentifiers(): Identifier[] {
  const tenDigits = new Set<string>();
  const names = new Set<string>();
  const ids = new Set<string>();
  const files = [...sourceFiles(path.join(ROOT, 'test'), true), ...sourceFiles(path.join(ROOT, 'services'), false),
    ...sourceFiles(path.join(ROOT, 'conformance'), false)];
  for (const file of files) {
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/['"`](\d{3})[ -]?(\d{3})[ -]?(\d{4})['"`]/g)) tenDigits.add(m[1] + m[2] + m[3]);
    // A person name: a family name without spaces, then up to four more ^-separated components.
    for (const m of src.matchAll(/['"`]([\p{L}][\p{L}'_.-]*(?:\^[\p{L}'_. -]*){1,4})['"`]/gu)) names.add(m[1]);
    for (const m of src.matchAll(/family:\s*'([^'\\]+)',\s*given:\s*\[\s*'([^'\\]+)'/g)) names.add(`${m[1]}^${m[2]}`).add(`${m[2]} ${m[1]}`);
    const idLiterals = [
      /['"]?00100020['"]?\s*:\s*\w+\(\s*'LO'\s*,\s*'([^']+)'/g, // DICOM JSON fixtures: '00100020': v('LO', 'X')
      /\b(?:PatientID|patientID|patientId|OtherPatientIDs)\s*:\s*'([^']+)'/g,
      /\bhospitalNumber:\s*\{\s*value:\s*'([^']+)'/g,
      /\bid:\s*'(PID-[^']+)'/g, // the QIDO fixture table
    ];
    for (const re of idLiterals) for (const m of src.matchAll(re)) if (m[1].length >= 5 && !/^\d{10}$/.test(m[1].replace(/[ -]/g, ''))) ids.add(m[1]);
  }
  // NHS numbers: those that pass the check, and fixtures' deliberately wrong check digits on them
  // (other 10-digit literals are integer limits, dates and the like).
  const valid = [...tenDigits].filter(passesNhsCheck);
  const nhs = [...tenDigits].filter((d) => valid.some((v) => v.slice(0, 9) === d.slice(0, 9)));
  const personNames = [...names].map((n) => n.replace(/\^+$/, '').trim()).filter((n) => n.length >= 5 && /[\^ ]/.test(n));
  const digitsPattern = (d: string) => new RegExp(`${NUMBER_START}${d.slice(0, 3)}[ -]?${d.slice(3, 6)}[ -]?${d.slice(6)}${NUMBER_END}`, 'u');
  const textPattern = (s: string) => new RegExp(`(?<![\\p{L}\\p{N}])${escape(s)}(?![\\p{L}\\p{N}])`, 'iu');
  return [
    ...nhs.map((value) => ({ kind: 'NHS number' as const, value, pattern: digitsPattern(value) })),
    ...[...new Map(personNames.map((n) => [n.toLowerCase(), n])).values()].map((value) => ({ kind: 'person name' as const, value, pattern: textPattern(value) })),
    ...[...new Map([...ids].map((n) => [n.toLowerCase(), n])).values()].map((value) => ({ kind: 'patient ID' as const, value, pattern: textPattern(value) })),
  ];
}

/** Scans every file under `dir`; returns what it found and how much it read. */
export function scanLogs(dir: string, identifiers: Identifier[]): { files: number; lines: number; findings: Finding[] } {
  const findings: Finding[] = [];
  let files = 0;
  let lines = 0;
  const logFiles = (() => {
    try { return readdirSync(dir).filter((f) => statSync(path.join(dir, f)).isFile()).sort(); } catch { return []; }
  })();
  for (const name of logFiles) {
    files++;
    const text = readFileSync(path.join(dir, name), 'utf8').split('\n');
    text.forEach((line, i) => {
      if (line === '') return;
      lines++;
      const at = (kind: string, seen: string) => findings.push({ file: path.join(path.basename(dir), name), line: i + 1, kind, masked: mask(seen) });
      const known = new Set<string>();
      for (const id of identifiers) {
        const m = id.pattern.exec(line);
        if (m) { at(id.kind, m[0]); if (id.kind === 'NHS number') known.add(id.value); }
      }
      for (const m of line.matchAll(TEN_DIGITS)) {
        const digits = m[1] + m[2] + m[3];
        if (!known.has(digits) && passesNhsCheck(digits)) at('number that passes the NHS number check', digits);
      }
    });
  }
  return { files, lines, findings };
}

function main(argv: string[]): number {
  let jestStatus = 0;
  if (argv[0] === '--run-jest') {
    rmSync(LOG_DIR, { recursive: true, force: true }); // only this run's logs are judged
    const jest = spawnSync(process.execPath, ['--experimental-vm-modules', path.join(ROOT, 'node_modules/jest/bin/jest.js'), ...argv.slice(1)],
      { stdio: 'inherit', cwd: ROOT });
    jestStatus = jest.status ?? 1;
  } else if (argv.length) {
    console.error('usage: tsx test/log-scan.ts [--run-jest [jest arguments...]]');
    return 2;
  }
  const identifiers = fixtureIdentifiers();
  const { files, lines, findings } = scanLogs(LOG_DIR, identifiers);
  const count = (kind: Identifier['kind']) => identifiers.filter((i) => i.kind === kind).length;
  console.log(`log-scan: ${files} log files, ${lines} lines checked for ${count('NHS number')} NHS numbers, `
    + `${count('person name')} person names and ${count('patient ID')} patient IDs from the test fixtures, and for any valid NHS number`);
  for (const f of findings) console.error(`log-scan: ${f.file}:${f.line}: ${f.kind} ${f.masked}`);
  if (findings.length) console.error(`log-scan: FAILED, ${findings.length} patient identifier(s) in the logs`);
  // Locally not a failure by itself (a run of unit tests starts no server; hardening.test.ts checks
  // that servers' logs land here). In CI the whole suite ran: no logs means nothing was checked.
  if (files === 0) {
    if (process.env.CI === 'true') {
      console.error(`log-scan: FAILED, no log files in ${LOG_DIR}: the scan checked nothing`);
      return jestStatus || 1;
    }
    console.warn(`log-scan: no log files in ${LOG_DIR}`);
  }
  return jestStatus || (findings.length ? 1 : 0);
}

// Run as a script (tsx test/log-scan.ts); imported, it only lends its functions (hardening.test.ts).
if (process.argv[1] && path.resolve(process.argv[1]) === SELF) process.exitCode = main(process.argv.slice(2));
