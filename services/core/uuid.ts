/**
 * Capture and launch ids are UUIDs: anything else names nothing (and would be an error in a
 * Postgres uuid comparison), so it is answered as not found before any query.
 */
export const isUuid = (s: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
