/**
 * The one error catalogue. Every failure the API reports to a client is a LucidaError
 * with a stable `code`; the error middleware maps it to HTTP (problem+json, RFC 9457).
 * Codes are part of the interface contract: integrators match on them, so never rename one.
 */
export const ERRORS = {
  UNAUTHENTICATED: { status: 401, title: 'Authentication required' },
  INVALID_TOKEN: { status: 401, title: 'Invalid or expired token' },
  FORBIDDEN: { status: 403, title: 'Not permitted for this role' },
  /** A patient-context token (EPR launch) used for another patient's data where existence may be shown (a write). */
  OUT_OF_PATIENT_CONTEXT: { status: 403, title: 'This token is limited to another patient' },
  INVALID_LAUNCH: { status: 401, title: 'The launch link is invalid, already used or expired' },
  TOO_MANY_REQUESTS: { status: 429, title: 'Too many requests from this client; slow down' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such endpoint' },
  /** An annotation asked for on an instance that is not an image (a report, a document): nothing to calibrate or measure. */
  NO_PIXEL_DATA: { status: 409, title: 'The instance has no pixel data' },
  NOT_ACCEPTABLE: { status: 406, title: 'None of the accepted media types or transfer syntaxes can be produced' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body or part too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  BAD_REQUEST: { status: 400, title: 'Bad request' },
  INVALID_QUERY: { status: 400, title: 'Invalid query parameter' },
  INVALID_UID: { status: 400, title: 'Invalid UID' },
  MALFORMED_MULTIPART: { status: 400, title: 'Malformed multipart body' },
  INVALID_DICOM: { status: 400, title: 'Not a valid DICOM object' },
  UNSUPPORTED_TRANSFER_SYNTAX: { status: 406, title: 'Transfer syntax not supported for this operation' },
  INVALID_METADATA: { status: 422, title: 'Capture metadata is invalid' },
  UNSUPPORTED_IMAGE: { status: 415, title: 'Not a supported image (JPEG, PNG, TIFF or HEIC)' },
  INVALID_IMAGE: { status: 422, title: 'The image is damaged or cannot be decoded' },
  IMAGE_TOO_LARGE: { status: 413, title: 'The image has more pixels than this archive accepts' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'This Idempotency-Key was used for a different request' },
  CLIENT_DISCONNECTED: { status: 400, title: 'The client closed the connection before the request was complete' },
  UNAVAILABLE: { status: 503, title: 'Service temporarily unavailable' },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class LucidaError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra machine-readable members for the problem document (never patient data). */
  readonly extra?: Record<string, unknown>;

  constructor(code: ErrorCode, detail?: string, extra?: Record<string, unknown>) {
    super(detail ?? ERRORS[code].title);
    this.name = 'LucidaError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.extra = extra;
  }
}

export const isLucidaError = (e: unknown): e is LucidaError => e instanceof LucidaError;
