/**
 * Pure parsing of an S3 member URL:
 * `s3://bucket/prefix?endpoint=http://127.0.0.1:18080&region=us-east-1&path-style=true&profile=name`.
 * No credentials ever go in the URL (they come from the AWS environment variables or profiles).
 */
import { RaicError } from '../errors.js';

export interface S3Config {
  bucket: string;
  /** Key prefix inside the bucket: '' or ending in '/'. */
  prefix: string;
  /** S3-compatible endpoint (scheme://host[:port][/path], no trailing slash); absent for AWS itself. */
  endpoint?: string;
  /** Absent: taken from AWS_REGION / AWS_DEFAULT_REGION, else us-east-1. */
  region?: string;
  /** Bucket in the path rather than the host name. Default: true with a custom endpoint
   * (what S3-compatible servers expect), false for AWS. */
  forcePathStyle: boolean;
  /** Shared config/credentials profile to use instead of the default chain. */
  profile?: string;
  /** `s3://bucket/prefix`: safe to print (no query, no secret). */
  displayUrl: string;
}

const PARAMS = ['endpoint', 'region', 'path-style', 'profile'] as const;
/** S3's bucket naming rule, which every compatible server accepts. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_SEGMENT = /^[A-Za-z0-9._-]+$/;
const REGION = /^[a-z0-9-]+$/;

function usage(url: URL, problem: string, hint?: string): RaicError {
  return new RaicError('Usage', `bad S3 URL ${JSON.stringify(url.href)}: ${problem}`, {
    hint: hint ?? 'write s3://bucket[/prefix][?endpoint=http://host:port&region=us-east-1&path-style=true]',
  });
}

function parseBool(url: URL, name: string, value: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw usage(url, `${name} must be true or false, not ${JSON.stringify(value)}`);
}

export function parseS3Url(url: URL): S3Config {
  if (url.protocol !== 's3:') throw usage(url, 'the scheme must be s3:');
  if (url.username !== '' || url.password !== '') {
    throw usage(url, 'credentials do not belong in the URL', 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE');
  }
  if (url.port !== '') throw usage(url, 'a port belongs in ?endpoint=, not after the bucket');
  if (url.hash !== '') throw usage(url, 'no #fragment allowed');
  const bucket = url.hostname;
  if (!BUCKET.test(bucket)) {
    throw usage(url, `${JSON.stringify(bucket)} is not a bucket name (3-63 characters of a-z 0-9 . -)`);
  }

  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    throw usage(url, 'the prefix is not valid percent-encoding');
  }
  const segments = path.split('/').filter((s) => s !== '');
  for (const s of segments) {
    if (s === '.' || s === '..' || !PREFIX_SEGMENT.test(s)) throw usage(url, `bad prefix segment ${JSON.stringify(s)}`);
  }
  const prefix = segments.length === 0 ? '' : `${segments.join('/')}/`;

  const seen = new Set<string>();
  for (const name of url.searchParams.keys()) {
    if (!(PARAMS as readonly string[]).includes(name)) {
      throw usage(url, `unknown parameter ${JSON.stringify(name)} (known: ${PARAMS.join(', ')})`);
    }
    if (seen.has(name)) throw usage(url, `parameter ${name} given twice`);
    seen.add(name);
  }
  const q = (name: (typeof PARAMS)[number]) => url.searchParams.get(name) ?? undefined;

  let endpoint: string | undefined;
  const rawEndpoint = q('endpoint');
  if (rawEndpoint !== undefined) {
    let ep: URL;
    try {
      ep = new URL(rawEndpoint);
    } catch {
      throw usage(url, `endpoint ${JSON.stringify(rawEndpoint)} is not a URL`);
    }
    if (ep.protocol !== 'http:' && ep.protocol !== 'https:') throw usage(url, 'endpoint must be an http:// or https:// URL');
    if (ep.username !== '' || ep.password !== '') throw usage(url, 'credentials do not belong in the endpoint URL');
    if (ep.search !== '' || ep.hash !== '') throw usage(url, 'endpoint takes no query or fragment');
    endpoint = `${ep.protocol}//${ep.host}${ep.pathname.replace(/\/+$/, '')}`;
  }

  const region = q('region');
  if (region !== undefined && !REGION.test(region)) throw usage(url, `${JSON.stringify(region)} is not a region name`);
  const pathStyle = q('path-style');
  const profile = q('profile');
  if (profile !== undefined && profile === '') throw usage(url, 'profile is empty');

  return {
    bucket,
    prefix,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(region === undefined ? {} : { region }),
    forcePathStyle: pathStyle === undefined ? endpoint !== undefined : parseBool(url, 'path-style', pathStyle),
    ...(profile === undefined ? {} : { profile }),
    displayUrl: `s3://${bucket}${prefix === '' ? '' : `/${prefix.slice(0, -1)}`}`,
  };
}
