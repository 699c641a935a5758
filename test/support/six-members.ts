/**
 * One fresh member of each of the six kinds, for mixed-array tests that run the real CLI:
 * file (a local directory), s3 (Swift's S3 API), swift (native API, pkgcloud), azure (Azurite),
 * sftp (OpenSSH), webdav+http (lighttpd). Every network member is reached through its own
 * `tcpRelay`, so a test can "stop that member's server" (the relay) without disturbing other tests
 * using the shared servers; the file member is "stopped" by moving its directory away.
 *
 * Terms: a member's `stop()` makes it unreachable (connection refused / directory gone) and
 * `start()` brings it back unchanged; `env` holds every credential the six URLs need, as a user
 * would export them; `close()` stops the relays and deletes every bucket, container and directory.
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { fingerprintOf } from '../../src/providers/sftp-host-key.js';
import { tempDir } from './cli.js';
import { hideDir } from './damage.js';
import { azuriteServer, hostPort, sftpServer, swiftServer, tcpRelay, uniqueName, webdavServer, type TcpRelay } from './servers.js';

// As bin/run.js does: the SDK's warning about its future Node support is noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export type MemberKind = 'file' | 's3' | 'swift' | 'azure' | 'sftp' | 'webdav';

export interface SixMember {
  kind: MemberKind;
  /** The member URL as it goes into `raic init` (no secret in it). */
  url: string;
  /** The member URL without its query (what an error message names at the least). */
  baseUrl: string;
  /** Where its objects live on this machine, when they do (file, sftp, webdav). */
  localRoot?: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  isStopped(): boolean;
}

export interface SixMembers {
  /** In share order: file, s3, swift, azure, sftp, webdav. */
  members: SixMember[];
  urls: string[];
  env: Record<string, string | undefined>;
  byKind(kind: MemberKind): SixMember;
  close(): Promise<void>;
}

/** Every member up again (a test that stopped some must not leave them stopped for the next one). */
export async function startAll(six: SixMembers): Promise<void> {
  for (const m of six.members) await m.start();
}

function relayed(kind: MemberKind, url: string, relay: TcpRelay, localRoot?: string): SixMember {
  let stopped = false;
  return {
    kind,
    url,
    baseUrl: url.split('?')[0]!,
    ...(localRoot !== undefined ? { localRoot } : {}),
    async stop() {
      stopped = true;
      await relay.stop();
    },
    async start() {
      stopped = false;
      await relay.start();
    },
    isStopped: () => stopped,
  };
}

export async function sixMembers(label = 'six'): Promise<SixMembers> {
  const [swift, azurite, sftp, webdav] = await Promise.all([swiftServer(), azuriteServer(), sftpServer(), webdavServer()]);
  const names = { s3: uniqueName(`raic-${label}-s3`), swift: uniqueName(`raic-${label}-swift`), azure: uniqueName(`raic-${label}-azure`), sftp: uniqueName(`raic-${label}-sftp`), webdav: uniqueName(`raic-${label}-webdav`) };
  const relays = {
    s3: await tcpRelay(hostPort(swift.s3.endpoint)),
    swift: await tcpRelay(hostPort(swift.endpoint)),
    azure: await tcpRelay(hostPort(azurite.blobEndpoint)),
    sftp: await tcpRelay({ host: sftp.host, port: sftp.port }),
    webdav: await tcpRelay(hostPort(webdav.url)),
  };

  // The server script keeps the SFTP host key beside the user key; pin it in the URL.
  const hostKeyLine = readFileSync(path.join(path.dirname(sftp.privateKeyPath), 'ssh_host_ed25519_key.pub'), 'utf8');
  const fingerprint = fingerprintOf(Buffer.from(hostKeyLine.split(/\s+/)[1]!, 'base64'));

  const scratch = await tempDir(`${label}-file`);
  const fileDir = path.join(scratch, 'member');
  let restoreFile: (() => Promise<void>) | null = null;
  const file: SixMember = {
    kind: 'file',
    url: `file://${fileDir}`,
    baseUrl: `file://${fileDir}`,
    localRoot: fileDir,
    async stop() {
      restoreFile ??= await hideDir(fileDir);
    },
    async start() {
      const back = restoreFile;
      restoreFile = null;
      if (back) await back();
    },
    isStopped: () => restoreFile !== null,
  };

  // Swift's tempauth builds the storage URL from the Host header, so object requests go through the relay too.
  const azurePath = new URL(azurite.blobEndpoint).pathname;
  const sftpDir = path.join(sftp.root, names.sftp);
  const webdavDir = path.join(webdav.root, names.webdav);
  const members: SixMember[] = [
    file,
    relayed('s3', `s3://${names.s3}/raic?endpoint=${relays.s3.url}&region=${swift.s3.region}`, relays.s3),
    relayed('swift', `swift://${names.swift}/raic?auth=${relays.swift.url}/auth/v1.0`, relays.swift),
    relayed('azure', `azure://${azurite.accountName}/${names.azure}/raic?endpoint=${relays.azure.url}${azurePath}`, relays.azure),
    relayed('sftp', `sftp://${sftp.username}@127.0.0.1:${relays.sftp.port}${sftpDir}/raic?fingerprint=${fingerprint}`, relays.sftp, path.join(sftpDir, 'raic')),
    relayed('webdav', `webdav+http://127.0.0.1:${relays.webdav.port}/${names.webdav}/raic`, relays.webdav, path.join(webdavDir, 'raic')),
  ];
  const env: Record<string, string | undefined> = {
    AWS_ACCESS_KEY_ID: swift.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: swift.s3.secretAccessKey,
    AWS_REGION: swift.s3.region,
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_PROFILE: undefined,
    SWIFT_USERNAME: swift.swift.username,
    SWIFT_PASSWORD: swift.swift.key,
    AZURE_STORAGE_KEY: azurite.accountKey,
    AZURE_STORAGE_SAS_TOKEN: undefined,
    AZURE_STORAGE_CONNECTION_STRING: undefined,
    SFTP_KEY_FILE: sftp.privateKeyPath,
    SSH_AUTH_SOCK: undefined,
    WEBDAV_USERNAME: webdav.username,
    WEBDAV_PASSWORD: webdav.password,
  };

  const close = async (): Promise<void> => {
    await file.start();
    for (const r of Object.values(relays)) await r.close();
    // S3 buckets and Swift containers are one namespace on this server (same account).
    const s3 = new S3Client({
      endpoint: swift.s3.endpoint,
      region: swift.s3.region,
      credentials: { accessKeyId: swift.s3.accessKeyId, secretAccessKey: swift.s3.secretAccessKey },
      forcePathStyle: true,
    });
    for (const bucket of [names.s3, names.swift]) await emptyAndDeleteBucket(s3, bucket).catch(() => undefined);
    s3.destroy();
    const container = new ContainerClient(`${azurite.blobEndpoint}/${names.azure}`, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey));
    await container.deleteIfExists().catch(() => undefined);
    for (const dir of [scratch, sftpDir, webdavDir]) await rm(dir, { recursive: true, force: true });
  };

  return {
    members,
    urls: members.map((m) => m.url),
    env,
    byKind(kind) {
      const m = members.find((x) => x.kind === kind);
      if (!m) throw new Error(`no ${kind} member`);
      return m;
    },
    close,
  };
}

async function emptyAndDeleteBucket(s3: S3Client, bucket: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    await Promise.all((page.Contents ?? []).map((o) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! }))));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}
