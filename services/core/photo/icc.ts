/**
 * Just enough of ICC.1 (ISO 15076-1) to name a profile: the Profile Description tag ('desc'), either
 * textDescriptionType (v2) or multiLocalizedUnicodeType (v4). Used to decide whether Color Space
 * (0028,2002) may say SRGB (PS3.3 C.11.15.1.2): only when the profile really describes sRGB.
 */

/** The profile's description (first record of a v4 'mluc'), or undefined when absent or malformed. */
function iccDescription(icc: Buffer): string | undefined {
  if (icc.length < 132) return undefined;
  const count = icc.readUInt32BE(128);
  for (let i = 0; i < count && 132 + (i + 1) * 12 <= icc.length; i++) {
    const entry = 132 + i * 12;
    if (icc.toString('latin1', entry, entry + 4) !== 'desc') continue;
    const offset = icc.readUInt32BE(entry + 4);
    const size = icc.readUInt32BE(entry + 8);
    if (offset + size > icc.length || size < 12) return undefined;
    return readText(icc.subarray(offset, offset + size));
  }
  return undefined;
}

function readText(tag: Buffer): string | undefined {
  const type = tag.toString('latin1', 0, 4);
  if (type === 'desc') {
    // textDescriptionType: type, reserved, uInt32 ASCII count (incl. NUL), ASCII.
    const n = tag.readUInt32BE(8);
    if (12 + n > tag.length) return undefined;
    return tag.toString('latin1', 12, 12 + n).replace(/\0+$/, '');
  }
  if (type === 'mluc' && tag.length >= 28) {
    // multiLocalizedUnicodeType: records of (language, country, length, offset); UTF-16BE strings.
    const length = tag.readUInt32BE(20);
    const offset = tag.readUInt32BE(24);
    if (offset + length > tag.length || length % 2 !== 0) return undefined;
    // Copy before swapping: subarray is a view into the caller's profile.
    return Buffer.from(tag.subarray(offset, offset + length)).swap16().toString('utf16le').replace(/\0+$/, '');
  }
  return undefined;
}

/** True when the profile describes sRGB (IEC 61966-2-1), judged by its description. */
export function isSrgbProfile(icc: Buffer): boolean {
  const d = iccDescription(icc);
  return d !== undefined && /\bsRGB\b/i.test(d);
}
