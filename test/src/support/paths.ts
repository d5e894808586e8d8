import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The repository root (test/dist/support -> ../../..). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
/** The handbook beside the project (../shared), which holds the plist corpus. */
export const handbookDir = join(repoRoot, '..', 'shared');
