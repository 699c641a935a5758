#!/usr/bin/env node
// Entry point for the `raic` command: hands argv to oclif, which loads dist/commands.
import { execute } from '@oclif/core';

await execute({ dir: import.meta.url });
