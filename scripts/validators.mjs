#!/usr/bin/env node
// Build step after tsc: ajv "standalone" validators for the schemas every run uses (inventory,
// playbook structure, built-in task params, and the vars_schema of the shipped playbooks), written to dist/runner/model/validators.cjs and found at
// run time by each schema's content key. Start-up then neither loads ajv nor compiles; a schema
// that changed since this ran is compiled at run time as before.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const require = createRequire(join(root, 'package.json'));
const { Ajv } = require('ajv');
const addFormats = require('ajv-formats');
const standaloneCode = require('ajv/dist/standalone').default;
const { parse } = require('yaml');

const schema = await import(pathToFileURL(join(dist, 'runner', 'model', 'schema.js')).href);
const { builtinTasks } = await import(pathToFileURL(join(dist, 'tasks', 'index.js')).href);

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
const out = join(dist, 'runner', 'model', 'validators.cjs');
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.tmp-${process.pid}`;
writeFileSync(tmp, code);
renameSync(tmp, out);
console.log(`validators: ${Object.keys(keys).length} schemas → ${out.slice(root.length + 1)} (${(code.length / 1024).toFixed(0)} KiB)`);
