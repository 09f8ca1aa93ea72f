// The lab registry's content: images tagged like the ones RKE and Rancher pull, each a tiny busybox
// rootfs, written straight into the storage layout of the Docker registry (distribution v2,
// registry/storage/paths.go) before the registry starts. Nothing comes from the internet and no
// Docker daemon is needed on the registry side; `docker pull` on a node checks every digest.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { must } from './sys.js';

export const LAB_IMAGES = ['rancher/rancher:v2.0.6', 'rancher/rke-tools:v0.1.96'];
const BUSYBOX = '/usr/bin/busybox';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export interface BuiltImage { name: string; tag: string; digest: string }

/** The layer tarball: /bin/busybox and /bin/sh, owned by root, fixed mtime (same bytes every time). */
async function rootfsLayer(tmp: string): Promise<Buffer> {
  const root = join(tmp, 'rootfs');
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
  chmodSync(join(root, 'bin', 'busybox'), 0o755);
  symlinkSync('busybox', join(root, 'bin', 'sh'));
  const tar = join(tmp, 'layer.tar');
  await must('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', root, '-cf', tar, 'bin']);
  return readFileSync(tar);
}

/**
 * Write the images into `storage` (the registry's filesystem rootdirectory). Blobs are
 * content-addressed; repositories link to them (_layers, _manifests/revisions, tags/<t>/current).
 */
export async function writeRegistryImages(storage: string, images: string[] = LAB_IMAGES): Promise<BuiltImage[]> {
  const tmp = mkdtempSync(join(storage, '..', 'build-'));
  try {
    const tar = await rootfsLayer(tmp);
    const gz = gzipSync(tar);
    const v2 = join(storage, 'docker', 'registry', 'v2');
    const blob = (data: Buffer | string): string => {
      const hex = sha256(data);
      const dir = join(v2, 'blobs', 'sha256', hex.slice(0, 2), hex);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'data'), data);
      return hex;
    };
    const link = (path: string, hex: string) => {
      mkdirSync(path, { recursive: true });
      writeFileSync(join(path, 'link'), `sha256:${hex}`);
    };
    const layerHex = blob(gz);
    const out: BuiltImage[] = [];
    for (const image of images) {
      const [name, tag] = image.split(':') as [string, string];
      // Image config (image-spec config.md); the label keeps each image's digest distinct.
      const config = JSON.stringify({
        architecture: 'amd64', os: 'linux', created: '1970-01-01T00:00:00Z',
        config: { Cmd: ['sh'], Env: ['PATH=/bin'], Labels: { 'io.rancher-play.lab.image': image } },
        rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(tar)}`] },
        history: [{ created: '1970-01-01T00:00:00Z', created_by: 'rancher-play lab: busybox rootfs' }],
      });
      const configHex = blob(config);
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: Buffer.byteLength(config), digest: `sha256:${configHex}` },
        layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: gz.length, digest: `sha256:${layerHex}` }],
      }, null, 3);
      const manifestHex = blob(manifest);
      const repo = join(v2, 'repositories', ...name.split('/'));
      link(join(repo, '_layers', 'sha256', layerHex), layerHex);
      link(join(repo, '_layers', 'sha256', configHex), configHex);
      link(join(repo, '_manifests', 'revisions', 'sha256', manifestHex), manifestHex);
      link(join(repo, '_manifests', 'tags', tag, 'current'), manifestHex);
      link(join(repo, '_manifests', 'tags', tag, 'index', 'sha256', manifestHex), manifestHex);
      out.push({ name, tag, digest: `sha256:${manifestHex}` });
    }
    return out;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The registry's configuration (distribution's configuration.md): TLS, filesystem storage, access log. */
export function registryConfig(o: { address: string; storage: string; cert: string; key: string }): string {
  return [
    '# rancher-play lab: the Docker registry on the lab "internet" (Debian docker-registry)',
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: text',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(o.storage)}`,
    '  maintenance:',
    '    uploadpurging: { enabled: false }',
    'http:',
    `  addr: ${o.address}:443`,
    '  tls:',
    `    certificate: ${JSON.stringify(o.cert)}`,
    `    key: ${JSON.stringify(o.key)}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    '',
  ].join('\n');
}
