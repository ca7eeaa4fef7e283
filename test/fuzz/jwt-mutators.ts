/**
 * Mutated bearer tokens (RFC 7519 JWTs) and Authorization headers:
 * - tampered copies of a valid token: truncated, characters flipped, inserted or deleted, segments
 *   dropped, swapped or added, re-encoded (standard base64, padding), header `alg` changed or payload
 *   edited (roles → admin, longer expiry) with the original signature kept, random base64;
 * - tokens an attacker signs: `alg: none`, HS256 with the public key as the secret (key confusion),
 *   a foreign key under the real `kid`, an embedded `jwk`, `jku`/`x5u` URLs, `kid` injection, `crit`;
 * - tokens signed with the real key but carrying absurd claims (roles, sub, exp, aud, patient of the
 *   wrong types or sizes), which must be refused or limited, never crash the server;
 * - Authorization header shapes (scheme case, missing token, other schemes, repeated header, huge).
 * Each case says whether the server must refuse it: tampered and foreign tokens must never get a 2xx.
 */
import { SignJWT, base64url, importJWK, type CryptoKey, type JWK } from 'jose';
import { createHmac } from 'node:crypto';
import { nastyString, type Rng } from './random.js';

export interface JwtCase {
  /** Authorization header value(s); undefined sends none. */
  authorization: string | string[] | undefined;
  description: string;
  /** The token is forged or damaged: any 2xx answer is a security failure. */
  mustRefuse: boolean;
}

export interface JwtKeys {
  /** A valid token of each role, minted by the server's own key. */
  valid: string[];
  /** The server's local signing key (to sign tokens with odd claims). */
  privateJwk: JWK;
  publicJwk: JWK;
  /** A key the server does not know. */
  attackerPrivate: CryptoKey;
  attackerPublicJwk: JWK;
  issuer: string;
  audience: string;
}

const enc = (v: unknown) => base64url.encode(typeof v === 'string' ? v : JSON.stringify(v));
/** A segment's JSON object; {} when an earlier mutation already broke it. */
const dec = (s: string): Record<string, unknown> => {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
};

/** Whether `mutated` can still carry a valid signature of `original` (only when signed content and signature bytes are unchanged). */
function changedSignedContent(original: string, mutated: string): boolean {
  const a = original.split('.');
  const b = mutated.split('.');
  if (b.length !== 3 || a[0] !== b[0] || a[1] !== b[1]) return true;
  return !Buffer.from(a[2], 'base64url').equals(Buffer.from(b[2], 'base64url'));
}

function tamper(rng: Rng, token: string): { token: string; what: string } {
  // An earlier mutation may have dropped segments: missing ones are empty.
  const [h = '', p = '', s = ''] = token.split('.');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const kind = rng.pick(['truncate', 'flip', 'insert', 'delete', 'segments', 'reencode', 'alg', 'payload', 'garbage', 'header-json'] as const);
  switch (kind) {
    case 'truncate': { const at = rng.int(0, token.length - 1); return { token: token.slice(0, at), what: `truncate at ${at}` }; }
    case 'flip': {
      const at = rng.int(0, token.length - 1);
      return { token: `${token.slice(0, at)}${rng.string(1, alphabet)}${token.slice(at + 1)}`, what: `change char ${at}` };
    }
    case 'insert': {
      const at = rng.int(0, token.length);
      return { token: `${token.slice(0, at)}${rng.string(rng.int(1, 8), `${alphabet}.=+/`)}${token.slice(at)}`, what: `insert at ${at}` };
    }
    case 'delete': { const at = rng.int(0, token.length - 1); return { token: token.slice(0, at) + token.slice(at + rng.int(1, 10)), what: `delete at ${at}` }; }
    case 'segments':
      return rng.pick([
        { token: `${h}.${p}.`, what: 'no signature' }, { token: `${h}.${p}`, what: 'two segments' }, { token: `${h}.${p}.${s}.${s}`, what: 'four segments' },
        { token: `${p}.${h}.${s}`, what: 'swapped segments' }, { token: `..`, what: 'empty segments' }, { token: `${h}..${s}`, what: 'empty payload' },
        { token: `.${p}.${s}`, what: 'empty header' }, { token: `${h}.${p}.${s}.`, what: 'trailing dot' }, { token: h, what: 'header only' },
      ]);
    case 'reencode': {
      const std = (x: string) => Buffer.from(x, 'base64url').toString('base64');
      return rng.pick([
        { token: `${std(h)}.${std(p)}.${std(s)}`, what: 'standard base64' }, { token: `${h}==.${p}.${s}`, what: 'padding' },
        { token: `${h}.${p}.${s}==`, what: 'signature padding' }, { token: `${h}.${enc(dec(p))}.${s}`, what: 'payload re-encoded' },
      ]);
    }
    case 'alg': {
      const header = { ...dec(h), alg: rng.pick(['none', 'None', 'NONE', 'HS256', 'RS256', 'ES512', 'PS256', 'EdDSA', '', null, 5]) };
      return { token: `${enc(header)}.${p}.${rng.chance(0.5) ? s : ''}`, what: `alg ${JSON.stringify(header.alg)}` };
    }
    case 'payload': {
      const claims = { ...dec(p), ...rng.pick<Record<string, unknown>>([{ roles: ['admin'] }, { exp: 4102444800 }, { sub: 'someone-else' }, { patient: undefined }, { aud: 'other' }]) };
      return { token: `${h}.${enc(claims)}.${s}`, what: 'payload edited, signature kept' };
    }
    case 'header-json':
      return { token: `${enc(rng.pick<string>(['not json', '[]', '5', '{"alg":', '{}', JSON.stringify({ alg: 'ES256', kid: 'x'.repeat(5000) })]))}.${p}.${s}`, what: 'bad header JSON' };
    default:
      return { token: rng.pick([rng.string(rng.int(1, 400), alphabet), rng.bytes(rng.int(1, 300)).toString('base64'), `${rng.string(40, alphabet)}.${rng.string(80, alphabet)}.${rng.string(86, alphabet)}`]), what: 'random base64' };
  }
}

