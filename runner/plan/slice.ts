// --slice K/N: run only one of N disjoint parts of the hosts, so an engine the user already runs
// (a Kubernetes Indexed Job, a CI matrix) can fan one playbook out over several controllers.
// The parts are fixed by the inventory and --limit alone: the hosts they select, sorted by name,
// dealt round-robin (host i of the sorted list is in slice i mod N + 1). Every host is in exactly
// one slice, slices differ in size by at most one host, and the playbook does not move a host.

export interface Slice {
  /** 1-based: 1..count. */
  index: number;
  count: number;
}

/** The hosts of `slice` among `universe` (those --limit selects, or all the inventory's), dealt
 * as above. */
export function sliceMembers(universe: string[], slice: Slice): Set<string> {
  const sorted = [...new Set(universe)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return new Set(sorted.filter((_, i) => i % slice.count === slice.index - 1));
}
