/**
 * Structured JSON logs (pino). Rule: log UIDs, request ids and counts; never names, NHS numbers,
 * birth dates or query strings. `redact` is a second line of defence for fields that might slip in.
 */
import pino, { type Logger } from 'pino';

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({
    level,
    base: { service: 'lucida' },
    redact: {
      paths: [
        'req.headers.authorization', 'headers.authorization', 'patientName', 'patientId', 'PatientName', 'PatientID', '*.patientName', '*.patientId',
        // A Postgres error's DETAIL and context quote row values ('Key (patient_id)=(...) already exists').
        ...['detail', 'where', 'internalQuery'].flatMap((f) => [`err.${f}`, `err.cause.${f}`]),
      ],
      censor: '[redacted]',
    },
    serializers: { err: pino.stdSerializers.err },
  }, destination);
}
