// JSON Schemas: the single source of truth for inventory and playbook input. The same schemas are
// printed by `rancher-play schema` for editors and used (with ajv) to validate files, with every
// ajv error mapped back to file:line:column and a dotted key.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import type { AnyTask } from '../task.js';
import type { InputProblem } from '../errors.js';
import type { YamlPath, YamlSource } from './yamlsrc.js';
import { suggestion } from './suggest.js';

const DRAFT = 'http://json-schema.org/draft-07/schema#';

type Schema = Record<string, unknown>;

const NAME_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.-]*$';
// Host names may also be IPv6 addresses (as Ansible inventories name hosts).
const HOST_NAME_PATTERN = '^[A-Za-z0-9_:][A-Za-z0-9_.:-]*$';

const jump: Schema = {
  type: ['string', 'array'],
  items: { type: 'string', minLength: 1 },
  minLength: 1,
  description: 'Jump host(s): a name from jump_hosts, "user@host:port", or a list (multi-hop, first hop first).',
};

const connection: Schema = {
  address: { type: 'string', minLength: 1, description: 'Hostname or IP address (defaults to the host name).' },
  port: { type: 'integer', minimum: 1, maximum: 65535, description: 'SSH port (default 22).' },
  user: { type: 'string', minLength: 1, description: 'SSH user (default: defaults.user, else $USER).' },
  ssh_key_path: { type: 'string', minLength: 1, description: 'Private key file; ~ expands, relative to the inventory.' },
  jump,
  become: { type: 'boolean', description: 'Run commands through sudo -n.' },
};

const varsSchema: Schema = { type: 'object', description: 'Variables (any YAML values).' };

export function inventorySchema(): Schema {
  return {
    $schema: DRAFT,
    $id: 'https://rancher-play.dev/schema/inventory.json',
    title: 'rancher-play inventory',
    description: 'Hosts, groups, connection settings and variables.',
    type: 'object',
    additionalProperties: false,
    properties: {
      defaults: {
        type: 'object',
        description: 'Connection defaults for every host.',
        additionalProperties: false,
        properties: {
          ...connection,
          address: undefined,
          known_hosts: { type: 'string', minLength: 1, description: 'known_hosts file (default ~/.ssh/known_hosts).' },
          connect_timeout: { type: 'number', exclusiveMinimum: 0, description: 'Connect timeout in seconds (default 10).' },
        },
      },
      jump_hosts: {
        type: 'object',
        description: 'Named jump hosts (bastions) that hosts refer to with `jump:`.',
        propertyNames: { pattern: NAME_PATTERN },
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          properties: { ...connection, become: undefined },
        },
      },
      hosts: {
        type: 'object',
        description: 'Target hosts by name.',
        propertyNames: { pattern: HOST_NAME_PATTERN },
        additionalProperties: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: {
            ...connection,
            connection: { enum: ['ssh', 'local'], description: 'ssh (default) or local (run on the controller).' },
            vars: varsSchema,
          },
        },
      },
      groups: {
        type: 'object',
        description: 'Groups of hosts, with group variables.',
        propertyNames: { pattern: NAME_PATTERN },
        additionalProperties: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: {
            hosts: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'Member host names.' },
            vars: varsSchema,
          },
        },
      },
      vars: { ...varsSchema, description: 'Variables for all hosts (lowest precedence).' },
      secret: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        description: 'Names of variables whose values are masked in all output.',
      },
    },
  };
}

const stringOrList: Schema = { type: ['string', 'array'], items: { type: 'string' } };

/** Keys a task item may have besides its one task-id key. */
export const TASK_ITEM_KEYS = ['name', 'when', 'tags', 'register', 'notify', 'ignore_errors', 'retries', 'delay', 'timeout', 'become',
  'check_mode', 'changed_when', 'failed_when', 'run_once', 'delegate_to', 'throttle', 'any_errors_fatal'] as const;

