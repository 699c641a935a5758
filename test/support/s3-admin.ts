/** Direct S3 access for tests that inspect or damage what raic stored in a bucket (bypassing raic). */
import { DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Account } from './servers.js';

export class S3Admin {
  private readonly client: S3Client;

  constructor(account: S3Account) {
    this.client = new S3Client({
      endpoint: account.endpoint,
      region: account.region,
      credentials: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async keys(bucket: string, prefix = ''): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key) out.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }

  async get(bucket: string, key: string): Promise<Buffer> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  }

  async put(bucket: string, key: string, body: Buffer): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  }

  async deleteAll(bucket: string, prefix = ''): Promise<void> {
    for (const key of await this.keys(bucket, prefix)) await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }

  /** Empties a bucket (eight deletes at a time) and deletes it; a bucket that does not exist is fine. */
  async deleteBucket(bucket: string): Promise<void> {
    let keys: string[];
    try {
      keys = await this.keys(bucket);
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchBucket') return;
      throw err;
    }
    for (let i = 0; i < keys.length; i += 8) {
      await Promise.all(keys.slice(i, i + 8).map((key) => this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))));
    }
    await this.client.send(new DeleteBucketCommand({ Bucket: bucket }));
  }

  close(): void {
    this.client.destroy();
  }
}
