// Preload for `bench/run.mjs --count`: counts what the SSH transport does, without touching it.
// Patches ssh2's Client (the one dist/ loads) to count connections, channels opened (exec,
// shell, sftp) and writes into channels (the transport writes one script per command, so
// writes ≈ commands ≈ round trips). Prints one JSON line to stderr at exit.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.cwd(), 'package.json'));
const { Client } = require('ssh2');
const counts = { connections: 0, channels: 0, channelWrites: 0, sftp: 0, forwardOut: 0 };
const countWrites = (ch) => {
  if (!ch || typeof ch.write !== 'function') return;
  const write = ch.write.bind(ch);
  ch.write = (...args) => {
    counts.channelWrites++;
    return write(...args);
  };
};
const wrap = (name, key) => {
  const orig = Client.prototype[name];
  Client.prototype[name] = function (...args) {
    counts[key]++;
    const cbAt = args.findIndex((a) => typeof a === 'function');
    if (cbAt >= 0) {
      const cb = args[cbAt];
      args[cbAt] = (err, ch) => {
        if (!err) countWrites(ch);
        return cb(err, ch);
      };
    }
    return orig.apply(this, args);
  };
};
wrap('exec', 'channels');
wrap('shell', 'channels');
wrap('sftp', 'sftp');
wrap('forwardOut', 'forwardOut');
const connect = Client.prototype.connect;
Client.prototype.connect = function (...args) {
  counts.connections++;
  return connect.apply(this, args);
};
process.on('exit', () => process.stderr.write(`${JSON.stringify({ sshCounts: counts })}\n`));
