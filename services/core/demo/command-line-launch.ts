/**
 * A viewer launch made at the command line (`lucida launch`): what an EPR's POST /api/launch does,
 * for a developer or a demo without an EPR. Same parsing (parseLaunchBody), same launch service and
 * same one-time URL (PUBLIC_BASE_URL/viewer/#launch=<code>), with no HTTP in between.
 *
 * Honest about who asked: the launch is recorded as launched by 'cli' through client 'lucida-cli',
 * for the user named (by default the operating-system user running the command), and one audit
 * event is appended as the route's would be (action `launch`, method `CLI`, route `lucida launch`),
 * also when the launch is refused. The launch table only knows the ways `epr` and `iid`: the
 * command line stands in for an EPR, so its launches are `epr`.
 */
import os from 'node:os';
import { LaunchService, parseLaunchBody, type CreatedLaunch, type LaunchServiceDeps } from '../auth/launch.js';
import { isUserId } from '../auth/principal.js';
import type { AuditLog } from '../audit/types.js';
import { isLucidaError } from '../errors.js';

/** The subject recorded as having launched (launches.launched_by, the audit event's subject), and its client. */
const CLI_SUBJECT = 'cli';
const CLI_CLIENT_ID = 'lucida-cli';

export interface CommandLineLaunchDeps extends Omit<LaunchServiceDeps, 'signSession'> {
  audit: AuditLog;
}

export interface CommandLineLaunchRequest {
  patientId?: string;
  /** IssuerOfPatientID; NHS (the default) for an NHS number, spaces allowed. */
  issuer?: string;
  studyUID?: string;
  /** The user the viewer session is for; default the operating-system user. */
  user?: string;
  userName?: string;
  reason?: string;
}

/** The operating-system user, when it is a usable user id. */
export function defaultLaunchUser(): string {
  try {
    const name = os.userInfo().username;
    if (isUserId(name)) return name;
  } catch { /* no passwd entry (some containers) */ }
  return 'cli-user';
}

/**
 * Creates a one-time viewer launch with an unrestricted scope (the operator has the database).
 * @throws LucidaError BAD_REQUEST (bad patient id, issuer, UID or user), NOT_FOUND (no such study, or
 *   not of this patient): the same answers POST /api/launch gives.
 */
export async function launchFromCommandLine(deps: CommandLineLaunchDeps, req: CommandLineLaunchRequest): Promise<CreatedLaunch> {
  const user = req.user ?? defaultLaunchUser();
  const service = new LaunchService({
    ...deps,
    // Creating a launch signs nothing: the session token is made when the viewer exchanges the code.
    signSession: () => Promise.reject(new Error('the command line does not sign viewer sessions')),
  });
  const event = {
    action: 'launch', subject: CLI_SUBJECT, roles: [], clientId: CLI_CLIENT_ID, onBehalfOf: user, userAgent: 'lucida-cli',
    method: 'CLI', route: 'lucida launch', seriesUIDs: [], sopInstanceUIDs: [],
  };
  const patientIds = req.patientId ? [req.patientId] : [];
  const studyUIDs = req.studyUID ? [req.studyUID] : [];
  try {
    const body = parseLaunchBody({
      ...(req.patientId !== undefined ? { patient: { id: req.patientId, issuer: req.issuer ?? 'NHS' } } : {}),
      ...(req.studyUID !== undefined ? { studyUID: req.studyUID } : {}),
      user: { id: user, ...(req.userName ? { name: req.userName } : {}) },
      ...(req.reason ? { reason: req.reason } : {}),
    });
    if (body.patient) patientIds.splice(0, 1, body.patient.id);
    const target = await service.resolveTarget({ patient: body.patient, studyUIDs: body.studyUID ? [body.studyUID] : undefined }, {});
    const launch = await service.createLaunch({
      target, user: body.user, via: 'epr', launchedBy: CLI_SUBJECT, clientId: CLI_CLIENT_ID, reason: body.reason,
    });
    deps.audit.append({
      ...event, at: new Date(), outcome: 'success', status: 201, patientIds: [target.patient.id], studyUIDs: target.studyUIDs,
      detail: `launch ${launch.launchId}`,
    });
    return launch;
  } catch (err) {
    const notFound = isLucidaError(err) && err.code === 'NOT_FOUND';
    deps.audit.append({
      ...event, at: new Date(), outcome: notFound ? 'not-found' : 'failure', status: isLucidaError(err) ? err.status : 500,
      patientIds, studyUIDs, detail: isLucidaError(err) ? err.code : 'error',
    });
    throw err;
  } finally {
    await deps.audit.flush();
  }
}
