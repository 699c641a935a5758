/**
 * `raic config show` on a real array's config: shape and members in share order, secrets planted in
 * member URLs masked, credential variables reported as set or not — never their values — and no
 * passphrase needed. Then the masking rules on their own, and the README naming every variable.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { credentialVariables, maskUrl, type ConfigView } from '../../src/core/config-show.js';
import { supportedSchemes } from '../../src/providers/index.js';
import { localArray, oneCleanErrorLine, type ArrayFixture } from '../support/array-fixture.js';
import { repoRoot, runRaic } from '../support/cli.js';

/** Values planted in URLs and in the environment: none may ever reach stdout or stderr. */
const PLANTED = {
  userinfo: 'PLANTED-USERINFO-PW',
  sig: 'PLANTED-SAS-SIG',
  amz: 'PLANTED-AMZ-SIGNATURE',
  nested: 'PLANTED-NESTED-PW',
};
const MARKERS = {
  AWS_ACCESS_KEY_ID: 'MARKER-AKID-1f3a',
  AWS_SECRET_ACCESS_KEY: 'MARKER-AWS-SECRET-9c2e',
  AZURE_STORAGE_KEY: 'MARKER-AZURE-KEY-77d0',
  WEBDAV_PASSWORD: 'MARKER-WEBDAV-PW-41b8',
  SFTP_PASSWORD: 'MARKER-SFTP-PW-0e6c',
};

/** The environment of each run: every credential variable unset (whatever the test runner has), then the markers. */
const cleanEnv = (extra: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
  ...Object.fromEntries(supportedSchemes().flatMap((s) => credentialVariables(s)).map((name) => [name, undefined])),
  ...MARKERS,
  ...extra,
});

describe('raic config show', () => {
  let a: ArrayFixture;
  let urls: string[];

  before(async () => {
    a = await localArray(2, 4, { label: 'config-show' });
    // A hand-edited config (raic itself refuses secrets in URLs): plant one in each place one could hide.
    const config = JSON.parse(await readFile(a.config, 'utf8')) as { members: string[] };
    config.members[1] = `webdav+http://bob:${PLANTED.userinfo}@127.0.0.1:18082/dav`;
    config.members[2] = `azure://acct/container/p?endpoint=http://127.0.0.1:10000/acct&sv=2022-11-02&sig=${PLANTED.sig}`;
    config.members[3] = `s3://bucket/p?endpoint=http%3A%2F%2Fu%3A${PLANTED.nested}%40127.0.0.1%3A18080&region=us-east-1&X-Amz-Signature=${PLANTED.amz}`;
    await writeFile(a.config, JSON.stringify(config));
    urls = config.members;
  });
  after(() => a.cleanup());

  const noSecrets = (text: string, what: string) => {
    for (const v of [...Object.values(PLANTED), ...Object.values(MARKERS)]) assert.ok(!text.includes(v), `${what} shows ${v}`);
  };

  it('prints path, array, k, n and the members in share order, secrets masked, variables set/not set, never values', async () => {
    const r = await a.raic(['config', 'show'], { env: cleanEnv({ RAIC_PASSWORD: undefined }) });
    assert.equal(r.code, 0, r.stderr);
    noSecrets(r.stdout, 'stdout');
    noSecrets(r.stderr, 'stderr');
    const arrayId = (JSON.parse(await readFile(a.config, 'utf8')) as { arrayId: string }).arrayId;
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], `config:  ${a.config}`);
    assert.equal(lines[1], `array:   ${arrayId}`);
    assert.equal(lines[2], 'shape:   k=2, n=4 (any 2 of the 4 members restore everything)');
    assert.equal(lines[3], 'members (share order):');
    assert.equal(lines[4], `  0  ${urls[0]}`);
    assert.equal(lines[5], '     credentials: none from the environment (file permissions)');
    assert.equal(lines[6], '  1  webdav+http://bob:***@127.0.0.1:18082/dav');
    assert.equal(lines[7], '     set:     WEBDAV_PASSWORD');
    assert.equal(lines[8], '     not set: WEBDAV_USERNAME');
    assert.equal(lines[9], '  2  azure://acct/container/p?endpoint=http://127.0.0.1:10000/acct&sv=2022-11-02&sig=***');
    assert.equal(lines[10], '     set:     AZURE_STORAGE_KEY');
    assert.equal(lines[12], '  3  s3://bucket/p?endpoint=http%3A%2F%2Fu%3A***%40127.0.0.1%3A18080&region=us-east-1&X-Amz-Signature=***');
    assert.equal(lines[13], '     set:     AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY');
  });

  it('--json: the same facts, with each variable as {name, set} and no value anywhere', async () => {
    const r = await a.raic(['config', 'show', '--json'], { env: cleanEnv({ WEBDAV_USERNAME: '' }) });
    assert.equal(r.code, 0, r.stderr);
    noSecrets(r.stdout + r.stderr, '--json output');
    const v = JSON.parse(r.stdout) as ConfigView;
    assert.deepEqual(Object.keys(v).sort(), ['arrayId', 'configPath', 'k', 'members', 'n']);
    assert.equal(v.configPath, a.config);
    assert.deepEqual([v.k, v.n], [2, 4]);
    assert.deepEqual(
      v.members.map((m) => [m.index, m.scheme]),
      [
        [0, 'file'],
        [1, 'webdav+http'],
        [2, 'azure'],
        [3, 's3'],
      ],
    );
    for (const m of v.members) {
      assert.deepEqual(Object.keys(m).sort(), ['index', 'scheme', 'url', 'variables']);
      for (const x of m.variables) assert.deepEqual(Object.keys(x).sort(), ['name', 'set']);
    }
    assert.deepEqual(v.members[0]!.variables, []);
    // An empty variable counts as not set, as the adapters read it.
    assert.deepEqual(v.members[1]!.variables, [
      { name: 'WEBDAV_USERNAME', set: false },
      { name: 'WEBDAV_PASSWORD', set: true },
    ]);
    assert.deepEqual(
      v.members[3]!.variables.filter((x) => x.set).map((x) => x.name),
      ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'],
    );
  });

  it('without a config: exit 10 and one clean line', async () => {
    const r = await runRaic(['config', 'show', '--config', `${a.dir}/absent.json`]);
    assert.equal(r.code, 10);
    assert.match(oneCleanErrorLine(r.stderr), /no raic config at .*absent\.json/);
  });
});

