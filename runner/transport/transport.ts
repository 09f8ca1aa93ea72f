// The one interface between the engine and a machine. Tasks never see it directly: the
// executor wraps it into a TaskContext. `local` and `ssh` implement it.
import type { Duplex } from 'node:stream';
import type { ExecOptions, ExecResult, WriteOptions } from '../task.js';

export interface Transport {
  /** Host name for messages. */
  readonly name: string;
  /** Open the connection (through the jump chain). Throws UnreachableError when it cannot. */
  connect(): Promise<void>;
  /** Run `command` with `sh -c` on the machine. Never throws for a non-zero exit. */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** File content, or null when missing. */
  readFile(path: string, opts?: { become?: boolean }): Promise<Buffer | null>;
  /** Atomic write: temp file in the same directory, chmod/chown, rename. */
  writeFile(path: string, data: string | Buffer, opts?: WriteOptions): Promise<void>;
  /** Atomic write of a controller file, streamed (constant memory whatever its size). */
  upload(localPath: string, path: string, opts?: UploadOptions): Promise<UploadResult>;
  /** Close the connection; safe to call twice. */
  close(): Promise<void>;
  /** A TCP stream to `host:port` dialled from this machine (SSH: a direct-tcpip channel over the
   * connection already held, through its jump chain). Absent where the controller dials itself. */
  openTcp?(host: string, port: number): Promise<Duplex>;
}

export interface UploadOptions extends WriteOptions {
  /** Bytes sent so far, of `total`; called as the transfer advances. */
  onProgress?(done: number, total: number): void;
}

export interface UploadResult {
  bytes: number;
  ms: number;
}

export type UnreachableReason = 'refused' | 'timeout' | 'auth' | 'host-key' | 'dns' | 'network' | 'other';

/** Connection failures: the host is reported `unreachable` with this reason. */
export class UnreachableError extends Error {
  constructor(
    public readonly host: string,
    public readonly reason: UnreachableReason,
    message: string,
  ) {
    super(message);
    this.name = 'UnreachableError';
  }
}
