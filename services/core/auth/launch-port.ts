/**
 * LaunchRepository port: what the viewer launch (launch.ts) needs from storage. The Postgres
 * adapter (index/postgres-launches.ts, tables of migration 009) is the only place with its SQL.
 * Secrets never cross this port: only their SHA-256 (hex).
 */
import type { AccessScope } from './policy.js';
import type { PatientRef } from './principal.js';

/** A patient as a launch records it: the issuer is '' when the patient has none (matched exactly). */
export interface LaunchPatient { id: string; issuer: string }

/** What a launch is: for whom, on which patient (and studies), asked by whom. */
export interface LaunchFacts {
  id: string;
  via: 'epr' | 'iid';
  patient: LaunchPatient;
  studyUIDs: string[];
  user: { id: string; name?: string };
  clientId?: string;
  /** Token subject that asked for the launch (the EPR system, or the IID user). */
  launchedBy: string;
}

export interface NewLaunch extends LaunchFacts {
  codeHash: string;
  reason?: string;
  /** Lifetime of the one-time code. */
  codeTtlSeconds: number;
  /** Lifetime of the whole session, from now. */
  sessionMaxSeconds: number;
}

/** A launch as the exchange and refresh read it back. */
export interface LaunchRecord extends LaunchFacts {
  createdAt: Date;
  sessionExpiresAt: Date;
  /** The database's clock when the row was read: lifetimes are computed from it. */
  now: Date;
}

export type RefreshResult =
  | { ok: true; launch: LaunchRecord }
  /** A refresh value this session has already replaced was presented: the session is now revoked. */
  | { ok: false; reused: boolean };

export interface LaunchRepository {
  /** Records a launch; returns when its code expires (database clock). */
  create(launch: NewLaunch): Promise<{ expiresAt: Date }>;
  /**
   * Redeems a code in ONE statement: marks it used and sets the session's refresh hash, only if it
   * is unused, unexpired and not revoked. Of two concurrent calls with one code, one gets the launch.
   */
  redeem(codeHash: string, refreshHash: string): Promise<LaunchRecord | undefined>;
  /**
   * Replaces the session's refresh hash (rotation) while the session is live. Presenting the hash it
   * replaced revokes the session (a copied cookie was used).
   */
  refresh(launchId: string, refreshHash: string, nextRefreshHash: string): Promise<RefreshResult>;
  /** Revokes the session whose refresh hash this is; false when there is none. */
  end(launchId: string, refreshHash: string): Promise<{ ended: boolean; launch?: LaunchRecord }>;
  /**
   * Studies with stored instances whose AccessionNumber is one of these, with their patients,
   * limited to `scope` (IHE IID's accessionNumber parameter).
   */
  studiesByAccession(accessionNumbers: string[], scope: AccessScope): Promise<{ studyUID: string; patient: PatientRef }[]>;
}
