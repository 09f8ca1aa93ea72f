// Human-readable sizes and rates for transfer progress and results (binary units, as du -h).

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatRate(bytes: number, ms: number): string {
  return `${formatBytes(ms > 0 ? Math.round((bytes * 1000) / ms) : bytes)}/s`;
}

/** `[#####-----] 45.0 MiB / 96.0 MiB  38.2 MiB/s  ETA 2s` */
export function progressBar(done: number, total: number, elapsedMs: number, width = 24): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const fill = Math.round(frac * width);
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const eta = rate > 0 ? Math.ceil((total - done) / rate) : undefined;
  const etaText = done >= total ? 'done' : eta === undefined ? 'ETA --' : `ETA ${eta >= 60 ? `${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, '0')}s` : `${eta}s`}`;
  return `[${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${formatBytes(done)} / ${formatBytes(total)}  ${formatRate(done, elapsedMs)}  ${etaText}`;
}