async function forged(rng: Rng, keys: JwtKeys): Promise<{ token: string; what: string }> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: 'attacker', roles: ['admin'], iss: keys.issuer, aud: keys.audience, iat: now, exp: now + 600 };
  const kind = rng.pick(['none', 'hs256-public-key', 'foreign-key', 'embedded-jwk', 'jku', 'kid-injection', 'crit', 'b64-false'] as const);
  if (kind === 'none') return { token: `${enc({ alg: rng.pick(['none', 'None']), typ: 'JWT' })}.${enc(claims)}.`, what: 'alg none' };
  if (kind === 'hs256-public-key') {
    const header = enc({ alg: 'HS256', kid: keys.publicJwk.kid });
    const body = enc(claims);
    const secret = rng.chance(0.5) ? JSON.stringify(keys.publicJwk) : String(keys.publicJwk.x);
    const sig = createHmac('sha256', secret).update(`${header}.${body}`).digest('base64url');
    return { token: `${header}.${body}.${sig}`, what: 'HS256 keyed with the public key' };
  }
  const header: Record<string, unknown> = { alg: 'ES256', kid: keys.publicJwk.kid };
  let what: string = kind;
  if (kind === 'embedded-jwk') header.jwk = keys.attackerPublicJwk;
  if (kind === 'jku') { header.jku = 'http://127.0.0.1:1/jwks.json'; header.x5u = 'http://127.0.0.1:1/cert.pem'; }
  if (kind === 'kid-injection') { header.kid = rng.pick(['../../keys/signing-key.json', "' OR '1'='1", '', '\u0000', 'k'.repeat(3000), 5]); what = `kid ${JSON.stringify(header.kid).slice(0, 30)}`; }
  if (kind === 'crit') header.crit = rng.pick([['exp'], ['unknown-extension'], [], 'exp']);
  if (kind === 'b64-false') { header.b64 = false; header.crit = ['b64']; }
  const signer = new SignJWT(claims).setProtectedHeader(header as never);
  // The real key signs only the crit/b64 variants (the server must refuse what it does not understand).
  const key = kind === 'crit' || kind === 'b64-false' ? await importJWK(keys.privateJwk, 'ES256') : keys.attackerPrivate;
  try {
    return { token: await signer.sign(key), what };
  } catch {
    // jose refuses to sign some of these headers itself: sign by hand with the foreign key's header anyway.
    return { token: `${enc(header)}.${enc(claims)}.${rng.string(86, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')}`, what: `${what} (unsigned)` };
  }
}

