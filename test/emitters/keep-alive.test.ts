import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import axios from 'axios';
import { expect } from 'chai';
import { KEEP_ALIVE_DELAY_MS, keepAliveAgents } from '../../src/emitters/keep-alive';

type KeepAlive = (enable: boolean, delaySeconds: number) => number;

describe('keepAliveAgents', () => {
  let server: http.Server;
  let url: string;
  let connections: number;
  /** What reached the system: the TCP handle's own setKeepAlive (a socket skips repeats of one value). */
  let systemCalls: { enable: boolean; delaySeconds: number }[];
  let handle: { setKeepAlive: KeepAlive };
  let original: KeepAlive;

  before(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    url = `http://127.0.0.1:${port}/`;
    // Every TCP socket's handle shares one prototype: taken from a connection of our own.
    const probe = net.connect(port, '127.0.0.1');
    handle = Object.getPrototypeOf((probe as Socket & { _handle: object })._handle) as typeof handle;
    probe.destroy();
    original = handle.setKeepAlive;
  });

  beforeEach(() => {
    connections = 0;
    systemCalls = [];
    handle.setKeepAlive = function (this: unknown, enable: boolean, delaySeconds: number) {
      systemCalls.push({ enable, delaySeconds });
      return original.call(this, enable, delaySeconds);
    };
  });

  afterEach(() => {
    handle.setKeepAlive = original;
    server.closeAllConnections();
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('reuses one connection and sets TCP keep-alive on it once, not twice per request', async () => {
    const agents = keepAliveAgents({});
    try {
      for (let i = 0; i < 10; i++) expect((await axios.get(url, { httpAgent: agents.http })).data).to.equal('ok');
    } finally {
      agents.destroy();
    }
    expect(connections).to.equal(1);
    expect(systemCalls).to.deep.equal([{ enable: true, delaySeconds: KEEP_ALIVE_DELAY_MS / 1000 }]);
  });

  it('with Node’s default delay the setting flips on every request (why the agents agree with axios)', async () => {
    const agent = new http.Agent({ keepAlive: true });
    try {
      for (let i = 0; i < 10; i++) await axios.get(url, { httpAgent: agent });
    } finally {
      agent.destroy();
    }
    expect(connections).to.equal(1);
    expect(systemCalls.length).to.be.at.least(19);
  });
});
