// Task registry: task id → definition, remembering where each came from so that a custom task
// that reuses a built-in id is reported instead of silently replacing it.
import type { AnyTask } from '../task.js';

export class Registry {
  private readonly tasks = new Map<string, { task: AnyTask; source: string }>();

  add(task: AnyTask, source: string): void {
    const prev = this.tasks.get(task.id);
    if (prev) {
      const builtin = prev.source === 'builtin' || prev.source.startsWith('builtin');
      throw new Error(
        builtin
          ? `task "${task.id}" in ${source} shadows the built-in task of the same id; rename it`
          : `task "${task.id}" is defined twice: in ${prev.source} and in ${source}`,
      );
    }
    this.tasks.set(task.id, { task, source });
  }

  get(id: string): AnyTask | undefined {
    return this.tasks.get(id)?.task;
  }

  source(id: string): string | undefined {
    return this.tasks.get(id)?.source;
  }

  list(): AnyTask[] {
    return [...this.tasks.values()].map((e) => e.task).sort((a, b) => a.id.localeCompare(b.id));
  }

  ids(): string[] {
    return this.list().map((t) => t.id);
  }
}
