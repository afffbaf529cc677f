// config/istio/user-service-canary.yaml end to end: 10% canary (subsets stable / canary).
import t from 'tap';
import { runExampleSuite } from './istio-example-suite';

runExampleSuite(t, {
  file: 'user-service-canary.yaml',
  names: { se: 'user-service', dr: 'user-service', vs: 'user-service' },
  fqdn: 'user-service.default.svc.cluster.local',
  port: 8080,
  defaultReq: { host: 'user-service' },
  split: { 'user-service/v1': 90, 'user-service/v2': 10 },
  routes: [
    { name: 'FQDN with port reaches the same split', req: { host: 'user-service.default.svc.cluster.local:8080' }, label: 'user-service/v1|user-service/v2' },
  ],
  reweight: [['stable', 70, 'user-service/v1'], ['canary', 30, 'user-service/v2']],
});
