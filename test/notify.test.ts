import { expect } from 'chai';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { notify } from '../src/notify/notify.js';
import { withDatabase } from './support/pg.js';
import { cli, makeProfile } from './support/profile.js';

interface Hit {
  path: string;
  method: string;
  body: string;
}

/** A local monitoring endpoint: answers 200, or 500, or never (hangs), per path prefix. */
async function monitor(): Promise<{ url: string; hits: Hit[]; close(): Promise<void> }> {
  const hits: Hit[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hits.push({ path: req.url ?? '', method: req.method ?? '', body });
      if (req.url?.startsWith('/hang')) return; // never answers
      res.statusCode = req.url?.startsWith('/broken') ? 500 : 200;
      res.end('OK');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

describe('notify (monitoring pings)', function () {
  this.timeout(60_000);

  it('pings the URL of the state and reports success', async () => {
    const m = await monitor();
    try {
      const result = await notify({ finish: `${m.url}/ping/abc` }, 'finish');
      expect(result).to.include({ ok: true, attempts: 1 });
      expect(m.hits.map((h) => h.path)).to.deep.equal(['/ping/abc']);
    } finally {
      await m.close();
    }
  });

  it('retries a failing endpoint, then gives up without throwing', async () => {
    const m = await monitor();
    try {
      const result = await notify({ fail: `${m.url}/broken`, retries: 2 }, 'fail', 'step db-dump failed');
      expect(result).to.include({ ok: false, attempts: 3, error: 'HTTP 500' });
      expect(m.hits).to.have.length(3);
      expect(m.hits[0]).to.include({ method: 'POST', body: 'step db-dump failed' });
    } finally {
      await m.close();
    }
  });

  it('gives up on a server that hangs after the timeout of each attempt', async () => {
    const m = await monitor();
    try {
      const started = Date.now();
      const result = await notify({ start: `${m.url}/hang`, timeout: '300ms', retries: 1 }, 'start');
      expect(result).to.include({ ok: false, attempts: 2 });
      expect(result!.error).to.match(/no answer within 300ms/);
      expect(Date.now() - started).to.be.below(5000);
    } finally {
      await m.close();
    }
  });

  it('does nothing for a state without a URL', async () => {
    expect(await notify({ start: 'http://127.0.0.1:9/x' }, 'finish')).to.equal(undefined);
    expect(await notify(undefined, 'start')).to.equal(undefined);
  });

  it('a run pings start and finish; an unreachable or hanging monitor never fails the backup', () =>
    withDatabase('notify', (db) => withDatabase('notify', async (db2) => {
      const m = await monitor();
      const ok = await makeProfile(db, { extra: `notify: { start: "${m.url}/hc/start", finish: "${m.url}/hc" }` });
      const hanging = await makeProfile(db2, { extra: `notify: { start: "${m.url}/hang/start", finish: "http://127.0.0.1:9/closed", timeout: 500ms, retries: 1 }` });
      try {
        const good = await cli(['run', '--json', ok.manifest]);
        expect(good.code, good.stderr).to.equal(0);
        expect(m.hits.map((h) => h.path)).to.deep.equal(['/hc/start', '/hc']);
        const bad = await cli(['run', '--json', hanging.manifest]);
        expect(bad.code, bad.stderr).to.equal(0);
        const pings = bad.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; ok?: boolean }).filter((e) => e.type === 'notify');
        expect(pings.map((p) => p.ok)).to.deep.equal([false, false]);
      } finally {
        await m.close();
        await ok.cleanup();
        await hanging.cleanup();
      }
    })));
});