/** Tokens with a valid signature but odd claims: the server may refuse them (401/403) or limit them, never fail. */
async function oddClaims(rng: Rng, keys: JwtKeys): Promise<{ token: string; what: string }> {
  const now = Math.floor(Date.now() / 1000);
  const base: Record<string, unknown> = { sub: 'odd-claims', roles: ['clinician'], iss: keys.issuer, aud: keys.audience, iat: now, exp: now + 600 };
  const [claim, value] = rng.pick<[string, unknown]>([
    ['roles', 'admin'], ['roles', { admin: true }], ['roles', [['admin']]], ['roles', 7], ['roles', null], ['roles', ['ADMIN', 'Admin ']],
    ['roles', Array.from({ length: 2000 }, (_, i) => `role-${i}`)], ['roles', ['__proto__', 'constructor']], ['roles', []],
    ['sub', 5], ['sub', ''], ['sub', 'x'.repeat(5000)], ['sub', { id: 1 }], ['sub', '\u0000\ud800'],
    ['exp', 'tomorrow'], ['exp', 1e20], ['exp', -1], ['exp', now - 10], ['nbf', now + 3600], ['iat', now + 86_400], ['iat', 'x'],
    ['aud', [keys.audience, 'other']], ['aud', 5], ['aud', []], ['iss', [keys.issuer]],
    ['patient', { id: 'P1' }], ['patient', ['P1', 'P2']], ['patient', 5], ['patient', ''], ['patient', nastyString(rng)],
    ['role', 'admin'], ['act', { sub: nastyString(rng) }], ['act', 'x'], ['client_id', { x: 1 }], ['azp', 7],
    ['padding', 'p'.repeat(rng.int(1000, 6000))],
  ]);
  const claims = { ...base, [claim]: value };
  if (value === undefined) delete claims[claim];
  const header = { alg: 'ES256', kid: keys.privateJwk.kid };
  try {
    // Sign the raw claims: SignJWT would validate or normalise some of them.
    const input = `${enc(header)}.${enc(claims)}`;
    const key = await importJWK(keys.privateJwk, 'ES256') as CryptoKey;
    const sig = new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, new TextEncoder().encode(input)));
    return { token: `${input}.${base64url.encode(sig)}`, what: `signed, ${claim}=${JSON.stringify(value)?.slice(0, 40)}` };
  } catch (err) {
    return { token: `${enc(header)}.${enc(claims)}.`, what: `unsigned (${(err as Error).message})` };
  }
}

export async function jwtCase(rng: Rng, keys: JwtKeys): Promise<JwtCase> {
  const valid = rng.pick(keys.valid);
  const kind = rng.weighted<string>([[6, 'tamper'], [3, 'forged'], [3, 'odd-claims'], [2, 'header']]);
  if (kind === 'tamper') {
    let token = valid;
    const what: string[] = [];
    for (let n = rng.small(3); n > 0; n--) {
      const r = tamper(rng, token);
      token = r.token;
      what.push(r.what);
    }
    return { authorization: `Bearer ${token}`, description: `tampered: ${what.join(', ')}`, mustRefuse: changedSignedContent(valid, token) };
  }
  if (kind === 'forged') {
    const r = await forged(rng, keys);
    return { authorization: `Bearer ${r.token}`, description: `forged: ${r.what}`, mustRefuse: true };
  }
  if (kind === 'odd-claims') {
    const r = await oddClaims(rng, keys);
    return { authorization: `Bearer ${r.token}`, description: `odd claims: ${r.what}`, mustRefuse: false };
  }
  const shape = rng.pick<[string, string | string[] | undefined, boolean]>([
    ['lower-case scheme', `bearer ${valid}`, false], ['no token', 'Bearer', true], ['empty token', 'Bearer ', true],
    ['basic scheme', `Basic ${Buffer.from('admin:admin').toString('base64')}`, true], ['two tokens', `Bearer ${valid} ${valid}`, true],
    ['repeated header', ['Bearer x.y.z', `Bearer ${valid}`], false], ['no header', undefined, true], ['tab separator', `Bearer\t${valid}`, false],
    ['huge token', `Bearer ${'a'.repeat(rng.int(8_000, 20_000))}`, true], ['token with quotes', `Bearer "${valid}"`, true],
    ['nasty', `Bearer ${nastyString(rng).replace(/[^\x20-\x7e]/g, '').slice(0, 2000)}`, true], ['scheme only', 'Bearer Bearer', true],
  ]);
  return { authorization: shape[1], description: `header: ${shape[0]}`, mustRefuse: shape[2] };
}
