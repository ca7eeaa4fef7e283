/**
 * SQL as data: builders are pure functions returning text and values (pg-boss style).
 * `name` (only for fixed-text statements on hot paths) makes node-postgres prepare the statement
 * once per connection, so Postgres does not parse and plan it again on every call.
 */
export interface SqlStatement { text: string; values: unknown[]; name?: string }

/** Collects parameter values while a builder writes SQL text; `add` returns the `$n` placeholder. */
export class Params {
  readonly values: unknown[] = [];

  /** Adds a value and returns its placeholder, with an optional cast (`$3::text[]`). */
  add(value: unknown, cast?: string): string {
    this.values.push(value);
    return `$${this.values.length}${cast ? `::${cast}` : ''}`;
  }
}

/**
 * Escapes user text for a LIKE pattern (backslash is Postgres' default LIKE escape): `%`, `_` and `\`
 * become literals.
 */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Turns a DICOM wildcard pattern (PS3.4 C.2.2.2.4: '*' any sequence, '?' one character) into a LIKE
 * pattern in which every other character is literal.
 */
export function wildcardToLike(pattern: string): string {
  return escapeLike(pattern).replace(/\*/g, '%').replace(/\?/g, '_');
}

/**
 * A lock held until the transaction ends, on an arbitrary key (`study:<uid>`, `annotations:<sop>`):
 * serialises transactions that must not interleave but share no row to lock.
 */
export function advisoryXactLockSql(key: string): SqlStatement {
  return { text: 'SELECT pg_advisory_xact_lock(hashtext($1))', values: [key] };
}
