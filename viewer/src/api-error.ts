/** Errors of the Lucida API as the viewer shows them: status, stable code, and problem+json text. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, readonly title: string, readonly detail?: string) {
    super(detail ? `${title}: ${detail}` : title);
  }
}

/** The ApiError of a failed response (problem+json when the server sent one). */
export async function problemOf(res: Response): Promise<ApiError> {
  let body: { code?: string; title?: string; detail?: string } = {};
  try { body = await res.json(); } catch { /* not JSON: status only */ }
  return new ApiError(res.status, body.code ?? `HTTP_${res.status}`, body.title ?? res.statusText, body.detail);
}
