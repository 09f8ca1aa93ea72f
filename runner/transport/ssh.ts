// SSH transport on ssh2. The work is split by job under ./ssh/: pool (connections, jump chains),
// auth (keys, passphrase, agent), host-keys (known_hosts verdicts), shell (the long-lived remote
// shell commands travel through) and transport (commands and files for one host).
export { SshPool, type SshPoolOptions } from './ssh/pool.js';
export { BecomeError } from './ssh/transport.js';
export type { PassphraseSource } from './ssh/auth.js';
