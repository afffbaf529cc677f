// x-weir-explain: with ProxyServerOptions.explainHeader set (the CLI's --enable-explain), a request
// from loopback carrying the header gets a one-line explanation in the response; without the
// header, or with the option off, nothing changes.
import t from 'tap';
import { ProxyServer } from '../../src/proxy/proxy-server';
import { explainHeaderValue } from '../../src/admin/explain';
import { get, listener, resources, staticCluster } from '../proxy/fixtures';
import { startUpstream } from '../helpers/upstream-servers';

async function setup(t: { teardown(f: () => unknown): void; same(a: unknown, b: unknown): void }, on: boolean): Promise<number> {
  const a = await startUpstream((_q, res) => res.end('a'));
  const b = await startUpstream((_q, res) => res.end('b'));
  t.teardown(() => Promise.all([a.close(), b.close()]));
  const proxy = new ProxyServer({
    random: () => 95,
    accessLogStream: { write: () => true } as unknown as NodeJS.WritableStream,
    ...(on ? { explainHeader: explainHeaderValue } : {}),
  });
  t.teardown(() => proxy.close());
  const rc = {
    name: 'rc',
    virtual_hosts: [
      {
        name: 'shop',
        domains: ['shop'],
        routes: [
          { name: 'beta', match: { prefix: '/', headers: [{ name: 'x-beta', string_match: { exact: '1' } }] }, route: { cluster: 'b' } },
          { name: 'split', match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 90 }, { name: 'b', weight: 10 }] } } },
        ],
      },
    ],
  };
  const r = await proxy.apply(resources([listener('l', rc)], [staticCluster('a', [a.port]), staticCluster('b', [b.port])]));
  t.same(r.errors, []);
  return proxy.listeners()[0]!.port;
}

t.test('on: the routing decision in a response header', async (t) => {
  const port = await setup(t, true);
  const r = await get(port, '/', { host: 'shop', 'x-weir-explain': '1' });
  t.equal(r.body, 'b');
  const h = String(r.headers['x-weir-explain']);
  t.match(h, /^vhost=shop \(exact shop\); tried=2; failed=#0:header x-beta/);
  t.match(h, /route=split; pick=random by random value=95 \[90,100\) of 100; cluster=b; upstream_host=127\.0\.0\.1:\d+$/);
  const nr = await get(port, '/', { host: 'elsewhere', 'x-weir-explain': '1' });
  t.equal(nr.status, 404);
  t.equal(nr.headers['x-weir-explain'], 'vhost=none; tried=0; route=none', 'local replies carry it too');
  t.equal((await get(port, '/', { host: 'shop' })).headers['x-weir-explain'], undefined, 'not asked: not given');
});

t.test('off by default', async (t) => {
  const port = await setup(t, false);
  t.equal((await get(port, '/', { host: 'shop', 'x-weir-explain': '1' })).headers['x-weir-explain'], undefined);
});
