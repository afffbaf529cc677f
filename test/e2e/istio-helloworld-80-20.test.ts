// config/istio/helloworld-80-20.yaml end to end: Istio's helloworld sample at 80/20.
import t from 'tap';
import { runExampleSuite } from './istio-example-suite';

runExampleSuite(t, {
  file: 'helloworld-80-20.yaml',
  names: { se: 'helloworld', dr: 'helloworld', vs: 'helloworld' },
  fqdn: 'helloworld.default.svc.cluster.local',
  port: 5000,
  defaultReq: { host: 'helloworld', path: '/hello' },
  split: { 'helloworld/v1': 80, 'helloworld/v2': 20 },
  routes: [
    { name: 'any path of the host reaches the split', req: { host: 'helloworld.default:5000', path: '/other?x=1' }, label: 'helloworld/v1|helloworld/v2' },
  ],
  reweight: [['v1', 50, 'helloworld/v1'], ['v2', 50, 'helloworld/v2']],
});
