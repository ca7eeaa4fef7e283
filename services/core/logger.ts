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
    serializers: { err: serializeError },
  }, destination);
}

/**
 * pino's error serializer copies every enumerable property. node-postgres attaches the whole
 * connection (`client`: connection parameters, backend process id and secret key) to some errors,
 * and driver errors may carry the query's parameter values: neither belongs in a log line.
 */
function serializeError(err: Error): ReturnType<typeof pino.stdSerializers.err> {
  const out = pino.stdSerializers.err(err) as ReturnType<typeof pino.stdSerializers.err> & Record<string, unknown>;
  for (const key of ['client', 'parameters', 'values', 'connection']) delete out[key];
  if (out.cause && typeof out.cause === 'object') {
    for (const key of ['client', 'parameters', 'values', 'connection']) delete (out.cause as Record<string, unknown>)[key];
  }
  return out;
}
