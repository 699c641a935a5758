import { Flags } from '@oclif/core';
import { COMPRESSION_MODES, type CompressionMode } from '../compress/index.js';

/** --compression on the commands that store data (restic's names and default). */
export const compressionFlag = Flags.custom<CompressionMode>({
  description: 'compress chunks before encrypting them: auto (zstd, kept only where it shrinks), off, fastest, better, max',
  options: [...COMPRESSION_MODES],
  default: 'auto',
})();
