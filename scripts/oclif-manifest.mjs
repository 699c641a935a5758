// Writes oclif.manifest.json (every command's id, flags and help) after a build. Without it oclif imports every
// command module at start-up just to learn their ids — about 130 modules for `raic --version` — so every run
// paid for the commands it does not run. Generated, never committed (.gitignore): it must match dist/.
import { writeFileSync } from 'node:fs';
import { Plugin } from '@oclif/core';

const root = new URL('..', import.meta.url).pathname;
const plugin = new Plugin({ root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true });
await plugin.load();
writeFileSync(new URL('../oclif.manifest.json', import.meta.url), `${JSON.stringify(plugin.manifest, null, 2)}\n`);
