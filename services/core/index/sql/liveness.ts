/**
 * SQL for process liveness: each Lucida process holds a session advisory lock whose 64-bit key is
 * derived from its process id (a v4 UUID), and a pending row names that process as its owner. Whether
 * the owner still holds its lock is read from pg_locks, where a bigint advisory key shows as classid
 * (high 32 bits), objid (low 32 bits) and objsubid 1 (the two-int4 form has objsubid 2).
 *
 * The key is 0x4c70 ('Lp', Lucida process) in its top 16 bits and the UUID's last 48 (random) bits
 * below. Its high half is therefore never 0 nor 0xffffffff, so it cannot equal the migration lock
 * (0x4c756369, database.ts) or any key made from a 32-bit hashtext() (advisoryXactLockSql), whatever
 * the UUID. The derivation is written once, here, in SQL: the lock and the check cannot disagree.
 */
import type { SqlStatement } from './statement.js';

/** The lock key (bigint) of the process whose id is the SQL uuid expression `processId`. */
function processLockKey(processId: string): string {
  return `('x' || '4c70' || right(replace((${processId})::text, '-', ''), 12))::bit(64)::bigint`;
}

/**
 * True when the process whose id is the SQL uuid expression `processId` holds its lock, i.e. is
 * alive and connected to this database (advisory locks are per database).
 */
export function processIsLive(processId: string): string {
  return `EXISTS (SELECT 1 FROM pg_locks l
                  WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
                    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                    AND ((l.classid::bigint << 32) | l.objid::bigint) = ${processLockKey(processId)})`;
}

/** Takes this process's lock, without waiting: one row, `locked` false when another session holds it. */
export function tryProcessLockSql(processId: string): SqlStatement {
  return { text: `SELECT pg_try_advisory_lock(${processLockKey('$1::uuid')}) AS locked`, values: [processId] };
}

/** Whether the process `processId` is alive: one row, `alive`. */
export function processAliveSql(processId: string): SqlStatement {
  return { text: `SELECT ${processIsLive('$1::uuid')} AS alive`, values: [processId] };
}
