// Package entry (`import { defineTask } from 'rancher-play'`): the whole task SDK. The built-in
// tasks import only this (and each other), so everything they use is available to custom tasks.
export { defineTask, defineFact } from '../task.js';
export type {
  TaskDefinition, TaskContext, Probe, Applied, ExecOptions, ExecResult, WriteOptions, PrecheckContext,
  FromSchema, JSONSchema, TaskSpec, ParamsOf, AnyTask, Fact, KubeApi, KubeApiOptions,
} from '../task.js';
export type { FileDiff, TaskResult, Status, Vars } from '../types.js';

// Config files: strict Handlebars (a missing name fails instead of rendering empty).
export { renderTemplate, TemplateError } from '../model/template.js';
// Templates shipped with rancher-play, as the one-file bundle carries them.
export { embeddedTemplate } from '../engine/embedded.js';
// HTTP(S) from the controller, through HTTP(S)_PROXY unless NO_PROXY says otherwise.
export { httpGet, HttpGetError, redactProxy, type HttpGetOptions, type HttpGetResult } from './proxy.js';
// Inventory groups as a task sees them through its vars.
export { groupHosts, type GroupHost } from '../model/vars.js';
// Shell quoting (also `ctx.quote`) and user-written paths.
export { shQuote } from '../quote.js';
// Host names and addresses safe to connect to or to put on a command line.
export { hostProblem, isHostAddress } from '../hostname.js';
export { expandHome } from '../paths.js';
export { renderString } from '../model/template.js';
// YAML a task reads, with the limits of the inventory loader (size, alias bombs).
export { yamlDocuments, yamlValue } from '../model/yamlsrc.js';
export { MASK } from '../model/vars.js';
export { formatBytes, formatRate } from '../render/bytes.js';