function taskItemCommon(): Schema {
  return {
    name: { type: 'string', description: 'Display name (defaults to the task id).' },
    when: { type: ['string', 'boolean'], description: 'Condition: a safe expression over vars and registered results.' },
    tags: { ...stringOrList, description: 'Tags for --tags / --skip-tags.' },
    register: {
      type: 'string',
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
      'x-error': 'must be an identifier (letters, digits and _, not starting with a digit)',
      description: 'Store the result under this variable name.',
    },
    notify: { ...stringOrList, description: 'Handler name(s) to run at the end of the play if this task changed.' },
    ignore_errors: { type: 'boolean', description: 'A failure does not stop the host.' },
    retries: { type: 'integer', minimum: 0, description: 'Retry a failed task this many times.' },
    delay: { type: 'number', minimum: 0, description: 'Seconds between retries.' },
    timeout: { type: 'number', exclusiveMinimum: 0, description: 'Seconds before the task is cancelled.' },
    become: { type: 'boolean', description: 'Run through sudo -n.' },
    check_mode: {
      type: 'boolean',
      description: 'false: run for real even under --check (for read-only commands whose output later tasks use); true: always only probe.',
    },
    changed_when: {
      type: ['string', 'boolean'],
      description: 'Expression over the result (rc, stdout, stderr, ...) deciding "changed"; changes only the report, never whether the task runs.',
    },
    failed_when: { type: ['string', 'boolean'], description: 'Expression over the result deciding failure.' },
    run_once: {
      type: 'boolean',
      description: "Run on the first host of the batch only; its result (register, changed) stands for every host of the batch, as in Ansible. A failure stops the play. Not with strategy: free.",
    },
    delegate_to: {
      type: 'string',
      minLength: 1,
      description: "Run on this inventory host's connection (or localhost) instead, with the current host's vars; register and facts go to the current host. A template is rendered per host. Tasks that run on the controller accept only localhost.",
    },
    throttle: { type: 'integer', minimum: 0, description: 'At most this many hosts run this item at the same time (0: only --forks limits).' },
    any_errors_fatal: { type: 'boolean', description: 'A failure of this item stops the play on every host (overrides the play).' },
  };
}

// One schema, no anyOf: `pattern` applies to strings only and `minimum` to numbers only, so a
// bad value gets one message.
const batchSize: Schema = {
  type: ['integer', 'string'],
  minimum: 0,
  // A template ("{{ batch }}") renders with the play's vars (and -e), as Ansible's does.
  pattern: '^([0-9]+%|.*\\{\\{.*)$',
  'x-error': 'must be a host count, a percentage like "30%", or a template of one',
};

function playbookSkeleton(taskItem: Schema): Schema {
  return {
    $schema: DRAFT,
    $id: 'https://rancher-play.dev/schema/playbook.json',
    title: 'rancher-play playbook',
    description: 'Plays of tasks run against inventory hosts.',
    type: 'object',
    additionalProperties: false,
    required: ['plays'],
    properties: {
      name: { type: 'string', description: 'Playbook name.' },
      vars: { ...varsSchema, description: 'Playbook variables (above inventory vars, below -e).' },
      vars_schema: { type: 'object', description: 'JSON Schema the merged vars of every host must satisfy.' },
      plays: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['hosts'],
          properties: {
            name: { type: 'string' },
            hosts: {
              type: ['string', 'array'],
              items: { type: 'string', minLength: 1 },
              minLength: 1,
              minItems: 1,
              description: 'A group, a host, a list of them, or all.',
            },
            strategy: { enum: ['linear', 'free'], description: 'linear (default) or free.' },
            serial: {
              ...batchSize,
              type: ['integer', 'string', 'array'],
              items: batchSize,
              minItems: 1,
              'x-error': 'must be a host count, a percentage like "30%", a template of one, or a list of them',
              description: 'Run the play on this many hosts at a time (a count, a percentage of the play\'s hosts, or a list of sizes whose last repeats); each batch runs every task and handler before the next starts.',
            },
            max_fail_percentage: {
              type: 'number', minimum: 0, maximum: 100,
              description: 'Stop the run once more than this percentage of a batch\'s hosts have failed.',
            },
            any_errors_fatal: { type: 'boolean', description: 'A failure on any host stops the play on every host, and the run.' },
            vars: { ...varsSchema, description: 'Play variables.' },
            tasks: { type: 'array', items: taskItem },
            handlers: { type: 'array', items: taskItem },
          },
        },
      },
    },
  };
}

/** The published playbook schema: each task item has exactly one task-id key, params checked. */
export function playbookSchema(tasks: AnyTask[]): Schema {
  const props: Schema = taskItemCommon();
  for (const t of tasks) props[t.id] = { ...templatable(t.schema as Schema), description: t.summary };
  const item: Schema = {
    type: 'object',
    additionalProperties: false,
    properties: props,
    description: 'A task: one task-id key with its params, plus optional name/when/tags/register/notify/...',
  };
  if (tasks.length) item.oneOf = tasks.map((t) => ({ required: [t.id] }));
  return playbookSkeleton(item);
}

