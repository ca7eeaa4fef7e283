import { formatNhsNumber, isValidNhsNumber, normalizeNhsNumber } from './nhs-number.js';

describe('normalizeNhsNumber', () => {
  it.each([
    ['943 476 5919', '9434765919'],
    ['943-476-5919', '9434765919'],
    [' 944 930\t5552 ', '9449305552'],
    ['9434765919', '9434765919'],
  ])('strips the spaces and hyphens people type: %j → %s', (raw, digits) => {
    expect(normalizeNhsNumber(raw)).toBe(digits);
  });

  it('leaves other characters for the validator to refuse', () => {
    expect(normalizeNhsNumber('943.476.5919')).toBe('943.476.5919');
  });
});

describe('formatNhsNumber', () => {
  it.each([
    ['9434765919', '943 476 5919'],
    ['9990001006', '999 000 1006'],
  ])('groups %s 3-3-4 as %j', (digits, grouped) => {
    expect(formatNhsNumber(digits)).toBe(grouped);
  });

  it('is undone by normalizeNhsNumber', () => {
    expect(normalizeNhsNumber(formatNhsNumber('9449305552'))).toBe('9449305552');
  });
});

describe('isValidNhsNumber', () => {
  it.each(['9434765919', '9449305552'])('accepts the NHS test number %s', (n) => {
    expect(isValidNhsNumber(n)).toBe(true);
  });

  it('accepts a check digit of 0 when 11 − remainder is 11', () => {
    // 2,0,0,0,0,0,0,0,1 weighted 10..2: 20 + 2 = 22 ≡ 0 (mod 11) → 11 → 0.
    expect(isValidNhsNumber('2000000010')).toBe(true);
    expect(isValidNhsNumber('2000000011')).toBe(false);
  });

  it('refuses a number whose check computation gives 10 (never issued)', () => {
    // 1,0,0,0,0,0,0,0,1 → 10 + 2 = 12 ≡ 1 → 11 − 1 = 10: no check digit can make it valid.
    for (let d = 0; d <= 9; d++) expect(isValidNhsNumber(`100000001${d}`)).toBe(false);
  });

  it.each(['9434765918', '9434765910', '9449305553', '9449305550'])('refuses %s, a wrong check digit', (n) => {
    expect(isValidNhsNumber(n)).toBe(false);
  });

  it('refuses one digit repeated ten times, although every such number passes the modulus 11 arithmetic', () => {
    for (let d = 0; d <= 9; d++) expect(isValidNhsNumber(String(d).repeat(10))).toBe(false);
  });

  it.each([
    ['943476591', 'nine digits'],
    ['94347659190', 'eleven digits'],
    ['', 'empty'],
    ['943 476 5919', 'not normalised'],
    ['94347659l9', 'a letter'],
    ['９４３４７６５９１９', 'full-width digits'],
  ])('refuses %j (%s)', (n) => {
    expect(isValidNhsNumber(n)).toBe(false);
  });
});
