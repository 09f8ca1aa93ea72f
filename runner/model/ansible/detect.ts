// Tells an Ansible inventory (INI or YAML) from a native one, and INI from YAML.
import { extname } from 'node:path';
import { parseDocument } from 'yaml';

/**
 * True when `text` is an Ansible inventory rather than a native one. Native documents have the
 * top-level keys `hosts`/`groups`/`defaults`/`jump_hosts`/`vars`; Ansible YAML has `all:` or
 * group mappings carrying `hosts:`/`children:`; INI has `[section]` headers or bare host lines.
 */
export function isAnsibleInventory(text: string, file = ''): boolean {
  if (/\.(ini|cfg)$/i.test(file) || /^#!/.test(text)) return true;
  if (/^\s*\[[^\]\n]+\]\s*$/m.test(text) && !/^\s*[\w.-]+\s*:(\s|$)/m.test(stripComments(text))) return true;
  const plain = plainTopKeys(text);
  if (plain && !plain.includes('all') && !plain.includes('plugin') && plain.some((k) => k === 'defaults' || k === 'jump_hosts' || k === 'groups')) {
    return false; // a native inventory, told without parsing it (the loader parses it next)
  }
  let parsed: unknown;
  try {
    parsed = parseDocument(text).toJS();
  } catch {
    return false;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    // A plain string document is how YAML reads an INI file of bare host lines.
    return typeof parsed === 'string' && !/:\s/.test(parsed);
  }
  const top = parsed as Record<string, unknown>;
  const keys = Object.keys(top);
  if (keys.length === 0) return false;
  if ('all' in top) return true;
  if ('defaults' in top || 'jump_hosts' in top || 'groups' in top) return false;
  if ('plugin' in top) return true; // an inventory-plugin config: refused later with a message
  // Native `hosts:` maps names to entries; Ansible top-level keys are groups holding hosts/children/vars.
  return keys.every((k) => {
    const g = top[k];
    if (g === null) return k !== 'hosts' && k !== 'vars';
    if (typeof g !== 'object' || Array.isArray(g)) return false;
    const gk = Object.keys(g as object);
    return gk.length > 0 && gk.every((x) => x === 'hosts' || x === 'children' || x === 'vars');
  });
}

/**
 * Which reader ansible-inventory tries first: the yaml plugin takes `.yml`/`.yaml`/`.json` and
 * names without an extension (and hands what it cannot read on to INI); every other name is INI.
 */
export function ansibleFormat(file: string): 'ini' | 'yaml' {
  const ext = extname(file).toLowerCase();
  return ext === '' || ext === '.yml' || ext === '.yaml' || ext === '.json' ? 'yaml' : 'ini';
}

/**
 * The top-level keys when the document is a plain block mapping whose every line at column 0 is
 * `key:` with a plain key (else undefined: quoted or complex keys, flow style, directives or
 * several documents are left to the YAML parser).
 */
function plainTopKeys(text: string): string[] | undefined {
  const keys: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === '' || /^[ \t]/.test(l) || l.startsWith('#') || (i === 0 && /^---\s*$/.test(l))) continue;
    const m = /^([A-Za-z_][\w.-]*)[ \t]*:(?:[ \t]|$)/.exec(l);
    if (!m) return undefined;
    keys.push(m[1]!);
  }
  return keys;
}

function stripComments(text: string): string {
  return text.split('\n').filter((l) => !/^\s*[#;]/.test(l)).join('\n');
}
