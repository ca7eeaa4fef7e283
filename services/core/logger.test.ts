import { Writable } from 'node:stream';
import { createLogger } from './logger.js';

describe('log lines', () => {
  const capture = () => {
    const lines: string[] = [];
    const log = createLogger('info', new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }));
    return { log, lines };
  };

  it('never carry the database connection or query values a driver error drags along', () => {
    const { log, lines } = capture();
    const err = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01', client: { processID: 3063, secretKey: 1350923303, connectionParameters: { user: 'lucida' } },
      parameters: ['9434765919'], cause: Object.assign(new Error('inner'), { client: { secretKey: 1 } }),
    });
    log.error({ err }, 'queue error');
    const line = JSON.parse(lines[0]);
    expect(line.err).toMatchObject({ message: expect.stringMatching(/^terminating connection due to administrator command/), code: '57P01' });
    expect(lines[0]).not.toMatch(/secretKey|processID|9434765919|connectionParameters/);
  });

  it('blanks the row values Postgres quotes in an error\'s detail', () => {
    const { log, lines } = capture();
    log.error({ err: Object.assign(new Error('duplicate key'), { detail: 'Key (patient_id)=(9434765919) already exists.' }) }, 'insert failed');
    expect(lines[0]).not.toContain('9434765919');
  });
});
