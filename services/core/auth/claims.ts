/**
 * Claim mapping: a verified token's claims -> a Principal. Identity providers differ in where they
 * put roles (Keycloak `realm_access.roles`, Entra ID `roles` or `groups`, Auth0 a namespaced URL)
 * and what they call them, so the claim and the names are configuration (AUTH_ROLES_CLAIM,
 * AUTH_ROLE_MAP, AUTH_PATIENT_CLAIM). Signature, issuer, audience and times are checked before
 * this (tokens.ts); this module only reads claims, and refuses a token whose claims cannot be
 * read safely.
 */
import type { JWTPayload } from 'jose';
import { isLongStringIdentifier } from '../capture/dicom-text.js';
import { LucidaError } from '../errors.js';
import { isRole, type PatientRef, type Principal, type Role } from './principal.js';

export interface ClaimMapping {
  /** Dotted path of the roles/groups claim (`realm_access.roles`, `groups`, `roles`). */
  rolesClaim: string;
  /** IdP name -> Lucida role. Empty: values that are Lucida role names are taken as they are. */
  roleMap: Record<string, string>;
  /** Dotted path of the claim holding the patient of a patient-context token. */
  patientClaim: string;
  /**
   * IssuerOfPatientID of a patient claim that is a bare PatientID (AUTH_PATIENT_ISSUER, default
   * NHS); undefined: a bare PatientID matches under any issuer.
   */
  patientIssuer?: string;
}

export const DEFAULT_CLAIM_MAPPING: ClaimMapping = { rolesClaim: 'roles', roleMap: {}, patientClaim: 'patient' };

/** The longest subject, client id or on-behalf-of name kept (they reach logs and the audit trail). */
const MAX_NAME_LENGTH = 256;

/**
 * The value at a dotted path. A claim whose own name contains dots (Auth0's namespaced
 * `https://example.org/roles`) is matched whole first.
 */
export function claimAt(claims: Record<string, unknown>, dottedPath: string): unknown {
  if (Object.hasOwn(claims, dottedPath)) return claims[dottedPath];
  let value: unknown = claims;
  for (const part of dottedPath.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * Lucida roles from the roles claim's value (a string or an array of strings). With a role map,
 * only mapped names count (an IdP group that happens to be called "admin" grants nothing unless
 * mapped); without one, values that are Lucida role names are taken as they are. Anything else is
 * ignored. OAuth scope claims (`scope`, `scp`) are space-separated strings (RFC 8693 §4.2).
 */
export function mapRoles(value: unknown, mapping: Pick<ClaimMapping, 'roleMap' | 'rolesClaim'>): Role[] {
  let names: unknown[];
  if (typeof value === 'string') names = /^(scope|scp)$/.test(mapping.rolesClaim) ? value.split(/\s+/) : [value];
  else if (Array.isArray(value)) names = value;
  else return [];
  const mapped = Object.keys(mapping.roleMap).length > 0;
  const roles = new Set<Role>();
  for (const name of names) {
    if (typeof name !== 'string') continue;
    const role = mapped ? (Object.hasOwn(mapping.roleMap, name) ? mapping.roleMap[name] : undefined) : name;
    if (isRole(role)) roles.add(role);
  }
  return [...roles];
}

/**
 * The patient of a patient-context token: a PatientID string, or `{id, issuer?}`. A claim that is
 * present but unreadable refuses the token: ignoring it would widen a one-patient token to all.
 */
export function mapPatient(value: unknown, issuerOfBareId?: string): PatientRef | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') {
    if (isLongStringIdentifier(value)) return issuerOfBareId === undefined ? { id: value } : { id: value, issuer: issuerOfBareId };
  } else if (typeof value === 'object' && !Array.isArray(value)) {
    const { id, issuer } = value as Record<string, unknown>;
    if (typeof id === 'string' && isLongStringIdentifier(id)) {
      if (issuer === undefined || issuer === null) return { id };
      // '' is a patient recorded without IssuerOfPatientID: that issuer, not any issuer.
      if (typeof issuer === 'string' && (issuer === '' || isLongStringIdentifier(issuer))) return { id, issuer };
    }
  }
  throw new LucidaError('INVALID_TOKEN', 'the token\'s patient claim is not a PatientID (a string of up to 64 characters, or {id, issuer})');
}

function name(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_NAME_LENGTH ? value : undefined;
}

/** `sub`, required: every principal is someone (a user, or the system client of a client-credentials token). */
export function subjectOf(claims: JWTPayload): string {
  if (claims.sub === undefined) throw new LucidaError('INVALID_TOKEN', 'the token has no subject (sub)');
  const sub = name(claims.sub);
  if (!sub) throw new LucidaError('INVALID_TOKEN', `the token's subject (sub) must be a string of 1 to ${MAX_NAME_LENGTH} characters`);
  return sub;
}

/** The OAuth2 client that obtained the token: `client_id` (RFC 9068, RFC 8693), else `azp` (OpenID Connect). */
export const clientIdOf = (claims: JWTPayload): string | undefined => name(claims.client_id) ?? name(claims.azp);

/**
 * The actor of a delegated token: `act.sub` (RFC 8693 §4.1). There `sub` is the user the token is
 * for and `act.sub` the party (a system client) acting for them, so the actor is the client.
 */
export function actorOf(claims: JWTPayload): string | undefined {
  const act = claims.act;
  return act && typeof act === 'object' && !Array.isArray(act) ? name((act as Record<string, unknown>).sub) : undefined;
}

/**
 * A token from the hospital's IdP (or the local issuer) as a Principal. Client-credentials tokens
 * need nothing special: their `sub` is the client, and their roles come from the same claim.
 */
export function principalFromIdpClaims(claims: JWTPayload, mapping: ClaimMapping): Principal {
  const principal: Principal = {
    subject: subjectOf(claims),
    roles: mapRoles(claimAt(claims, mapping.rolesClaim), mapping),
    kind: 'idp',
  };
  const patient = mapPatient(claimAt(claims, mapping.patientClaim), mapping.patientIssuer);
  if (patient) principal.patient = patient;
  // A delegated token (RFC 8693) names the user as `sub` and the acting client as `act.sub`.
  const clientId = clientIdOf(claims) ?? actorOf(claims);
  if (clientId) principal.clientId = clientId;
  return principal;
}
