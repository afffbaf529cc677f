// The CLI refuses a listener with an RBAC filter (weir cannot enforce it) unless
// --allow-unenforced-security-filters is given; then it serves, warning that RBAC is NOT enforced.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startCli, tempDir } from '../helpers/cli-process';
import { singleClusterBootstrapYaml } from '../helpers/static-bootstrap';

const RBAC = `                  - name: envoy.filters.http.rbac
                    typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC, rules: { action: DENY, policies: {} } }
`;

function bootstrapWithRbac(t: Parameters<typeof tempDir>[0]): string {
  const yaml = singleClusterBootstrapYaml(9).replace('                  - name: envoy.filters.http.router\n', RBAC + '                  - name: envoy.filters.http.router\n');
  if (!yaml.includes('envoy.filters.http.rbac')) throw new Error('fixture: RBAC filter not inserted');
  const file = path.join(tempDir(t, 'weir-rbac-'), 'envoy.yaml');
  fs.writeFileSync(file, yaml);
  return file;
}

t.test('an RBAC filter rejects the listener: the process exits with the path error', async (t) => {
  const cli = startCli(t, ['-c', bootstrapWithRbac(t)]);
  const exit = await cli.exited;
  t.not(exit.code, 0, 'exits with an error');
  t.match(cli.log(), /http_filters\[0\]: weir does not implement RBAC \(http filter envoy\.filters\.http\.rbac\); refusing to serve without it/);
});

t.test('--allow-unenforced-security-filters: served, with a NOT enforced warning', async (t) => {
  const cli = startCli(t, ['-c', bootstrapWithRbac(t), '--allow-unenforced-security-filters']);
  const port = await cli.listenerPort('main');
  t.ok(port > 0, 'listening');
  t.match(cli.log(), /envoy\.filters\.http\.rbac is not supported by weir: skipped: RBAC is NOT enforced/);
});

t.test('--mode validate agrees with serve: refused without the flag, OK with it', async (t) => {
  const file = bootstrapWithRbac(t);
  const refused = startCli(t, ['--mode', 'validate', '-c', file]);
  const r1 = await refused.exited;
  t.equal(r1.code, 1, 'validate fails without the flag');
  t.match(refused.log(), /static_resources\.listeners\[0\].*weir does not implement RBAC/);
  const allowed = startCli(t, ['--mode', 'validate', '-c', file, '--allow-unenforced-security-filters']);
  const r2 = await allowed.exited;
  t.equal(r2.code, 0, 'validate passes with the flag');
  t.match(allowed.log(), /configuration '.*' OK/);
});
