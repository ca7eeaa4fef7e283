/**
 * The hash chain's canonical form: pinned byte for byte (rows already written must keep verifying),
 * every stored field covered, and normalisation that makes an event exactly what Postgres will store.
 */
import fc from 'fast-check';
import {
  GENESIS_HASH, auditRowHash, canonicalAuditForm, chainAuditEvents, normalizeAuditEvent, storableText, type HashedAuditRow,
} from './canonical.js';
import { AUDIT_MAX_UIDS, type AuditEvent } from './types.js';

const ROW: HashedAuditRow = {
  id: '1', at: new Date('2026-11-24T09:30:00.123Z'), action: 'read', outcome: 'success', status: 200,
  subject: 'clin-1', roles: ['clinician'], ip: '10.0.0.7', userAgent: 'Viewer/1.0', requestId: 'req-42', method: 'GET',
  route: '/dicomweb/studies', patientIds: ['9434765919'], studyUIDs: [], seriesUIDs: [], sopInstanceUIDs: [],
  query: { StudyDate: '20261124', PatientID: '9434765919' }, prevHash: GENESIS_HASH,
};

describe('canonical form v1', () => {
  it('is the documented JSON array, query entries sorted by key', () => {
    expect(canonicalAuditForm(ROW)).toBe(
      '["lucida-audit-v1","1","2026-11-24T09:30:00.123Z","read","success",200,"clin-1",["clinician"],null,null,"10.0.0.7",'
      + '"Viewer/1.0","req-42","GET","/dicomweb/studies",["9434765919"],[],[],[],[["PatientID","9434765919"],["StudyDate","20261124"]],'
      + `null,"${'0'.repeat(64)}"]`);
  });

  it('hashes to the SHA-256 computed independently (sha256sum of the form above)', () => {
    expect(auditRowHash(ROW)).toBe('d920a2caac811d62856aeb26438486b313d49fe164ea428e74fdd1219365fde7');
  });

  it('does not depend on the order query keys were stored in (jsonb reorders them)', () => {
    expect(auditRowHash({ ...ROW, query: { PatientID: '9434765919', StudyDate: '20261124' } })).toBe(auditRowHash(ROW));
  });

  it('changes with every stored field', () => {
    const changes: Partial<HashedAuditRow>[] = [
      { id: '2' }, { at: new Date('2026-11-24T09:30:00.124Z') }, { action: 'store' }, { outcome: 'denied' }, { status: 201 },
      { subject: 'clin-2' }, { subject: undefined }, { roles: ['clinician', 'admin'] }, { clientId: 'epr' }, { onBehalfOf: 'dr-x' },
      { ip: '10.0.0.8' }, { userAgent: 'Viewer/1.1' }, { requestId: 'req-43' }, { method: 'POST' }, { route: '/dicomweb/series' },
      { patientIds: ['9449305552'] }, { studyUIDs: ['1.2'] }, { seriesUIDs: ['1.2'] }, { sopInstanceUIDs: ['1.2'] },
      { query: { PatientID: '9449305552', StudyDate: '20261124' } }, { query: undefined }, { detail: 'x' }, { prevHash: 'f'.repeat(64) },
    ];
    const hashes = new Set(changes.map((c) => auditRowHash({ ...ROW, ...c })));
    expect(hashes.size).toBe(changes.length);
    expect(hashes.has(auditRowHash(ROW))).toBe(false);
  });

  it('tells an empty list from a list holding an empty-looking value, and a field from its neighbour', () => {
    expect(auditRowHash({ ...ROW, studyUIDs: [], seriesUIDs: ['1.2'] })).not.toBe(auditRowHash({ ...ROW, studyUIDs: ['1.2'], seriesUIDs: [] }));
    expect(auditRowHash({ ...ROW, clientId: 'a', onBehalfOf: undefined })).not.toBe(auditRowHash({ ...ROW, clientId: undefined, onBehalfOf: 'a' }));
  });
});

describe('chainAuditEvents', () => {
  const events = [1, 2, 3].map((i): AuditEvent => ({
    at: new Date(0), action: 'read', outcome: 'success', status: 200, method: 'GET', requestId: `r${i}`,
    patientIds: [], studyUIDs: [], seriesUIDs: [], sopInstanceUIDs: [],
  }));

  it('starts a new chain at row 1 from the genesis value, each row linked to the one before', () => {
    const rows = chainAuditEvents(events, '0', GENESIS_HASH);
    expect(rows.map((r) => r.id)).toEqual(['1', '2', '3']);
    expect(rows.map((r) => r.prevHash)).toEqual([GENESIS_HASH, rows[0].hash, rows[1].hash]);
    for (const r of rows) expect(r.hash).toBe(auditRowHash(r));
  });

  it('continues from the chain head another writer left', () => {
    const rows = chainAuditEvents(events.slice(0, 1), '9007199254740993', 'a'.repeat(64));
    expect(rows[0]).toMatchObject({ id: '9007199254740994', prevHash: 'a'.repeat(64) });
  });
});

describe('normalizeAuditEvent', () => {
  const base: AuditEvent = {
    at: new Date(0), action: 'read', outcome: 'success', status: 200, method: 'GET', patientIds: [], studyUIDs: [], seriesUIDs: [], sopInstanceUIDs: [],
  };

  it('makes text storable: no NUL, no lone surrogates (Postgres would alter them), bounded length', () => {
    expect(storableText('a\u0000b', 10)).toBe('ab');
    expect(storableText('x\uD800y\uDC00', 10)).toBe('x\uFFFDy\uFFFD');
    expect(storableText('😀😀', 3)).toBe('😀\uFFFD'); // a cut through a pair leaves no half
    const e = normalizeAuditEvent({ ...base, userAgent: 'U'.repeat(5000), detail: '', subject: 'a\u0000' });
    expect(e.userAgent).toHaveLength(512);
    expect(e.detail).toBeUndefined();
    expect(e.subject).toBe('a');
  });

  it('caps identifier lists at AUDIT_MAX_UIDS and keeps their order', () => {
    const uids = Array.from({ length: AUDIT_MAX_UIDS + 5 }, (_, i) => `1.2.${i}`);
    const e = normalizeAuditEvent({ ...base, sopInstanceUIDs: uids });
    expect(e.sopInstanceUIDs).toEqual(uids.slice(0, AUDIT_MAX_UIDS));
  });

  it('is idempotent: a stored row normalised again hashes the same (fuzzed)', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    fc.assert(fc.property(
      fc.record({
        subject: fc.option(text, { nil: undefined }), userAgent: fc.option(text, { nil: undefined }), detail: fc.option(text, { nil: undefined }),
        patientIds: fc.array(text, { maxLength: 4 }), query: fc.option(fc.dictionary(text, fc.oneof(text, fc.array(text, { maxLength: 3 }))), { nil: undefined }),
      }),
      (over) => {
        const once = normalizeAuditEvent({ ...base, ...over });
        const twice = normalizeAuditEvent(once);
        const row = (e: AuditEvent) => ({ ...e, id: '1', prevHash: GENESIS_HASH });
        expect(auditRowHash(row(twice))).toBe(auditRowHash(row(once)));
        // What the writer hashes survives a JSON round trip (the jsonb query column) unchanged.
        expect(JSON.parse(JSON.stringify(once.query ?? null))).toEqual(once.query ?? null);
      },
    ), { seed: 4, numRuns: 300 });
  });
});
