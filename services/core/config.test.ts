import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, SECRET_VARIABLES, loadConfig } from './config.js';

const schema = JSON.parse(readFileSync(new URL('../../schemas/config.schema.json', import.meta.url), 'utf8'));
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const configSource = readFileSync(new URL('./config.ts', import.meta.url), 'utf8');

describe('configuration', () => {
  it('documents every variable the code reads, in the JSON Schema and the README table, and no others', () => {
    const read = new Set([...configSource.matchAll(/env(?:\.|, ')([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]));
    const inSchema = new Set(Object.keys(schema.properties));
    const inReadme = new Set([...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
    expect([...read].sort()).toEqual([...inSchema].sort());
    expect([...inReadme].sort()).toEqual([...inSchema].sort());
  });

  it('gives bare patient claims the NHS issuer unless told otherwise; * means any issuer', () => {
    expect(loadConfig({}).auth.patientIssuer).toBe('NHS');
    expect(loadConfig({ AUTH_PATIENT_ISSUER: 'RXH' }).auth.patientIssuer).toBe('RXH');
    expect(loadConfig({ AUTH_PATIENT_ISSUER: '*' }).auth.patientIssuer).toBeUndefined();
  });

  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(schema.properties.PORT.default);
    expect(c.stow.maxParts).toBe(schema.properties.STOW_MAX_PARTS.default);
    expect(c.qido.defaultLimit).toBe(schema.properties.QIDO_DEFAULT_LIMIT.default);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.publicBaseUrl).toBe('http://localhost:8080');
  });

  it.each([
    [{ PORT: 'abc' }, /PORT must be a whole number/],
    [{ PORT: '70000' }, /PORT must be at most 65535/],
    [{ PHOTO_MAX_MEGAPIXELS: '101' }, /PHOTO_MAX_MEGAPIXELS must be at most 100/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ DATABASE_URL: 'not a url' }, /DATABASE_URL must be a URL/],
    [{ S3_ENDPOINT: 'http://minio:9000' }, /S3_ACCESS_KEY and S3_SECRET_KEY/],
    [{ S3_ENDPOINT: 'ftp://minio', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' }, /S3_ENDPOINT must be an http or https URL/],
    [{ S3_ENDPOINT: 'http://minio:9000/lucida', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' }, /name the bucket in S3_BUCKET/],
    [{ S3_ENDPOINT: 'http://minio:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b', S3_BUCKET: 'Has_Upper' }, /S3_BUCKET must be a valid bucket name/],
    [{ S3_ENDPOINT: 'http://minio:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b', S3_PATH_STYLE: 'yes' }, /S3_PATH_STYLE must be true or false/],
    [{ S3_ENDPOINT: 'http://minio:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b', S3_PART_SIZE_MB: '4' }, /S3_PART_SIZE_MB must be at least 5/],
    [{ JOB_HEARTBEAT_SECONDS: '5' }, /JOB_HEARTBEAT_SECONDS must be at least 10/],
    [{ STOW_MAX_PARTS: '0' }, /STOW_MAX_PARTS must be at least 1/],
  ])('fails fast with a message naming the variable: %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('takes the S3 store\'s settings only with S3_ENDPOINT, with MinIO-friendly defaults', () => {
    expect(loadConfig({}).s3).toBeUndefined();
    expect(loadConfig({ S3_ENDPOINT: 'https://minio.internal:9000', S3_ACCESS_KEY: 'ak', S3_SECRET_KEY: 'sk' }).s3).toEqual({
      endpoint: 'https://minio.internal:9000', bucket: 'lucida', accessKey: 'ak', secretKey: 'sk', region: 'us-east-1',
      pathStyle: true, createBucket: false, partSizeBytes: 16 * 1024 * 1024,
    });
    const c = loadConfig({
      S3_ENDPOINT: 'http://s3.example', S3_ACCESS_KEY: 'ak', S3_SECRET_KEY: 'sk', S3_BUCKET: 'medphoto-prod',
      S3_REGION: 'eu-west-2', S3_PATH_STYLE: 'false', S3_CREATE_BUCKET: 'true', S3_PART_SIZE_MB: '64',
    }).s3;
    expect(c).toMatchObject({ bucket: 'medphoto-prod', region: 'eu-west-2', pathStyle: false, createBucket: true, partSizeBytes: 64 * 1024 * 1024 });
    expect(loadConfig({}).jobHeartbeatSeconds).toBe(schema.properties.JOB_HEARTBEAT_SECONDS.default);
  });

  describe('secrets from files (NAME_FILE, as Docker and Kubernetes secrets are mounted)', () => {
    let dir: string;
    beforeAll(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'lucida-config-')); });
    afterAll(() => { rmSync(dir, { recursive: true, force: true }); });
    const secretFile = (name: string, content: string) => {
      const file = path.join(dir, name);
      writeFileSync(file, content, { mode: 0o600 });
      return file;
    };

    it('covers the variables that hold credentials', () => {
      expect(SECRET_VARIABLES).toEqual(expect.arrayContaining(['DATABASE_URL', 'S3_ACCESS_KEY', 'S3_SECRET_KEY']));
    });

    it('reads the value from the file, without its trailing newline', () => {
      const file = secretFile('db-url', 'postgres://lucida:s3cret@db.internal:5432/lucida\n');
      expect(loadConfig({ DATABASE_URL_FILE: file }).databaseUrl).toBe('postgres://lucida:s3cret@db.internal:5432/lucida');
    });

    it('prefers the variable itself when both are given', () => {
      const file = secretFile('db-url-2', 'postgres://from-file@db/lucida');
      expect(loadConfig({ DATABASE_URL: 'postgres://from-env@db/lucida', DATABASE_URL_FILE: file }).databaseUrl)
        .toBe('postgres://from-env@db/lucida');
      // The file is then not even opened: a stale mount does not stop a start-up.
      expect(loadConfig({ DATABASE_URL: 'postgres://from-env@db/lucida', DATABASE_URL_FILE: path.join(dir, 'absent') }).databaseUrl)
        .toBe('postgres://from-env@db/lucida');
    });

    it('fails fast, naming the variable, when the file cannot be read', () => {
      const absent = path.join(dir, 'absent');
      expect(() => loadConfig({ DATABASE_URL_FILE: absent })).toThrow(ConfigError);
      expect(() => loadConfig({ DATABASE_URL_FILE: absent })).toThrow(/DATABASE_URL_FILE: cannot read .*absent \(ENOENT\)/);
      expect(() => loadConfig({ DATABASE_URL_FILE: dir })).toThrow(/DATABASE_URL_FILE: cannot read .* \(EISDIR\)/);
      if (process.getuid?.() !== 0) { // root reads any file whatever its mode
        const locked = secretFile('locked', 'postgres://x@db/lucida');
        chmodSync(locked, 0o000);
        expect(() => loadConfig({ DATABASE_URL_FILE: locked })).toThrow(/DATABASE_URL_FILE: cannot read .* \(EACCES\)/);
      }
    });

    it('validates what the file holds like the variable itself', () => {
      const file = secretFile('db-url-bad', 'not a url');
      expect(() => loadConfig({ DATABASE_URL_FILE: file })).toThrow(/DATABASE_URL must be a URL/);
    });
  });

  describe('identity, CORS, rate limit and proxy settings', () => {
    it('has safe defaults', () => {
      const c = loadConfig({});
      expect(c.auth.algorithms).toEqual(['RS256', 'PS256', 'ES256', 'EdDSA']);
      expect(c.auth.roleMap).toEqual({});
      expect(c.http).toEqual({ corsOrigins: [], rateLimitPerMinute: 12000, trustProxy: false, headersTimeoutSeconds: 20 });
    });

    it('accepts asymmetric signature algorithms only', () => {
      expect(loadConfig({ AUTH_ALGORITHMS: 'RS256, ES384' }).auth.algorithms).toEqual(['RS256', 'ES384']);
      for (const bad of ['HS256', 'RS256,HS512', 'none', 'RS256,none', 'rs256']) {
        expect(() => loadConfig({ AUTH_ALGORITHMS: bad })).toThrow(ConfigError);
        expect(() => loadConfig({ AUTH_ALGORITHMS: bad })).toThrow(/^AUTH_ALGORITHMS: "[^"]+" is not allowed/);
      }
    });

    it('maps IdP roles or groups to Lucida roles with AUTH_ROLE_MAP=Name=role,...', () => {
      expect(loadConfig({ AUTH_ROLE_MAP: 'Dermatology Clinicians=clinician, PACS-Admins=admin,/lucida/epr=epr,key=value=teaching' }).auth.roleMap)
        .toEqual({ 'Dermatology Clinicians': 'clinician', 'PACS-Admins': 'admin', '/lucida/epr': 'epr', 'key=value': 'teaching' });
      for (const bad of ['clinician', '=admin', 'Group=superuser', 'Group=', 'Group=Admin']) {
        expect(() => loadConfig({ AUTH_ROLE_MAP: bad })).toThrow(ConfigError);
        expect(() => loadConfig({ AUTH_ROLE_MAP: bad })).toThrow(/^AUTH_ROLE_MAP entries are IdPName=role/);
      }
    });

    it('takes CORS_ORIGINS as origins, normalised as browsers send them', () => {
      expect(loadConfig({ CORS_ORIGINS: 'https://EPR.example.nhs.uk:443, http://localhost:3000/' }).http.corsOrigins)
        .toEqual(['https://epr.example.nhs.uk', 'http://localhost:3000']);
      for (const bad of ['*', 'epr.example.nhs.uk', 'https://', 'null']) {
        expect(() => loadConfig({ CORS_ORIGINS: bad })).toThrow(ConfigError);
        expect(() => loadConfig({ CORS_ORIGINS: bad })).toThrow(/^CORS_ORIGINS must list origins/);
      }
    });

    it('takes TRUST_PROXY in Express\'s syntax: off, on, a hop count, or named ranges, addresses and CIDRs', () => {
      const trust = (v: string) => loadConfig({ TRUST_PROXY: v }).http.trustProxy;
      expect(trust('')).toBe(false);
      expect(trust('false')).toBe(false);
      expect(trust('true')).toBe(true);
      expect(trust('1')).toBe(1);
      expect(trust('loopback')).toBe('loopback');
      expect(trust('10.0.0.0/8, 192.168.1.7, uniquelocal')).toBe('10.0.0.0/8, 192.168.1.7, uniquelocal');
      // A typo must stop the start with the variable's name, not trust whatever Express makes of it.
      for (const bad of ['yes', 'loopbak', '10.0.0.0/33', '300.1.1.1']) {
        expect(() => loadConfig({ TRUST_PROXY: bad })).toThrow(ConfigError);
        expect(() => loadConfig({ TRUST_PROXY: bad })).toThrow(/TRUST_PROXY/);
      }
    });

    it.each([
      [{ RATE_LIMIT_PER_MINUTE: 'many' }, /RATE_LIMIT_PER_MINUTE must be a whole number/],
      [{ RATE_LIMIT_PER_MINUTE: '-1' }, /RATE_LIMIT_PER_MINUTE must be a whole number/],
      [{ HEADERS_TIMEOUT_SECONDS: '0' }, /HEADERS_TIMEOUT_SECONDS must be at least 1/],
      [{ HEADERS_TIMEOUT_SECONDS: '301' }, /HEADERS_TIMEOUT_SECONDS must be at most 300/],
      [{ AUTH_CLOCK_TOLERANCE_SECONDS: '301' }, /AUTH_CLOCK_TOLERANCE_SECONDS must be at most 300/],
      [{ AUTH_JWKS_URL: 'idp/jwks' }, /AUTH_JWKS_URL must be a URL/],
      [{ AUTH_JWKS_URL: 'https://idp.example/jwks' }, /AUTH_ROLE_MAP is required with AUTH_JWKS_URL/],
    ])('refuses %j', (env, message) => {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(message);
    });

    it('turns the per-client rate limit off with RATE_LIMIT_PER_MINUTE=0', () => {
      expect(loadConfig({ RATE_LIMIT_PER_MINUTE: '0' }).http.rateLimitPerMinute).toBe(0);
    });
  });
});
