/**
 * The API role WITHOUT authentication and audit, for the benchmark's comparison only: every
 * request is taken to be an admin's and nothing is audited. Configured by the environment like
 * `lucida serve` (the bench points DATABASE_URL and DATA_DIR at its main server's). Never deploy this.
 */
import { loadConfig } from '../../services/core/config.js';
import { createLogger } from '../../services/core/logger.js';
import type { AuditLog } from '../../services/core/audit/types.js';
import { startRuntime } from '../../services/runtime.js';

const config = loadConfig();
const log = createLogger(config.logLevel);
const noAudit: AuditLog = {
  append() {},
  async flush() {},
  async search() { return { events: [], truncated: false }; },
  async verify() { return { ok: true, checked: 0 }; },
  async close() {},
};
const runtime = await startRuntime(config, log, ['api'], {
  verifier: { verify: async () => ({ subject: 'bench', roles: ['admin'], kind: 'idp' }) },
  audit: noAudit,
});
process.on('SIGTERM', () => { runtime.stop().then(() => process.exit(0), () => process.exit(1)); });
