// config/istio/tenant-gray-cookie.yaml end to end: cookie whitelist `.*tenantGray=1.*` -> v2.
import t from 'tap';
import { runExampleSuite } from './istio-example-suite';

runExampleSuite(t, {
  file: 'tenant-gray-cookie.yaml',
  names: { se: 'shop', dr: 'shop', vs: 'shop' },
  fqdn: 'shop.default.svc.cluster.local',
  port: 8090,
  defaultReq: { host: 'shop' },
  split: { 'shop/v1': 100 },
  routes: [
    { name: 'whitelisted cookie among others', req: { host: 'shop', headers: { cookie: 'session=abc; tenantGray=1' } }, label: 'shop/v2' },
    { name: 'whitelisted cookie alone', req: { host: 'shop:8090', headers: { cookie: 'tenantGray=1' } }, label: 'shop/v2' },
    { name: 'tenantGray=0', req: { host: 'shop', headers: { cookie: 'tenantGray=0; session=abc' } }, label: 'shop/v1', viaDefault: true },
    { name: 'no cookie', req: { host: 'shop' }, label: 'shop/v1', viaDefault: true },
  ],
  reweight: [['v1', 50, 'shop/v1'], ['v2', 50, 'shop/v2']],
});
