/** Who is calling, as established from a verified token. */
export const ROLES = ['photographer', 'clinician', 'epr', 'teaching', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  subject: string;
  roles: Role[];
  /**
   * Present on patient-context tokens (EPR launch): the PatientID the caller is meant to be limited
   * to. Not enforced yet (issue: security): no route or query checks it, so such a token currently
   * reaches every patient its roles allow.
   */
  patientId?: string;
  clientId?: string;
}

export const isRole = (r: unknown): r is Role => typeof r === 'string' && (ROLES as readonly string[]).includes(r);
