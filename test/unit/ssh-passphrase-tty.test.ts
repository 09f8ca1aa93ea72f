// An encrypted key with no RANCHER_PLAY_SSH_PASSPHRASE and no agent: the CLI asks on the
// terminal (a pseudo-TTY from `script`), the typed passphrase is not echoed, and ping succeeds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keygen, knownHostsFor, scratch, startSshd } from './ssh-helpers.js';
import { cliShell } from './cli-helpers.js';

const SECRET = 'tty secret 42';

function pingOnTty(inv: string, answer: string | undefined): Promise<{ code: number | null; out: string }> {
  const env = { ...process.env };
  delete env.SSH_AUTH_SOCK;
  delete env.RANCHER_PLAY_SSH_PASSPHRASE;
  const p = spawn('script', ['-qec', cliShell(['ping', '-i', inv]), '/dev/null'], { env });
  let out = '';
  let sent = false;
  p.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (!sent && /Passphrase for .*enc: /.test(out)) {
      sent = true;
      if (answer !== undefined) p.stdin.write(`${answer}\r`);
      else p.stdin.end();
    }
  });
  return new Promise((resolve) => p.on('exit', (code) => resolve({ code, out })));
}

test('the passphrase is asked once on the terminal, never echoed, and unlocks the key', async () => {
  const dir = scratch();
  const pub = keygen(join(dir, 'enc'), 'ed25519', SECRET);
  const s = await startSshd([{ path: join(dir, 'enc'), pub }]);
  try {
    writeFileSync(join(dir, 'kh'), knownHostsFor(s));
    const inv = join(dir, 'inv.yml');
    writeFileSync(
      inv,
      `defaults:\n  user: root\n  ssh_key_path: ${join(dir, 'enc')}\n  known_hosts: ${join(dir, 'kh')}\n` +
        `hosts:\n  enc: { address: 127.0.0.1, port: ${s.port} }\n  enc2: { address: 127.0.0.1, port: ${s.port}, user: root }\n`,
    );
    const r = await pingOnTty(inv, SECRET);
    assert.is(r.code, 0, r.out);
    assert.match(r.out, /enc\s+ok/);
    assert.match(r.out, /enc2\s+ok/);
    assert.is(r.out.match(/Passphrase for/g)?.length, 1, 'asked once for both hosts');
    assert.not.ok(r.out.includes(SECRET), 'not echoed');
    const wrong = await pingOnTty(inv, 'not it');
    assert.is(wrong.code, 4, wrong.out);
    assert.match(wrong.out, /unreachable \(auth\).*wrong passphrase/);
    assert.not.ok(wrong.out.includes('not it'));
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
