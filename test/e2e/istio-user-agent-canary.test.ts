// config/istio/user-agent-canary.yaml end to end: `user-agent: canary` -> v2, everyone else v1.
import t from 'tap';
import { runExampleSuite } from './istio-example-suite';

runExampleSuite(t, {
  file: 'user-agent-canary.yaml',
  names: { se: 'frontend', dr: 'frontend', vs: 'frontend' },
  fqdn: 'frontend.default.svc.cluster.local',
  port: 8070,
  defaultReq: { host: 'frontend', headers: { 'user-agent': 'curl/8.5.0' } },
  split: { 'frontend/v1': 100 },
  routes: [
    { name: 'user-agent: canary', req: { host: 'frontend', headers: { 'user-agent': 'canary' } }, label: 'frontend/v2' },
    { name: 'user-agent: Canary (exact is case-sensitive)', req: { host: 'frontend', headers: { 'user-agent': 'Canary' } }, label: 'frontend/v1', viaDefault: true },
    { name: 'user-agent: canary-ish (exact, not prefix)', req: { host: 'frontend', headers: { 'user-agent': 'canary-ish' } }, label: 'frontend/v1', viaDefault: true },
    { name: 'other user-agent', req: { host: 'frontend:8070', headers: { 'user-agent': 'curl/8.5.0' } }, label: 'frontend/v1', viaDefault: true },
  ],
  reweight: [['v1', 50, 'frontend/v1'], ['v2', 50, 'frontend/v2']],
});
