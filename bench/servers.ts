/**
 * The bench's helper servers, one per process so each has a core's worth of event loop to itself,
 * as the gateway does: `node-noop` and `express-noop` (the ceilings the gateway is compared with)
 * `target` (a Brigade API that answers 201 at once, or 503 while told it is down) and
 * `otlp-sink` (an OTLP/HTTP receiver that takes every export and keeps only counts).
 * Prints `listening <port>` when ready.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';

const kind = process.argv[2];

function serve(server: http.Server): void {
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
}

if (kind === 'node-noop') {
  serve(
    http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(202, { 'Content-Type': 'application/json' });
        res.end('{"status":"accepted"}');
      });
    }),
  );
} else if (kind === 'express-noop') {
  const app = express();
  app.use(express.json());
  app.post('/events', (_req, res) => {
    res.status(202).json({ status: 'accepted' });
  });
  serve(http.createServer(app));
} else if (kind === 'target') {
  // Brigade's POST /v2/events answer: an EventList (empty: no project subscribes).
  const created = '{"apiVersion":"brigade.sh/v2","kind":"EventList","metadata":{},"items":[]}';
  const stats = { up: true, created: 0, refused: 0, firstCreatedAt: 0, lastCreatedAt: 0, changedAt: Date.now() };
  serve(
    http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/_stats') {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(stats));
          return;
        }
        if (req.url === '/_up' || req.url === '/_down') {
          stats.up = req.url === '/_up';
          stats.changedAt = Date.now();
          res.writeHead(204).end();
          return;
        }
        if (!stats.up) {
          stats.refused++;
          res.writeHead(503, { 'Content-Type': 'text/plain', 'Retry-After': '1' });
          res.end('down');
          return;
        }
        const now = Date.now();
        stats.created++;
        stats.firstCreatedAt ||= now;
        stats.lastCreatedAt = now;
        res.writeHead(201, { 'Content-Type': 'application/json' });
        res.end(created);
      });
    }),
  );
} else if (kind === 'otlp-sink') {
  const stats = { exports: 0, bytes: 0 };
  serve(
    http.createServer((req, res) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        if (req.url === '/_stats') {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(stats));
          return;
        }
        stats.exports++;
        stats.bytes += bytes;
        res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
      });
    }),
  );
} else {
  console.error(`unknown server kind ${kind}`);
  process.exit(2);
}
