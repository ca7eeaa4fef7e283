/**
 * Mutated JSON documents: DICOM JSON data sets (PS3.18 F.2) for STOW-RS metadata and capture API
 * metadata. Mutations pick a node of the document and break it: wrong types, missing or empty Value,
 * huge arrays, deep nesting, bogus VRs, invalid UIDs, BulkDataURIs pointing nowhere, InlineBinary
 * garbage, prototype-polluting keys, nasty strings; or break the JSON text itself (truncated, invalid,
 * duplicate keys, huge numbers, deep brackets).
 */
import { INTERESTING_U32, nastyString, type Rng } from './random.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface JsonCase {
  /** The document as sent. */
  text: string;
  description: string;
  clean: boolean;
}

const VRS = ['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW',
  'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV'];

/** Every path to a node of the document. */
function paths(doc: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(doc)) doc.forEach((v, i) => paths(v, [...at, i], out));
  else if (doc && typeof doc === 'object') for (const [k, v] of Object.entries(doc)) paths(v, [...at, k], out);
  return out;
}

function getAt(doc: Json, path: (string | number)[]): Json {
  let node: Json = doc;
  for (const k of path) node = (node as Record<string, Json>)[k as string];
  return node;
}

/** Sets (or with `undefined`, deletes) the node at `path`; returns the new document. */
function setAt(doc: Json, path: (string | number)[], value: Json | undefined): Json {
  if (path.length === 0) return value === undefined ? null : value;
  const parent = getAt(doc, path.slice(0, -1)) as Record<string, Json> | Json[];
  const key = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key as string];
  } else {
    (parent as Record<string, Json>)[key as string] = value;
  }
  return doc;
}

/**
 * Deep nesting is spliced into the JSON text after JSON.stringify (which would overflow this
 * process's stack first): the document holds a placeholder string until then.
 */
function deep(depth: number, kind: 'array' | 'object' | 'sq'): Json {
  return `\u0001deep:${kind}:${depth}\u0001`;
}

function expandDeep(text: string): string {
  return text.replace(/"\\u0001deep:(\w+):(\d+)\\u0001"/g, (_m, kind: string, n: string) => {
    const d = Number(n);
    if (kind === 'array') return `${'['.repeat(d)}"leaf"${']'.repeat(d)}`;
    if (kind === 'object') return `${'{"a":'.repeat(d)}"leaf"${'}'.repeat(d)}`;
    return `${'{"00082218":{"vr":"SQ","Value":[{"00080100":{"vr":"SH","Value":["x"]},"0040A730":'.repeat(d)}"leaf"${'}]}}'.repeat(d)}`;
  });
}

function randomValue(rng: Rng): Json {
  return rng.weighted<() => Json>([
    [3, () => nastyString(rng)],
    [2, () => rng.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, rng.pick(INTERESTING_U32)])],
    [1, () => null],
    [1, () => rng.chance(0.5)],
    [1, () => []],
    [1, () => ({})],
    [1, () => [null]],
    [1, () => Array.from({ length: rng.int(1000, 20_000) }, () => rng.int(0, 9))],
    [1, () => ({ Alphabetic: nastyString(rng) })],
    [1, () => ({ vr: rng.pick(VRS), Value: [nastyString(rng)] })],
  ])();
}

