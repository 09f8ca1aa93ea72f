#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through `prepare`).
import { runFromProcess } from '../dist/runner/cli/index.js';
runFromProcess();
