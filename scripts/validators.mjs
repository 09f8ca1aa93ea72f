#!/usr/bin/env node
// Build step after tsc: ajv "standalone" validators for the schemas every run uses (inventory,
// playbook structure, built-in task params, and the vars_schema of the shipped playbooks),
// written beside the compiled schema module (dist/runner/validators.cjs) and found at run time by each schema's content key.
// Start-up then neither loads ajv nor compiles; a schema that changed since this ran is
// compiled at run time as before. scripts/bundle.mjs embeds the same code in the bundle.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

/** The source folder of the schema module (runner/model/ once the runner is split in folders,
 * runner/ before); the validators are written beside its compiled form. */
export const schemaDir = ['runner/model', 'runner'].find((d) => existsSync(join(root, d, 'schema.ts'))) ?? 'runner';

/**
 * The validators module (CommonJS source) for the given schema module (runner/schema) and
 * built-in tasks, as loaded from dist/ or from the sources: the content keys are computed here
 * from the very schema objects the program will look them up with.
 */
export function validatorsCode(schema, builtinTasks) {
  const { Ajv } = require('ajv');
  const addFormats = require('ajv-formats');
  const standaloneCode = require('ajv/dist/standalone').default;
  const { parse } = require('yaml');
  const ajv = new Ajv({ ...schema.AJV_OPTIONS, code: { source: true } });
  (addFormats.default ?? addFormats)(ajv);
  const names = {};
  const keys = {};
  const shipped = readdirSync(join(root, 'playbooks')).filter((f) => /\.ya?ml$/.test(f)).sort()
    .map((f) => parse(readFileSync(join(root, 'playbooks', f), 'utf8'))?.vars_schema)
    .filter((v) => v && typeof v === 'object' && !Array.isArray(v));
  [...schema.builtinSchemas(builtinTasks), ...shipped].forEach((s, i) => {
    const key = schema.schemaKey(s);
    if (Object.values(keys).includes(key)) return;
    const copy = schema.stripUndefined(s);
    // Ids would clash between registrations; validation does not depend on them.
    delete copy.$id;
    delete copy.$schema;
    ajv.addSchema(copy, `rp:${i}`);
    names[`v${i}`] = `rp:${i}`;
    keys[`v${i}`] = key;
  });
  let code = standaloneCode(ajv, names);
  code += `\nexports.byKey = {${Object.entries(keys).map(([n, k]) => `${JSON.stringify(k)}: exports.${n}`).join(', ')}};\n`;
  return { code, count: Object.keys(keys).length };
}

/** Writes beside the target, then renames (never half a file). */
export function writeAtomic(out, text) {
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, out);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dist = join(root, 'dist');
  const schema = await import(pathToFileURL(join(dist, schemaDir, 'schema.js')).href);
  const { builtinTasks } = await import(pathToFileURL(join(dist, 'tasks', 'index.js')).href);
  const { code, count } = validatorsCode(schema, builtinTasks);
  const out = join(dist, schemaDir, 'validators.cjs');
  writeAtomic(out, code);
  console.log(`validators: ${count} schemas → ${out.slice(root.length + 1)} (${(code.length / 1024).toFixed(0)} KiB)`);
}