describe('maskUrl', () => {
  const cases: [string, string][] = [
    ['file:///mnt/usb/raic', 'file:///mnt/usb/raic'],
    ['swift://c/p?auth=http://127.0.0.1:18080/auth/v1.0', 'swift://c/p?auth=http://127.0.0.1:18080/auth/v1.0'],
    ['sftp://me@nas:2222/srv?fingerprint=SHA256:abc+def/ghi', 'sftp://me@nas:2222/srv?fingerprint=SHA256:abc+def/ghi'],
    ['sftp://me:pw@nas/srv', 'sftp://me:***@nas/srv'],
    ['webdav://u:p%40ss@h/d', 'webdav://u:***@h/d'],
    // A password with '/' in it makes the URL unparseable; it must still be masked.
    ['s3://AKID:se/cr/et@bucket/p', 's3://AKID:***@bucket/p'],
    ['azure://a/c?sv=1&SIG=x&se=2030', 'azure://a/c?sv=1&SIG=***&se=2030'],
    ['s3://b?X-Amz-Credential=a&X-Amz-Security-Token=b&token=c&api_key=d&secret=e&password=f&pwd=g&sas=h', 's3://b?X-Amz-Credential=***&X-Amz-Security-Token=***&token=***&api_key=***&secret=***&password=***&pwd=***&sas=***'],
    ['s3://b?endpoint=https://u:pw@h:9000&region=r', 's3://b?endpoint=https://u:***@h:9000&region=r'],
    ['s3://b?endpoint=https://h/?sig=x', 's3://b?endpoint=https://h/?sig=***'],
    ['webdav://h/d#token=abc', 'webdav://h/d#token=***'],
    ['not a url at all', 'not a url at all'],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${want}`, () => assert.equal(maskUrl(input), want));
  }
});

describe('credential variables', () => {
  it('cover every scheme the registry ships, and README "Members and credentials" names each one', async () => {
    const readme = await readFile(`${repoRoot}/README.md`, 'utf8');
    const start = readme.indexOf('## Members and credentials');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    assert.ok(start >= 0 && section.length > 0, 'README has the section');
    for (const scheme of supportedSchemes()) {
      assert.ok(section.includes(`| \`${scheme}\` |`), `README has a row for ${scheme}`);
      if (scheme !== 'file') assert.ok(credentialVariables(scheme).length > 0, `${scheme} reads some variable`);
      for (const name of credentialVariables(scheme)) assert.ok(section.includes(`\`${name}\``), `README names ${name} (${scheme})`);
    }
  });
});
