// Reads an Ansible inventory (INI or YAML) as ansible-inventory does and maps it onto
// rancher-play's native inventory document, so the model loader resolves and validates both
// formats with one code path. Anything we cannot map faithfully is refused with file:line:column.
// The jobs live beside this file: detect, ini, yaml (readers), model (Ansible's data model),
// literal/shlex/address (Python behaviour the readers depend on), sshargs and map.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError, formatProblem } from '../../errors.js';
import type { InputProblem } from '../../errors.js';
import type { SourcePos } from '../../types.js';
import { MAX_YAML_BYTES } from '../yamlsrc.js';
import type { YamlPath, YamlSource } from '../yamlsrc.js';
import { ansibleFormat, isAnsibleInventory } from './detect.js';
import { parseIni } from './ini.js';
import { parseYaml } from './yaml.js';
import { AInventory } from './model.js';
import { toNative, type NativeInventoryDoc } from './map.js';

export { isAnsibleInventory } from './detect.js';
export { expandHostPattern, parseAddress } from './address.js';
export { iniValue } from './literal.js';
export { jumpFromSshArgs, sshArgsMeaning } from './sshargs.js';
export type { NativeInventoryDoc } from './map.js';

export interface ConvertedInventory {
  doc: NativeInventoryDoc;
  /** Source positions in the Ansible file, keyed by the native dotted path (`hosts.node1.address`). */
  positions: Map<string, SourcePos>;
  format: 'ini' | 'yaml';
  /** Each group's child groups and own hosts, in Ansible's order (for `--graph`). */
  tree: GroupTree;
}

export type GroupTree = Map<string, { children: string[]; hosts: string[] }>;

const trees = new WeakMap<YamlSource, GroupTree>();

/** The group tree of an inventory read from an Ansible file (undefined for a native one). */
export function ansibleGroupTree(src: YamlSource | undefined): GroupTree | undefined {
  return src ? trees.get(src) : undefined;
}

/**
 * Convert an Ansible inventory's text. Throws InputError (exit 5) listing every construct we
 * cannot map, each with file:line:column.
 */
export function convertAnsibleInventory(text: string, file: string): ConvertedInventory {
  const at1 = { file, line: 1, col: 1 };
  if (/^#!/.test(text)) {
    throw new InputError([{ pos: at1, message: 'dynamic inventory scripts are not supported; export a static inventory with `ansible-inventory -i SCRIPT --list --yaml > inventory.yml`' }]);
  }
  if (/^\$ANSIBLE_VAULT/.test(text)) {
    throw new InputError([{ pos: at1, message: 'vault-encrypted inventories are not supported; decrypt it (`ansible-vault view`) into a file readable by rancher-play' }]);
  }
  let inv = new AInventory(file);
  let format = ansibleFormat(file);
  if (format === 'ini') parseIni(text, inv);
  else if (!parseYaml(text, inv)) {
    // The yaml plugin gave up on the file; ansible-inventory then tries the INI reader.
    const asIni = new AInventory(file);
    parseIni(text, asIni);
    if (asIni.problems.length) inv.problems.push(...asIni.problems);
    else [inv, format] = [asIni, 'ini'];
  }
  // Map even after reading problems, so one pass reports everything that needs fixing.
  inv.reconcile();
  const { doc, positions } = toNative(inv);
  if (inv.problems.length) throw new InputError(unique(inv.problems));
  const tree: GroupTree = new Map([...inv.groups.values()].map((g) => [g.name, { children: [...g.children], hosts: [...g.hosts] }]));
  return { doc, positions, format, tree };
}

function unique(problems: InputProblem[]): InputProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = formatProblem(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Convert an Ansible inventory file from disk. */
export function loadAnsibleInventory(file: string): ConvertedInventory {
  return convertAnsibleInventory(readFileSync(file, 'utf8'), file);
}

/**
 * The hook the inventory loader calls first: when `file` holds an Ansible inventory, its
 * native equivalent as a YamlSource (positions point into the Ansible file); otherwise
 * undefined, and the native YAML loader takes over (and reports unreadable files itself).
 */
export function ansibleInventorySource(file: string): YamlSource | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    return undefined;
  }
  if (buf.length > MAX_YAML_BYTES || buf.includes(0)) return undefined;
  const text = buf.toString('utf8').replace(/^\uFEFF/, '');
  if (!isAnsibleInventory(text, file)) return undefined;
  // Ansible also reads group_vars/ and host_vars/ beside the inventory; we would silently miss them.
  const beside = ['group_vars', 'host_vars'].filter((d) => existsSync(join(dirname(file), d)));
  if (beside.length) {
    throw new InputError(beside.map((d) => ({ pos: { file, line: 1, col: 1 }, key: d,
      message: `${d}/ beside the inventory is not read by rancher-play; move those variables into the inventory (or export it with \`ansible-inventory -i ${file} --list --yaml\`)` })));
  }
  const { doc, positions, tree } = convertAnsibleInventory(text, file);
  const fallback: SourcePos = { file, line: 1, col: 1 };
  const locate = (path: YamlPath): SourcePos => {
    for (let n = path.length; n > 0; n--) {
      const p = positions.get(path.slice(0, n).join('.'));
      if (p) return p;
    }
    return fallback;
  };
  const src: YamlSource = { file, value: doc, posOf: locate, valuePosOf: locate, secretPaths: [] };
  trees.set(src, tree);
  return src;
}
