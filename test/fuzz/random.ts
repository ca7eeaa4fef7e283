/**
 * Seeded randomness for the fuzz test. Every case gets its own generator, derived from the run's
 * seed, its category and its index, so one case can be replayed alone (FUZZ_SEED + FUZZ_CASE) and
 * its input does not depend on how many cases ran before it or in which order they finished.
 */
import { seededRandom } from '../fixtures/dicom.js';

/** FNV-1a over a string: turns (seed, category, index) into a 32-bit generator seed. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Rng {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = seededRandom(seed);
  }

  /** The generator of case `index` of `category` in the run seeded with `seed`. */
  static forCase(seed: number, category: string, index: number): Rng {
    return new Rng(hash32(`${seed}/${category}/${index}`));
  }

  /** In [0, 1). */
  float(): number {
    return this.next();
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** Picks by weight: `[[weight, value], ...]`. */
  weighted<T>(entries: readonly (readonly [number, T])[]): T {
    const total = entries.reduce((s, [w]) => s + w, 0);
    let r = this.next() * total;
    for (const [w, v] of entries) {
      r -= w;
      if (r < 0) return v;
    }
    return entries[entries.length - 1][1];
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.next() * 256);
    return b;
  }

  /** A small count skewed towards 1 (most cases carry one mutation, some several). */
  small(max: number): number {
    let n = 1;
    while (n < max && this.chance(0.35)) n++;
    return n;
  }

  /** A string of `n` characters drawn from `alphabet`. */
  string(n: number, alphabet: string): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(this.next() * alphabet.length)];
    return s;
  }

  /** A 32-bit unsigned integer. */
  u32(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }
}

/** Values at the edges of integer ranges: where length arithmetic goes wrong. */
export const INTERESTING_U32 = [0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff, 0x10000,
  0x7ffffffe, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff] as const;

/** Strings that upset parsers: empty, unicode, control characters, injection attempts, huge. */
export function nastyString(rng: Rng): string {
  return rng.pick<() => string>([
    () => '',
    () => ' ',
    () => '\0',
    () => '\u0000\u0001\u001f\u007f',
    () => '\r\n',
    () => '\ud800', // lone surrogate
    () => '\ufeff\u202e\u200b',
    () => 'é€𝄞😀',
    () => '%00%ff%',
    () => "'; DROP TABLE instances; --",
    () => '../../../etc/passwd',
    () => '${jndi:ldap://127.0.0.1/x}',
    () => '<script>alert(1)</script>',
    () => '*?*?\\',
    () => '\\'.repeat(rng.int(1, 40)),
    () => 'A'.repeat(rng.int(65, 300)),
    () => 'x'.repeat(rng.int(1000, 70_000)),
    () => String(rng.u32()),
    () => '-1',
    () => '1e309',
    () => 'NaN',
    () => '__proto__',
    () => 'constructor',
    () => rng.bytes(rng.int(1, 40)).toString('latin1'),
  ])();
}