const TEMPLATE_STRING: Schema = { type: 'string', pattern: '\\{\\{', description: 'A template rendered per host.' };

/**
 * For editors: a param of any type may also be given as a template string (`"{{ var }}"`), as the
 * loader accepts. Non-string leaves become `anyOf: [original, template string]`.
 */
export function templatable(schema: Schema, depth = 0): Schema {
  if (depth > 30 || typeof schema !== 'object' || schema === null) return schema;
  const out: Schema = { ...schema };
  if (isSchemaObj(out.properties)) {
    out.properties = Object.fromEntries(Object.entries(out.properties).map(([k, v]) => [k, isSchemaObj(v) ? templatable(v, depth + 1) : v]));
  }
  if (isSchemaObj(out.items)) out.items = templatable(out.items, depth + 1);
  if (isSchemaObj(out.additionalProperties)) out.additionalProperties = templatable(out.additionalProperties, depth + 1);
  const t = out.type;
  const types = Array.isArray(t) ? t : t === undefined ? [] : [t];
  const acceptsString = types.length === 0 ? !('enum' in out || 'const' in out) : types.includes('string');
  if (acceptsString && !('enum' in out || 'const' in out || 'pattern' in out || 'format' in out)) return out;
  const { description, ...rest } = out;
  const wrapped: Schema = { anyOf: [rest, TEMPLATE_STRING] };
  if (description !== undefined) wrapped.description = description;
  return wrapped;
}

function isSchemaObj(v: unknown): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The structural schema used while loading: task ids and params are checked separately. */
export function playbookStructureSchema(): Schema {
  return playbookSkeleton({ type: 'object', properties: taskItemCommon() });
}

// --------------------------------------------------------------- validation

/** The one ajv configuration, shared with the build-time generator (scripts/validators.mjs). */
export const AJV_OPTIONS = { allErrors: true, strict: false, verbose: true, addUsedSchema: false, validateSchema: false } as const;

const requireHere = createRequire(import.meta.url);
let ajvInstance: Ajv | undefined;

/** ajv, loaded on first use: with the prebuilt validators `validate` of built-in tasks never
 * needs it (loading and compiling with it was most of the start-up). Both packages are CommonJS;
 * the plain `require` (defined in the one-file bundle) lets the bundler include them. */
function ajv(): Ajv {
  if (!ajvInstance) {
    const load = (id: 'ajv' | 'ajv-formats'): unknown =>
      typeof require === 'function' ? (id === 'ajv' ? require('ajv') : require('ajv-formats')) : requireHere(id);
    const { Ajv: AjvClass } = load('ajv') as { Ajv: new (o: object) => Ajv };
    const formats = load('ajv-formats') as { default?: (a: Ajv) => Ajv } & ((a: Ajv) => Ajv);
    ajvInstance = new AjvClass(AJV_OPTIONS);
    (formats.default ?? formats)(ajvInstance);
  }
  return ajvInstance;
}

/** Content key of a schema: validators generated at build time are found by it, so a schema
 * changed since the build simply misses and is compiled at run time. */
export function schemaKey(schema: object): string {
  return createHash('sha256').update(JSON.stringify(stripUndefined(schema))).digest('hex');
}

let prebuilt: Record<string, ValidateFunction> | undefined;

function prebuiltFor(schema: object): ValidateFunction | undefined {
  if (prebuilt === undefined) {
    try {
      // Next to this file in dist/ (written by scripts/validators.mjs after tsc; the bundle build
      // swaps this call for the generated module); absent when running from the sources, which then compile.
      prebuilt = (requireHere('./validators.cjs') as { byKey: Record<string, ValidateFunction> }).byKey;
    } catch {
      prebuilt = {};
    }
  }
  return Object.keys(prebuilt).length ? prebuilt[schemaKey(schema)] : undefined;
}

const compiled = new WeakMap<object, ValidateFunction>();

/** Compile (once per schema object); a broken schema is reported, not thrown. */
export function compileSchema(schema: object): ValidateFunction | string {
  const hit = compiled.get(schema);
  if (hit) return hit;
  try {
    const fn = prebuiltFor(schema) ?? ajv().compile(stripUndefined(schema) as Schema);
    compiled.set(schema, fn);
    return fn;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** The schemas every run validates against (inventory, playbook structure, built-in task
 * params), for the build-time generator. */
export function builtinSchemas(tasks: AnyTask[]): object[] {
  return [inventorySchema(), playbookStructureSchema(), ...tasks.map((t) => t.schema)];
}

export function stripUndefined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripUndefined);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, stripUndefined(x)]));
  }
  return v;
}

