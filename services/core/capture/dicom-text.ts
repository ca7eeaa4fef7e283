/**
 * Characters the DICOM text VRs forbid (PS3.5 §6.2, Table 6.2-1). LO, SH and PN allow no control
 * characters (ESC only for ISO 2022 code extensions, which Unicode input never needs) and no
 * backslash (the value delimiter); PN components also exclude ^ and =. LT allows CR, LF, FF and ESC.
 */
/* eslint-disable no-control-regex -- matching control characters is the point of these patterns */

/** Characters not allowed in an LO or SH value. */
export const FORBIDDEN_IN_LO = /[\\\u0000-\u001f\u007f]/;
/** Characters not allowed in an LT value. */
export const FORBIDDEN_IN_LT = /[\u0000-\u0009\u000b\u000e-\u001a\u001c-\u001f\u007f]/;
/** Characters not allowed in one PN component group (^ separates its components). */
export const FORBIDDEN_IN_PN_GROUP = /[=\\\u0000-\u001f\u007f]/;
