// Package entry (`import { defineTask } from 'rancher-play'`).
export { defineTask } from './task.js';
export type {
  TaskDefinition, TaskContext, Probe, Applied, ExecOptions, ExecResult, WriteOptions, PrecheckContext,
  FromSchema, JSONSchema, TaskSpec, ParamsOf,
} from './task.js';
export type { FileDiff, TaskResult, Status, Vars } from './types.js';