export interface ValidateAtOptions {
  /** Where `value` sits inside the source document. */
  base?: YamlPath;
  /** Dotted-key prefix shown instead of `base` (e.g. the task id). */
  keyPrefix?: (string | number)[];
  /** Accept strings containing `{{` wherever the schema asks for another type or format. */
  allowTemplates?: boolean;
}

/** Validate `value` (found at `base` in `src`) against a schema, mapping errors to positions. */
export function validateAt(schema: object, value: unknown, src: YamlSource, opts: ValidateAtOptions = {}): InputProblem[] {
  const base = opts.base ?? [];
  const prefix = opts.keyPrefix ?? base;
  const v = compileSchema(schema);
  if (typeof v === 'string') return [{ pos: src.posOf(base), key: dotted(prefix), message: `invalid schema: ${v}` }];
  if (v(value)) return [];
  const errors = (v.errors ?? []).filter((e) => !(opts.allowTemplates && isTemplate(e.data)));
  return mapErrors(errors, src, base, prefix);
}

/** Validate a whole document against a schema. */
export function schemaProblems(schema: object, src: YamlSource, schemaId: string): InputProblem[] {
  return validateAt(schema, src.value, src).map((p) => (p.message.startsWith('invalid schema') ? { ...p, message: `${p.message} (${schemaId})` } : p));
}

function isTemplate(v: unknown): boolean {
  return typeof v === 'string' && v.includes('{{');
}

function dotted(path: (string | number)[]): string | undefined {
  return path.length ? path.join('.') : undefined;
}

function pointerToPath(ptr: string): string[] {
  if (!ptr) return [];
  return ptr.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function mapErrors(errors: ErrorObject[], src: YamlSource, base: YamlPath, prefix: (string | number)[]): InputProblem[] {
  const out: InputProblem[] = [];
  const seen = new Set<string>();
  // Composite keywords (anyOf/oneOf/if) only add noise when a more specific error exists below them.
  const specific = errors.filter((e) => !['anyOf', 'oneOf', 'if', 'not'].includes(e.keyword));
  for (const e of errors) {
    const rel = pointerToPath(e.instancePath);
    if (['anyOf', 'oneOf', 'if'].includes(e.keyword) && specific.some((s) => s.instancePath.startsWith(e.instancePath))) continue;
    let path = rel;
    let message = e.message ?? 'is invalid';
    const parent = e.parentSchema as Schema | undefined;
    switch (e.keyword) {
      case 'additionalProperties': {
        const extra = String((e.params as { additionalProperty: string }).additionalProperty);
        path = [...rel, extra];
        const known = Object.entries((parent?.properties as Schema | undefined) ?? {}).filter(([, s]) => s !== undefined).map(([k]) => k);
        message = `unknown key "${extra}"${suggestion(extra, known)}`;
        break;
      }
      case 'required':
        message = `missing required key "${(e.params as { missingProperty: string }).missingProperty}"`;
        break;
      case 'propertyNames':
        path = [...rel, String((e.params as { propertyName: string }).propertyName)];
        message = 'is not a valid name (letters, digits, _ . -)';
        break;
      case 'pattern':
        if (e.propertyName !== undefined) continue; // reported by propertyNames
        if (typeof parent?.['x-error'] === 'string') message = parent['x-error'];
        else message = `must match pattern ${JSON.stringify((e.params as { pattern: string }).pattern)}`;
        break;
      case 'enum':
        message = `must be one of: ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((x) => JSON.stringify(x)).join(', ')}`;
        break;
      case 'type': {
        const t = (e.params as { type: string | string[] }).type;
        const types = (Array.isArray(t) ? t : String(t).split(',')).map((x) => (x === 'array' ? 'list' : x === 'object' ? 'mapping' : x));
        message = `must be ${types.join(' or ')}`;
        break;
      }
      default:
        if (typeof parent?.['x-error'] === 'string') message = parent['x-error'];
        break;
    }
    const fullPath = [...base, ...path];
    const key = dotted([...prefix, ...path]);
    const problem: InputProblem = { pos: src.posOf(fullPath), message };
    if (key) problem.key = key;
    const id = `${key}|${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(problem);
  }
  return out;
}
