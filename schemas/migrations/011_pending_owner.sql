-- Crash safety: which Lucida process is storing a pending instance. Every process holds a session
-- advisory lock derived from its process id (services/core/index/process-liveness.ts) for its whole
-- life; Postgres releases it when the process's connection dies. A pending row whose owner holds no
-- such lock belongs to a dead process, and reconciliation removes it (and its object) at once instead
-- of after PENDING_TIMEOUT_SECONDS. Only meaningful while the row is pending; NULL for rows written
-- before this migration (those are left to the timeout).
ALTER TABLE instances ADD COLUMN owner uuid;
