// Runs every test file in its own Node process (uvu + tsx), in order: unit tests first, then
// differential tests against the reference tools (test/compat/), then
// tests against the lab (test/lab/, which start the lab themselves), then sums the counts.
// The last line is the plain `N passed, N failed` that CI reads.
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join, relative } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dirs = process.argv.slice(2).length ? process.argv.slice(2) : ['test/unit', 'test/compat', 'test/lab'];

function collect(dir) {
  const abs = join(root, dir);
  let out = [];
  // A test file named on the command line runs by itself.
  if (dir.endsWith('.test.ts')) return [abs]; // (a missing one counts as crashed)
  let entries;
  try { entries = readdirSync(abs).sort(); } catch { return out; }
  for (const e of entries) {
    const p = join(abs, e);
    // A `slow/` folder inside runs only when named (npm run test:slow), keeping npm test short.
    if (statSync(p).isDirectory()) { if (e !== 'slow') out = out.concat(collect(join(dir, e))); }
    else if (e.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

// Lab tests bring labs up themselves (the shared default one stays up between files); put the
// machine back as we found it by taking down every lab the run started.
const labs = () => { try { return readdirSync(join(root, '.lab')); } catch { return []; } };
const labsBefore = new Set(labs());

let passed = 0;
let failed = 0;
const failures = [];
for (const file of dirs.flatMap(collect)) {
  const rel = relative(root, file);
  process.stdout.write(`\n# ${rel}\n`);
  // Each file gets its own TMPDIR, removed afterwards: whatever a test leaves there (keys,
  // secrets, temp projects) does not outlive it, even when it crashes.
  // (Unit tests only: lab tests share a lab that outlives one file.)
  const tmp = rel.startsWith('test/unit/') ? mkdtempSync(join(tmpdir(), 'rp-test-')) : undefined;
  // Like /tmp: sshd reads authorized_keys under it as the logging-in user, and a test run as
  // another user (tsx makes its cache there) writes to it.
  if (tmp) chmodSync(tmp, 0o1777);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
    cwd: root, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', ...(tmp ? { TMPDIR: tmp } : {}) }, maxBuffer: 64 << 20,
  });
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  process.stdout.write(out);
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  if (Number.isNaN(total) || Number.isNaN(ok)) {
    failed += 1; // the file crashed before uvu could report
    failures.push(`${rel} (crashed, exit ${r.status})`);
    continue;
  }
  passed += ok;
  failed += total - ok;
  if (total - ok > 0 || r.status !== 0) failures.push(rel);
}
for (const name of labs().filter((n) => !labsBefore.has(n))) {
  spawnSync(process.execPath, [join(root, 'bin', 'rancher-play.js'), 'lab', 'down', '--name', name], { cwd: root, stdio: 'ignore' });
}
if (failures.length) console.log(`\nFailing files:\n  ${failures.join('\n  ')}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
