/**
 * The viewer's session: the one-time launch code from the URL fragment is exchanged for a
 * patient-scoped session token (POST /api/launch/exchange), kept in memory only (never
 * localStorage or sessionStorage: any script on the origin could read those, and they outlive the
 * page), and refreshed while the page is open through the HttpOnly refresh cookie
 * (POST /api/session/refresh, which needs the X-Requested-With and X-Lucida-Launch headers).
 * Closing the page ends the session (DELETE /api/session, sent with keepalive).
 */
import { ApiError, problemOf } from './api-error';

export interface PatientRef { id: string; issuer?: string }

export interface Session {
  launchId: string;
  patient: PatientRef;
  studyUIDs: string[];
  user?: { id: string; name?: string };
}

interface TokenResponse {
  accessToken: string;
  expiresIn: number;
  launchId: string;
  patient: PatientRef;
  studyUIDs?: string[];
  user?: { id: string; name?: string };
}

const VIEWER_HEADERS = { 'X-Requested-With': 'lucida-viewer' };

let accessToken: string | undefined;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let current: Session | undefined;

/** The Authorization header for API calls of this session. */
export function authorization(): string {
  if (!accessToken) throw new ApiError(401, 'INVALID_TOKEN', 'The viewer session has ended', 'Open the photographs again from the patient record.');
  return `Bearer ${accessToken}`;
}

/**
 * Reads `#launch=<code>` (and the optional `study`/`sop` to open first), removes the code from the
 * address bar and history at once (it is single-use, but must not linger in the history either),
 * and exchanges it for a session.
 */
export async function startSession(): Promise<{ session: Session; open: { study?: string; sop?: string } }> {
  const params = new URLSearchParams(location.hash.slice(1));
  const code = params.get('launch');
  const open = { study: params.get('study') ?? undefined, sop: params.get('sop') ?? undefined };
  history.replaceState(null, '', location.pathname + location.search);
  if (!code) throw new ApiError(401, 'NO_LAUNCH', 'Open the viewer from the patient record', 'This page shows photographs only when it is opened from a patient\'s record in the EPR.');
  const res = await fetch('/api/launch/exchange', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...VIEWER_HEADERS },
    body: JSON.stringify({ code }),
    credentials: 'same-origin',
  });
  if (!res.ok) throw await problemOf(res);
  const token = await res.json() as TokenResponse;
  accept(token);
  current = { launchId: token.launchId, patient: token.patient, studyUIDs: token.studyUIDs ?? [], user: token.user };
  addEventListener('pagehide', endSession);
  return { session: current, open };
}

function accept(token: TokenResponse): void {
  accessToken = token.accessToken;
  clearTimeout(refreshTimer);
  // Refresh at three quarters of the token's life, so a slow network never lets it lapse.
  refreshTimer = setTimeout(() => { void refresh(); }, Math.max(5, token.expiresIn * 0.75) * 1000);
}

async function refresh(): Promise<void> {
  if (!current) return;
  try {
    const res = await fetch('/api/session/refresh', {
      method: 'POST', headers: { ...VIEWER_HEADERS, 'X-Lucida-Launch': current.launchId }, credentials: 'same-origin',
    });
    if (!res.ok) throw await problemOf(res);
    accept(await res.json() as TokenResponse);
  } catch (err) {
    accessToken = undefined;
    dispatchEvent(new CustomEvent('lucida:session-ended', { detail: err }));
  }
}

function endSession(): void {
  if (!current) return;
  clearTimeout(refreshTimer);
  void fetch('/api/session', {
    method: 'DELETE', keepalive: true, credentials: 'same-origin', headers: { ...VIEWER_HEADERS, 'X-Lucida-Launch': current.launchId },
  }).catch(() => undefined);
  accessToken = undefined;
  current = undefined;
}