/** One mutation of a DICOM JSON data set (or array of them). */
function mutateDicomJson(rng: Rng, doc: Json): { doc: Json; what: string } {
  const all = paths(doc);
  const attributes = all.filter((p) => typeof p[p.length - 1] === 'string' && /^[0-9A-Fa-f]{8}$/.test(String(p[p.length - 1])));
  const attr = attributes.length ? rng.pick(attributes) : [];
  const label = attr.join('/');
  const kind = rng.weighted<string>([
    [3, 'wrong-type'], [2, 'remove-value'], [2, 'empty-value'], [2, 'bad-vr'], [2, 'remove-attribute'], [2, 'add-attribute'],
    [1, 'huge-array'], [1, 'deep-nesting'], [2, 'bad-uid'], [2, 'bulkdata'], [1, 'inline-binary'], [1, 'proto'], [2, 'any-node'],
    [1, 'many-datasets'], [1, 'value-and-bulk'], [1, 'lower-case-tag'],
  ]);
  const node = getAt(doc, attr) as Record<string, Json> | undefined;
  const isAttr = node && typeof node === 'object' && !Array.isArray(node);
  switch (kind) {
    case 'wrong-type':
      if (isAttr) node.Value = rng.chance(0.5) ? randomValue(rng) : [randomValue(rng)];
      return { doc, what: `wrong type ${label}` };
    case 'remove-value':
      if (isAttr) delete node.Value;
      return { doc, what: `no Value ${label}` };
    case 'empty-value':
      if (isAttr) node.Value = rng.pick<Json>([[], [''], [null], [{}], [[]]]);
      return { doc, what: `empty Value ${label}` };
    case 'bad-vr':
      if (isAttr) node.vr = rng.pick<Json>([...VRS, 'XX', '', 'sq', 7, null, 'SQSQ']);
      return { doc, what: `vr ${label}` };
    case 'remove-attribute':
      return { doc: setAt(doc, attr, undefined), what: `remove ${label}` };
    case 'add-attribute': {
      const target = getAt(doc, attr.slice(0, -1));
      if (target && typeof target === 'object' && !Array.isArray(target)) {
        const tag = rng.pick(['00280010', '00280011', '00080005', '00100030', '00200013', '7FE00010', '00000000', 'FFFFFFFF', 'FFFEE000', '00091010', rng.u32().toString(16).padStart(8, '0').toUpperCase()]);
        target[tag] = { vr: rng.pick(VRS), Value: [randomValue(rng)] };
      }
      return { doc, what: 'add attribute' };
    }
    case 'huge-array':
      if (isAttr) node.Value = Array.from({ length: rng.int(1000, 50_000) }, () => (rng.chance(0.5) ? 'A' : 1));
      return { doc, what: `huge Value ${label}` };
    case 'deep-nesting': {
      const depth = rng.weighted<number>([[3, rng.int(10, 60)], [2, rng.int(100, 1000)], [1, rng.int(2000, 20_000)]]);
      const k = rng.pick(['array', 'object', 'sq'] as const);
      if (isAttr) node.Value = [deep(depth, k)];
      else return { doc: deep(depth, k), what: `deep ${k} ${depth} as document` };
      return { doc, what: `deep ${k} ${depth} at ${label}` };
    }
    case 'bad-uid': {
      const uidTag = rng.pick(['00080016', '00080018', '0020000D', '0020000E']);
      const ds = (Array.isArray(doc) ? doc[0] : doc) as Record<string, Json>;
      if (ds && typeof ds === 'object') {
        ds[uidTag] = { vr: 'UI', Value: [rng.pick<Json>(['', '1..2', '01.2', '1.2.', 'x.y', `1.${'2'.repeat(80)}`, '1.2\u00003', ' 1.2 ', '1.2.840.10008.5.1.4.1.1.77.1.4\\1.2', 5, null])] };
      }
      return { doc, what: `bad UID ${uidTag}` };
    }
    case 'bulkdata': {
      const ds = (Array.isArray(doc) ? doc[0] : doc) as Record<string, Json>;
      if (ds && typeof ds === 'object') {
        ds['7FE00010'] = { vr: rng.pick(['OB', 'OW', 'UN', 'SQ']), BulkDataURI: rng.pick<Json>(['', 'cid:', 'cid:nothing', 'http://127.0.0.1:1/missing.jpg', '../../etc/passwd', 'file:///etc/passwd', 'javascript:alert(1)', 'x'.repeat(5000), 7, null, {}, ['a']]) };
      }
      return { doc, what: 'BulkDataURI pointing nowhere' };
    }
    case 'inline-binary':
      if (isAttr) { delete node.Value; node.InlineBinary = rng.pick<Json>(['!!!not base64', '', 'AAAA', 'A'.repeat(100_001), 5]); }
      return { doc, what: `InlineBinary ${label}` };
    case 'proto': {
      const target = (Array.isArray(doc) ? doc[0] : doc) as Record<string, Json>;
      if (target && typeof target === 'object') {
        Object.defineProperty(target, rng.pick(['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString']), {
          value: rng.chance(0.5) ? { vr: 'SQ', Value: [{ polluted: true }] } : { polluted: true }, enumerable: true, configurable: true, writable: true,
        });
      }
      return { doc, what: 'prototype key' };
    }
    case 'many-datasets': {
      const one = Array.isArray(doc) ? doc[0] : doc;
      const n = rng.int(50, 400);
      return { doc: Array.from({ length: n }, () => JSON.parse(JSON.stringify(one)) as Json), what: `${n} data sets` };
    }
    case 'value-and-bulk':
      if (isAttr) { node.BulkDataURI = 'cid:x'; node.InlineBinary = 'AAAA'; }
      return { doc, what: `Value, BulkDataURI and InlineBinary together ${label}` };
    case 'lower-case-tag': {
      const target = getAt(doc, attr.slice(0, -1)) as Record<string, Json>;
      if (target && typeof target === 'object' && attr.length) {
        const v = target[String(attr[attr.length - 1])];
        delete target[String(attr[attr.length - 1])];
        target[String(attr[attr.length - 1]).toLowerCase().replace(/^0/, rng.pick(['', ' ', 'x']))] = v;
      }
      return { doc, what: `odd tag key ${label}` };
    }
    default: {
      const p = rng.pick(all);
      return { doc: setAt(doc, p, rng.chance(0.2) ? undefined : randomValue(rng)), what: `node ${p.join('/')}` };
    }
  }
}

