import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from './config.js';

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
    [{ S3_ENDPOINT: 'http://minio:9000' }, /S3_ENDPOINT is set/],
    [{ STOW_MAX_PARTS: '0' }, /STOW_MAX_PARTS must be at least 1/],
  ])('fails fast with a message naming the variable: %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
