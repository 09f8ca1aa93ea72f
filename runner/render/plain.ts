// Plain lines (no TTY, CI, or logs): one line per task result, Ansible-like PLAY RECAP at the end.
import type { HostCounts, RunEvent, Status, TaskEvent } from '../types.js';
import { unifiedDiff } from './diff.js';
import type { RenderOptions, Renderer } from './types.js';

const COLORS: Record<Status, number> = { ok: 32, changed: 33, failed: 31, skipped: 36, unreachable: 35 };

export function paint(text: string, code: number, on: boolean): string {
  return on ? `\x1b[${code}m${text}\x1b[39m` : text;
}

export function statusWord(ev: TaskEvent, color: boolean): string {
  const word = ev.check && ev.status === 'changed' ? 'changed (check)' : ev.status;
  return paint(word, COLORS[ev.status], color);
}

export function recapLines(hosts: Record<string, HostCounts>, color: boolean): string[] {
  const names = Object.keys(hosts).sort();
  const w = Math.max(4, ...names.map((n) => n.length));
  return names.map((n) => {
    const c = hosts[n]!;
    const f = (k: keyof HostCounts, code: number): string => paint(`${k}=${c[k]}`, c[k] > 0 ? code : 0, color && c[k] > 0);
    return `${n.padEnd(w)} : ${f('ok', 32)}  ${f('changed', 33)}  ${f('failed', 31)}  ${f('skipped', 36)}  ${f('unreachable', 35)}`;
  });
}

export function plainRenderer(opts: RenderOptions): Renderer {
  const write = (line: string): void => void opts.out.write(`${opts.mask(line)}\n`);
  return {
    event(e: RunEvent) {
      switch (e.event) {
        case 'play_start': {
          // Like ansible-playbook, a play with `serial:` shows its header again for each batch.
          const batch = e.batch_count !== undefined ? ` (batch ${e.batch_index! + 1}/${e.batch_count})` : '';
          write(`PLAY [${e.play}] hosts: ${e.hosts.join(', ') || '(none)'}${batch}`);
          break;
        }
        case 'task': {
          const h = e.handler ? ' (handler)' : '';
          const who = e.delegated_to !== undefined ? `${e.host} -> ${e.delegated_to}` : e.host;
          const once = e.run_once ? ' (run once)' : '';
          write(`[${e.play}] ${e.task}${h} | ${who}: ${statusWord(e, opts.color)}${once}${e.msg ? ` — ${e.msg}` : ''}`);
          for (const w of e.warnings ?? []) write(`  ${paint('warning', 33, opts.color)}: ${w}`);
          if (opts.diff) for (const d of e.diff ?? []) write(unifiedDiff(d, opts.color).replace(/^/gm, '  '));
          break;
        }
        case 'play_stopped':
          write(`[${e.play}] NO MORE HOSTS LEFT — ${e.msg}`);
          break;
        case 'log':
          if (opts.verbose) write(`  ${e.host} | ${e.line}`);
          break;
        case 'recap':
          write('');
          write('PLAY RECAP');
          for (const l of recapLines(e.hosts, opts.color)) write(l);
          break;
        default:
          break;
      }
    },
    async end() {},
  };
}