/** Damage to the JSON text itself. */
function mutateText(rng: Rng, text: string): { text: string; what: string } {
  const kind = rng.pick(['truncate', 'invalid', 'bom', 'duplicate-keys', 'huge-number', 'brackets', 'empty', 'not-object', 'nul'] as const);
  switch (kind) {
    case 'truncate': { const at = rng.int(0, text.length); return { text: text.slice(0, at), what: `truncate JSON at ${at}` }; }
    case 'invalid': { const at = rng.int(0, text.length); return { text: `${text.slice(0, at)}${rng.pick(['}', ']', ',', ':', '"', "'", 'NaN', 'undefined'])}${text.slice(at)}`, what: 'invalid JSON' }; }
    case 'bom': return { text: `\ufeff${text}`, what: 'BOM' };
    case 'duplicate-keys': return { text: text.replace(/^\[?\{/, (m) => `${m}"00080018":{"vr":"UI","Value":["1.2.3"]},`), what: 'duplicate key' };
    case 'huge-number': return { text: text.replace(/\d+/, '1' + '0'.repeat(rng.int(20, 400))), what: 'huge number' };
    case 'brackets': { const n = rng.int(1000, 100_000); return { text: '['.repeat(n) + ']'.repeat(n), what: `${n} nested brackets` }; }
    case 'empty': return { text: rng.pick(['', ' ', 'null', '[]', '{}', '[[]]', '[null]']), what: 'empty document' };
    case 'not-object': return { text: rng.pick(['"a"', '1', 'true', '[1,2]', '["x"]']), what: 'not an object' };
    default: return { text: text.replace(/"/, '"\u0000'), what: 'NUL in JSON' };
  }
}

/** A mutated copy of `doc` as JSON text. */
export function jsonCase(rng: Rng, doc: unknown, opts: { cleanRate?: number } = {}): JsonCase {
  if (rng.chance(opts.cleanRate ?? 0.1)) return { text: JSON.stringify(doc), description: 'clean', clean: true };
  let copy = JSON.parse(JSON.stringify(doc)) as Json;
  const what: string[] = [];
  for (let n = rng.small(3); n > 0; n--) {
    const r = mutateDicomJson(rng, copy);
    copy = r.doc;
    what.push(r.what);
  }
  let text = expandDeep(JSON.stringify(copy));
  if (rng.chance(0.15)) {
    const r = mutateText(rng, text);
    text = r.text;
    what.push(r.what);
  }
  return { text, description: what.join(', '), clean: false };
}
