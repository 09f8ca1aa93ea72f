// `stat`: the benchmark's stat-like probe (Ansible's `stat` module), written as a custom task so
// the benchmark also pays what a real user pays for one: loading it with no build step.
// One read-only round trip; registers exists/size/mode/owner like Ansible's `stat.*` facts.
import { defineTask } from 'rancher-play';

export default defineTask({
  id: 'stat',
  summary: 'Report whether a path exists, with its type, size, mode and owner (read-only)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: { path: { type: 'string', description: 'Path on the target.' } },
  },
  async probe(ctx, p) {
    // %F type, %s size, %a octal mode, %U owner; exit 1 (and no output) when the path is missing.
    const r = await ctx.run(`stat -c '%F|%s|%a|%U' -- ${ctx.quote(p.path)} 2>/dev/null`);
    if (r.code !== 0) return { changed: false, msg: `${p.path} absent`, data: { exists: false } };
    const [type = '', size = '0', mode = '', owner = ''] = r.stdout.trim().split('|');
    return {
      changed: false,
      msg: `${p.path}: ${type}, ${size} bytes, mode ${mode}, owner ${owner}`,
      data: { exists: true, isdir: type === 'directory', size: Number(size), mode: mode.padStart(4, '0'), owner },
    };
  },
});
