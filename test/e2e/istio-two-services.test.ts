// config/istio/two-services.yaml end to end: service A by cookie whitelist (and it tells B which
// version with `x-version`), service B following that header.
import t from 'tap';
import { runExampleSuite } from './istio-example-suite';

runExampleSuite(t, {
  file: 'two-services.yaml',
  names: { se: 'service-a', dr: 'service-a', vs: 'service-a' },
  fqdn: 'service-a.default.svc.cluster.local',
  port: 7000,
  defaultReq: { host: 'service-a' },
  split: { 'service-a/v1': 100 },
  routes: [
    { name: 'A: user=alice', req: { host: 'service-a', headers: { cookie: 'user=alice' } }, label: 'service-a/v2', seen: 'v2' },
    { name: 'A: user=bob after another cookie', req: { host: 'service-a:7000', headers: { cookie: 'session=1; user=bob' } }, label: 'service-a/v2', seen: 'v2' },
    { name: 'A: user=carol', req: { host: 'service-a', headers: { cookie: 'user=carol' } }, label: 'service-a/v1', seen: 'v1', viaDefault: true },
    { name: 'A: xuser=alice is not user=alice', req: { host: 'service-a', headers: { cookie: 'xuser=alice' } }, label: 'service-a/v1', seen: 'v1', viaDefault: true },
    { name: 'A: a client x-version is overwritten', req: { host: 'service-a', headers: { 'x-version': 'v2' } }, label: 'service-a/v1', seen: 'v1', viaDefault: true },
    { name: 'B: x-version v2', req: { host: 'service-b', headers: { 'x-version': 'v2' } }, label: 'service-b/v2', seen: 'v2' },
    { name: 'B: x-version v1', req: { host: 'service-b:7100', headers: { 'x-version': 'v1' } }, label: 'service-b/v1', seen: 'v1' },
    { name: 'B: no x-version', req: { host: 'service-b.default.svc.cluster.local' }, label: 'service-b/v1', seen: '' },
  ],
  reweight: [['v1', 50, 'service-a/v1'], ['v2', 50, 'service-a/v2']],
});
