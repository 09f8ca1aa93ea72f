// The shared vocabulary of the engine. Data flows one way:
// files → validated model (Inventory, Playbook) → plan per host → execution → events → renderers.
// Keep this file free of logic so every module can import it without cycles.

/** A plain JSON value, as produced by the YAML loader and consumed by templates. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type Vars = Record<string, unknown>;

/** Where a value came from, for `file:line:column` errors. Lines and columns are 1-based. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

// ---------------------------------------------------------------- inventory

export type JumpSpec = string | string[];

/** Connection settings of one host after defaults, ~/.ssh/config and jump names are resolved. */
export interface ConnectionSpec {
  /** `ssh` (default) or `local` (run on the controller, no connection). */
  connection: 'ssh' | 'local';
  address: string;
  port: number;
  user: string;
  /** Absolute path of the private key, if any (ssh-agent is used otherwise/too). */
  ssh_key_path?: string;
  /** Resolved jump chain, outermost (first hop) first. Empty when connecting directly. */
  jump: ConnectionSpec[];
  /** Run commands through `sudo -n`. */
  become: boolean;
  /** known_hosts file used to verify this host's key. */
  known_hosts: string;
  /** Connect timeout in milliseconds. */
  connect_timeout_ms: number;
  /** Display name (the inventory name or `user@host:port` for ad-hoc jump specs). */
  name: string;
  /** Identity files in the order ssh tries them (after ~/.ssh/config; explicit ones first). */
  identity_files?: string[];
  /** Which of user/port the inventory wrote: those win over ~/.ssh/config; the others (and all,
   * when absent) apply only where the config sets nothing. */
  explicit?: { user: boolean; port: boolean };
  /** Already resolved through ~/.ssh/config (resolution is not applied twice). */
  resolved?: boolean;
}

export interface Host {
  name: string;
  /** Connection spec; `connection: 'local'` for localhost. */
  conn: ConnectionSpec;
  /** The host's own `vars:` from the inventory (not merged). */
  vars: Vars;
  /** Group names the host belongs to (sorted), `all` excluded. */
  groups: string[];
  /** The raw inventory entry, for templates (`host.entry`). */
  entry: Vars;
  pos?: SourcePos;
}

export interface Group {
  name: string;
  hosts: string[];
  vars: Vars;
  pos?: SourcePos;
}

export interface Inventory {
  file: string;
  hosts: Map<string, Host>;
  groups: Map<string, Group>;
  /** Inventory-wide `vars:`. */
  vars: Vars;
  /** Var names whose values are masked in every output (inventory `secret:` list and `!secret` tags). */
  secrets: Set<string>;
}

// ----------------------------------------------------------------- playbook

export interface TaskItem {
  /** The task id, e.g. `check-docker`. */
  id: string;
  /** Display name (defaults to the id). */
  name: string;
  /** Raw params: strings inside are templates rendered per host at run time. */
  params: Vars;
  when?: string;
  tags: string[];
  register?: string;
  notify: string[];
  ignore_errors: boolean;
  retries: number;
  delay_s: number;
  timeout_s?: number;
  become?: boolean;
  /** false: runs for real under --check; true: only probes even without --check. */
  check_mode?: boolean;
  /** Decides the reported `changed` from the result (never whether the task runs). */
  changed_when?: string | boolean;
  /** Decides failure from the result. */
  failed_when?: string | boolean;
  /** Runs on the batch's first live host only; its result (register, facts) is every host's. */
  run_once?: boolean;
  /** Runs on this inventory host's connection (or `localhost`) with the current host's vars; a template is rendered per host. */
  delegate_to?: string;
  /** At most this many hosts run the item at once (0: no limit beyond --forks). */
  throttle?: number;
  /** A failure of this item stops the play on every host (overrides the play's). */
  any_errors_fatal?: boolean;
  pos: SourcePos;
}

/** One `serial:` batch size: a host count or a percentage of the play's hosts ("30%"), or a template of one (rendered in the plan). */
export type BatchSize = number | string;

export interface Play {
  name: string;
  /** Host pattern as written: a group, a host, a list, or `all`. */
  hosts: string[];
  /** Where `hosts:` is written (for errors about the pattern). */
  hostsPos?: SourcePos;
  strategy: 'linear' | 'free';
  tasks: TaskItem[];
  handlers: TaskItem[];
  vars: Vars;
  /** Batch sizes, the last repeating; absent: one batch of every host. */
  serial?: BatchSize[];
  /** Where `serial:` is written (for a template that renders to no size). */
  serialPos?: SourcePos;
  /** Stop the play (and the run) once more than this share of a batch's hosts failed. */
  max_fail_percentage?: number;
  /** A failure on one host stops the play (and the run) on every host. */
  any_errors_fatal?: boolean;
  pos: SourcePos;
}

