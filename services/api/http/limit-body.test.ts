import express from 'express';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { limitBody } from './limit-body.js';

/** POSTs `body` (or GETs) over `agent`; resolves with status, Connection header and body, or rejects after `ms`. */
function exchange(port: number, agent: http.Agent, path: string, body?: Buffer, ms = 3000): Promise<{ status: number; connection?: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', agent, timeout: ms }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, text: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => { req.destroy(); reject(new Error(`${path}: no answer within ${ms} ms`)); });
    req.on('error', reject);
    req.end(body);
  });
}

describe('limitBody', () => {
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    const app = express();
    // Answers after the first chunk, as STOW-RS does when a later part is malformed.
    app.post('/early', async (req, res) => {
      await limitBody(req, 1 << 30).next();
      res.status(202).send('early');
    });
    app.post('/early-short-discard', async (req, res) => {
      await limitBody(req, 1 << 30, { maxBytes: 1 << 30, maxMs: 200 }).next();
      res.status(202).send('early');
    });
    app.post('/whole', async (req, res) => {
      let n = 0;
      for await (const chunk of limitBody(req, 1 << 30)) n += chunk.length;
      res.send(String(n));
    });
    app.get('/next', (_req, res) => { res.send('next'); });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => { await new Promise((r) => server.close(r)); });

  // Found by the fuzz test: the next request on a kept-alive connection waited behind the unread rest of the body.
  it('drops the unread rest of the body after an early answer, so the connection serves the next request', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        expect(await exchange(port, agent, '/early', Buffer.alloc(512 * 1024, 1))).toEqual({ status: 202, connection: 'keep-alive', text: 'early' });
        expect(await exchange(port, agent, '/next')).toEqual(expect.objectContaining({ status: 200, text: 'next' }));
      }
    } finally {
      agent.destroy();
    }
  });

  it('keeps the connection alive when the body was read to its end', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await exchange(port, agent, '/whole', Buffer.alloc(256 * 1024, 1))).toEqual({ status: 200, connection: 'keep-alive', text: String(256 * 1024) });
      expect(await exchange(port, agent, '/next')).toEqual(expect.objectContaining({ status: 200, text: 'next' }));
    } finally {
      agent.destroy();
    }
  });

  it('cuts the connection of a client that stops sending the rest, once the discard time is up', async () => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (c) => { answer += c.toString('latin1'); });
    const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
    socket.write(`POST /early-short-discard HTTP/1.1\r\nHost: x\r\nContent-Length: ${1 << 20}\r\n\r\n`);
    socket.write(Buffer.alloc(64 * 1024, 1)); // and never the rest
    const started = Date.now();
    const at = await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 202 /);
    expect(at - started).toBeLessThan(3000);
  });
});
