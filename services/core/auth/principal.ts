/** Who is calling, as established from a verified token. */
export const ROLES = ['photographer', 'clinician', 'epr', 'teaching', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** A patient as a token names it: PatientID, and IssuerOfPatientID when the token says. */
export interface PatientRef { id: string; issuer?: string }

export interface Principal {
  /** `sub` of the token: the user, or the system client for client-credentials tokens. */
  subject: string;
  roles: Role[];
  /**
   * Patient-context tokens (EPR launch, viewer sessions): every endpoint is limited to this patient
   * (policy.ts turns it into the request's AccessScope).
   */
  patient?: PatientRef;
  /** OAuth2 client (capture station, EPR) that obtained the token (`client_id` / `azp`). */
  clientId?: string;
  /** The end user a system client acts for (RFC 8693 `act.sub`, or the EPR's On-Behalf-Of header). */
  onBehalfOf?: string;
  /** Which kind of token: from the hospital's IdP (or the local issuer), or a Lucida viewer session. */
  kind: 'idp' | 'session';
  /** Viewer sessions: the launch they came from (audit). */
  launchId?: string;
}

export const isRole = (r: unknown): r is Role => typeof r === 'string' && (ROLES as readonly string[]).includes(r);

/**
 * A user id as a system client may name it (X-On-Behalf-Of, a launch's user): user names, emails,
 * directory ids; letters, digits, spaces inside, and . _ @ : | / \ -; at most 128 characters.
 */
export const isUserId = (s: string): boolean =>
  /^[\p{L}\p{N}._@:|/\\-](?:[\p{L}\p{N} ._@:|/\\-]{0,126}[\p{L}\p{N}._@:|/\\-])?$/u.test(s);
