// Shell-style `*` / `?` patterns (host patterns, task names, ssh_config patterns) as a RegExp.
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}
