/**
 * NHS numbers (NHS Data Dictionary, "NHS Number"): ten digits, the last a modulus 11 check digit.
 * Capture stations and EPRs print them grouped ("943 476 5919") or hyphenated; DICOM PatientID and
 * FHIR `https://fhir.nhs.uk/Id/nhs-number` carry the ten digits alone.
 */

/** Removes the spaces and hyphens people type inside an NHS number ("943 476-5919" → "9434765919"). */
export function normalizeNhsNumber(raw: string): string {
  return raw.replace(/[\s-]+/g, '');
}

/**
 * A normalised NHS number grouped 3-3-4 as people write it and the NHS prints it
 * ("9434765919" → "943 476 5919"), for a person at a terminal or on screen; never for a log.
 */
export function formatNhsNumber(nhs: string): string {
  return `${nhs.slice(0, 3)} ${nhs.slice(3, 6)} ${nhs.slice(6)}`;
}

/**
 * True when `s` is exactly ten ASCII digits whose check digit is right: the first nine digits are
 * weighted 10 down to 2, the sum is taken modulo 11, and the check digit is 11 − remainder, where 11
 * means 0 and 10 means the number is invalid (such numbers are never issued).
 *
 * Numbers made of one repeated digit ("0000000000", "4444444444") pass that arithmetic for every
 * digit (Σ = 54·d ≡ −d mod 11, so the check is d), but are never issued: systems use them as
 * "unknown" placeholders, so they are rejected here. `s` must already be normalised.
 */
export function isValidNhsNumber(s: string): boolean {
  if (!/^[0-9]{10}$/.test(s)) return false;
  if (/^(\d)\1{9}$/.test(s)) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(s[i]) * (10 - i);
  const check = 11 - (sum % 11);
  if (check === 10) return false;
  return (check === 11 ? 0 : check) === Number(s[9]);
}

/**
 * The NHS number's issuer as an ISO OID (Universal Entity ID in IssuerOfPatientIDQualifiersSequence,
 * with Universal Entity ID Type ISO and Identifier Type Code NH).
 */
export const NHS_NUMBER_ISSUER_OID = '2.16.840.1.113883.2.1.4.1';
