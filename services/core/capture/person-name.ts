/**
 * DICOM Person Name (PN, PS3.5 §6.2.1.2) values: FAMILY^GIVEN^MIDDLE^PREFIX^SUFFIX, at most 64
 * characters per component group, components free of the delimiters ^ = \ and of control characters.
 * Lucida writes only the alphabetic component group.
 */

import { FORBIDDEN_IN_PN_GROUP } from './dicom-text.js';

export const PN_MAX_GROUP_LENGTH = 64;

export interface NameParts {
  family: string;
  given?: readonly string[];
  prefix?: string;
  suffix?: string;
}

/**
 * The PN value for a structured name: the first given name is the PN given name, further given names
 * are the middle names (space-separated), and empty trailing components are left out (PS3.5 allows
 * it), so { family: 'Smith', given: ['Jane', 'Ann'], prefix: 'Mrs' } → "Smith^Jane^Ann^Mrs".
 */
export function personNameFromParts(name: NameParts): string {
  const given = (name.given ?? []).map((g) => g.trim()).filter(Boolean);
  const components = [
    name.family.trim(), given[0] ?? '', given.slice(1).join(' '), name.prefix?.trim() ?? '', name.suffix?.trim() ?? '',
  ];
  return components.join('^').replace(/\^+$/, '');
}

/**
 * Why `pn` (one alphabetic component group, possibly plain text without ^) is not an acceptable PN
 * value, or undefined when it is. The reason never quotes the name.
 */
export function personNameProblem(pn: string): string | undefined {
  if (pn.length > PN_MAX_GROUP_LENGTH) return `is longer than ${PN_MAX_GROUP_LENGTH} characters`;
  if (FORBIDDEN_IN_PN_GROUP.test(pn)) return 'contains =, a backslash or control characters';
  if (pn.split('^').length > 5) return 'has more than five ^-separated components';
  return undefined;
}

/** Trims each component and drops empty trailing ones: " GRAPHER ^ P ^" → "GRAPHER^P". */
export function tidyPersonName(pn: string): string {
  return pn.split('^').map((c) => c.trim()).join('^').replace(/\^+$/, '');
}
