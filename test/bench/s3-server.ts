/**
 * The bench's S3 server in a process of its own (s3rver, as in the tests: test/helpers/s3.ts), so its
 * CPU is not the bench client's: prints `{"endpoint": ...}` on one line once listening, serves until
 * SIGTERM, then removes its directory.
 */
import { startS3Server } from '../helpers/s3.js';

const s3 = await startS3Server();
console.log(JSON.stringify({ endpoint: s3.endpoint, env: s3.env('lucida-bench') }));
process.on('SIGTERM', () => { s3.destroy().then(() => process.exit(0), () => process.exit(1)); });