export interface Playbook {
  file: string;
  dir: string;
  name: string;
  vars: Vars;
  vars_schema?: Record<string, unknown>;
  /** Defaults from vars_schema `properties.*.default` (lowest precedence). */
  defaults: Vars;
  plays: Play[];
}

// ------------------------------------------------------------------ results

export type Status = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable';

/** A file change, shown under --diff as a unified diff. */
export interface FileDiff {
  path: string;
  before: string | null;
  after: string | null;
}

/** What a task reports; registered as-is (plus `status`) under `register:`. */
export interface TaskResult {
  status: Status;
  changed: boolean;
  msg: string;
  diff?: FileDiff[];
  /** Values the task learned (e.g. docker_version), merged into the host's vars for later tasks. */
  facts?: Vars;
  /** Extra data for `register` (stdout, rc, ...). */
  data?: Vars;
  /** Warnings an operator should read even when the task succeeded. */
  warnings?: string[];
}

// ------------------------------------------------------------------- events

export interface TaskEvent {
  event: 'task';
  play: string;
  task: string;
  id: string;
  host: string;
  /** Position of the play in the playbook (0-based): a stable id, unlike its display name. */
  play_index: number;
  /** Position of the task in its play's `tasks:` (or, with `handler`, in `handlers:`), 0-based. */
  task_index: number;
  status: Status;
  changed: boolean;
  msg: string;
  diff?: FileDiff[];
  duration_ms: number;
  check?: boolean;
  /** Wall-clock start/end (ms since epoch), for ordering assertions and renderers. */
  start_ms: number;
  end_ms: number;
  warnings?: string[];
  handler?: boolean;
  /** In a play with `serial:`: which batch (0-based) of how many. */
  batch_index?: number;
  batch_count?: number;
  /** `delegate_to`: the host whose connection ran the task (`host` stays the one it ran for). */
  delegated_to?: string;
  /** `run_once`: this one result stands for every host of the batch. */
  run_once?: boolean;
}

export interface HostCounts {
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  unreachable: number;
}

export interface RecapEvent {
  event: 'recap';
  hosts: Record<string, HostCounts>;
}

/** Events the renderers see but --json does not print (it prints only `task` and `recap`).
 * Plays and tasks are identified by `play_index`/`task_index`: names repeat (two unnamed plays
 * on the same hosts are both called after those hosts). */
export type ProgressEvent =
  | {
    event: 'play_start'; play: string; play_index: number; hosts: string[]; strategy: 'linear' | 'free';
    /** Names of the tasks that will run (after --tags), and their `task_index`es, in order. */
    tasks: string[]; task_indexes: number[];
    /** With `serial:`, one play_start per batch: `hosts` are the batch's. */
    batch_index?: number; batch_count?: number;
  }
  | { event: 'task_start'; play: string; play_index: number; task: string; task_index: number; id: string; host: string; handler?: boolean }
  /** A task's log line; engine lines outside any task (ssh -v) carry no indexes. */
  | { event: 'log'; play: string; play_index?: number; task: string; task_index?: number; handler?: boolean; host: string; line: string }
  | { event: 'transfer'; play: string; play_index: number; task: string; task_index: number; handler?: boolean; host: string; done: number; total: number; elapsed_ms: number }
  | { event: 'host_done'; play: string; play_index: number; host: string; reason: 'failed' | 'unreachable' | 'complete' }
  | { event: 'play_end'; play: string; play_index: number }
  /** The run stops after this play's batch: a fatal failure, too many failed, or every host of the batch failed. */
  | { event: 'play_stopped'; play: string; play_index: number; reason: 'any_errors_fatal' | 'max_fail_percentage' | 'all_failed'; msg: string };

export type RunEvent = TaskEvent | RecapEvent | ProgressEvent;

export interface RunOptions {
  check: boolean;
  diff: boolean;
  limit?: string[];
  tags?: string[];
  skipTags?: string[];
  forks: number;
  extraVars: Vars;
  acceptNewHostKeys: boolean;
  verbose: boolean;
  tasksDir?: string;
  /** -u: remote user for hosts whose inventory sets none. */
  user?: string;
  /** --private-key: key for hosts whose inventory sets none. */
  privateKey?: string;
  /** -b: become on every host (a host or task saying `become: false` still wins). */
  become?: boolean;
  /** --start-at-task: skip the tasks before the first one with this name (glob). */
  startAtTask?: string;
  /** --slice K/N: only slice K (1-based) of N disjoint parts of the hosts. */
  slice?: { index: number; count: number };
  /** An encrypted SSH key's passphrase (the CLI asks on the terminal). */
  passphrase?: (keyPath: string) => Promise<string | undefined>;
}
