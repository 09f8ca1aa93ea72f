// The fast reader of inventories and playbooks: js-yaml's event parser, several times faster than
// `yaml` (what validate spent most of its time in), for the documents nearly everyone writes — one
// mapping of plain, quoted and block scalars, lists and maps, `!secret` tags. Anything else
// (aliases, anchored keys, other tags, complex or non-string keys, merge keys, directives, several
// documents, any error) returns undefined and is read by yamlsrc.ts with `yaml` as before, so every
// message about bad YAML is that path's. Positions are those `yaml` gives (test/unit/yaml-fast.test.ts
// compares both on every YAML file of the repository).
import { CORE_SCHEMA, EVENT_ID, SCALAR_STYLE, constructFromEvents, defineScalarTag, getScalarValue, parseEvents, type Event, type ScalarEvent } from 'js-yaml';

export type YamlPath = (string | number)[];

/** Where a node starts (a UTF-16 offset into the text) and, for collections, where its children are. */
export interface Located {
  at: number;
  /** Mapping: key → the key's offset and the value. */
  map?: Map<string, { key: number; value: Located }>;
  /** Sequence: the items. */
  seq?: Located[];
}

export interface FastYaml {
  value: Record<string, unknown>;
  root: Located;
  secretPaths: YamlPath[];
}

// `!secret` keeps the text (the tag only marks it for masking), as yamlsrc.ts's tag for `yaml`.
const schema = CORE_SCHEMA.withTags(defineScalarTag('!secret', { resolve: (source: string) => source, identify: () => false }));

/** Plain keys that the Core schema reads as something other than a string (null, bool, number),
 * or that mean more than a name (`<<`, `__proto__`): left to `yaml`'s reading. */
const NOT_A_PLAIN_NAME = /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|<<|__proto__|[-+.0-9].*)?$/;

interface Frame {
  node: Located;
  path: YamlPath;
  /** Mapping: the key read, waiting for its value. */
  key?: { name: string; at: number; end: number };
}

/** The document as value, positions and `!secret` paths; undefined when `yaml` must read it. */
export function fastYaml(text: string): FastYaml | undefined {
  let events: Event[];
  try {
    events = parseEvents(text, {});
  } catch {
    return undefined;
  }
  const secretPaths: YamlPath[] = [];
  const stack: Frame[] = [];
  let root: Located | undefined;
  let docs = 0;
  for (const ev of events) {
    if (ev.type === EVENT_ID.DOCUMENT) {
      if (++docs > 1 || ev.directives.length) return undefined;
      stack.push({ node: { at: 0 }, path: [] });
      continue;
    }
    if (ev.type === EVENT_ID.POP) {
      stack.pop();
      continue;
    }
    if (ev.type === EVENT_ID.ALIAS) return undefined;
    const parent = stack[stack.length - 1];
    if (!parent) return undefined;
    // A mapping's key.
    if (parent.node.map && !parent.key) {
      if (ev.type !== EVENT_ID.SCALAR || ev.tagStart >= 0 || ev.anchorStart >= 0 || ev.valueStart < 0) return undefined;
      const name = getScalarValue(text, ev);
      const plain = ev.style === SCALAR_STYLE.PLAIN;
      if (plain ? NOT_A_PLAIN_NAME.test(name) : !quoted(ev) || name === '__proto__') return undefined;
      parent.key = plain ? { name, at: ev.valueStart, end: ev.valueEnd } : { name, at: ev.valueStart - 1, end: ev.valueEnd + 1 };
      continue;
    }
    const path = parent.node.map ? [...parent.path, parent.key!.name] : parent.node.seq ? [...parent.path, parent.node.seq.length] : parent.path;
    let node: Located;
    if (ev.type === EVENT_ID.SCALAR) {
      if (ev.tagStart >= 0) {
        if (text.slice(ev.tagStart, ev.tagEnd) !== '!secret') return undefined;
        secretPaths.push(path);
      }
      const at = scalarAt(text, ev, parent.key?.end);
      if (at === undefined) return undefined;
      node = { at };
    } else {
      if (ev.tagStart >= 0) return undefined;
      node = ev.type === EVENT_ID.MAPPING ? { at: ev.start, map: new Map() } : { at: ev.start, seq: [] };
    }
    if (parent.node.map) {
      parent.node.map.set(parent.key!.name, { key: parent.key!.at, value: node });
      parent.key = undefined;
    } else if (parent.node.seq) parent.node.seq.push(node);
    else if (root) return undefined;
    else root = node;
    if (node.map || node.seq) stack.push({ node, path });
  }
  if (!root?.map) return undefined;
  let value: unknown;
  try {
    value = constructFromEvents(events, { source: text, schema, maxAliases: 0 })[0];
  } catch {
    return undefined; // duplicate keys and the like: `yaml` says it its way
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return { value: value as Record<string, unknown>, root, secretPaths };
}

function quoted(ev: ScalarEvent): boolean {
  return ev.style === SCALAR_STYLE.SINGLE_QUOTED || ev.style === SCALAR_STYLE.DOUBLE_QUOTED;
}

/**
 * Where `yaml` puts a scalar: at its first character, the opening quote, the block indicator
 * (`|`, `>`); an empty value after its `:` and the blanks that follow. `keyEnd`: where the key of
 * a mapping value ends. Undefined where this is not known (an empty list item, a tagged empty value).
 */
function scalarAt(text: string, ev: ScalarEvent, keyEnd: number | undefined): number | undefined {
  if (ev.valueStart < 0) {
    if (keyEnd === undefined || ev.tagStart >= 0 || ev.anchorStart >= 0) return undefined;
    let i = keyEnd;
    while (text[i] === ' ' || text[i] === '\t') i++;
    if (text[i] !== ':') return undefined;
    i++;
    while (text[i] === ' ') i++;
    return i;
  }
  if (quoted(ev)) return ev.valueStart - 1;
  if (ev.style === SCALAR_STYLE.LITERAL_BLOCK || ev.style === SCALAR_STYLE.FOLDED_BLOCK) {
    // The content starts on the line after the header (`| # comment`, `>-2`, ...).
    const headerEnd = ev.valueStart - 1;
    const header = text.slice(text.lastIndexOf('\n', headerEnd - 1) + 1, headerEnd);
    const m = /(?:^|[ \t])([|>])[0-9+-]{0,2}[ \t]*(?:#.*)?\r?$/.exec(header);
    if (!m) return undefined;
    return headerEnd - header.length + m.index + m[0].indexOf(m[1]!);
  }
  return ev.valueStart;
}

/** 1-based line and column of each offset, as `yaml`'s LineCounter counts them. */
export function lineCounter(text: string): (offset: number) => { line: number; col: number } {
  let starts: number[] | undefined;
  return (offset) => {
    if (!starts) {
      starts = [0];
      for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    }
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - starts[lo]! + 1 };
  };
}
