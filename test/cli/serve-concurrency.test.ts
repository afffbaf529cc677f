// End to end, --concurrency N: the built CLI's primary forks worker processes that share the
// listener (node:cluster); each worker logs its listener line with its pid.
import t from 'tap';
import { startCli, tempDir } from '../helpers/cli-process';
import { startHeldUpstream } from '../helpers/held-upstream';
import { writeSingleClusterBootstrap } from '../helpers/static-bootstrap';
import { get } from '../proxy/fixtures';

const tmp = tempDir(t, 'weir-serve-conc-');

t.test('--concurrency 2: two worker processes serve the listener; SIGTERM stops both', async (t) => {
  const up = await startHeldUpstream(t);
  const weir = startCli(t, ['-c', writeSingleClusterBootstrap(tmp, up.port), '--concurrency', '2', '--drain-time-s', '5']);
  const lines = await weir.waitFor(/\[(\d+)\]\[info\]\[main\] listener main listening on 127\.0\.0\.1:(\d+)/, 2);
  const pids = new Set(lines.map((m) => m[1]));
  const ports = new Set(lines.map((m) => m[2]));
  t.equal(pids.size, 2, 'two worker pids');
  t.notOk(pids.has(String(weir.proc.pid)), 'the primary does not serve');
  t.equal(ports.size, 1, 'both share one listening port');
  const port = Number([...ports][0]);
  const adminPort = await weir.adminPort();
  await weir.waitFor(/all 2 workers initialized/);
  t.equal((await get(adminPort, '/ready')).status, 200);
  const answers = await Promise.all(Array.from({ length: 20 }, () => get(port, '/')));
  t.same(answers.map((a) => a.status), Array(20).fill(200));
  weir.proc.kill('SIGTERM');
  const { code } = await weir.exited;
  t.equal(code, 0);
});

t.test('--concurrency 2: a worker that dies is restarted', async (t) => {
  const up = await startHeldUpstream(t);
  const weir = startCli(t, ['-c', writeSingleClusterBootstrap(tmp, up.port), '--concurrency', '2', '--drain-time-s', '5']);
  const lines = await weir.waitFor(/\[(\d+)\]\[info\]\[main\] listener main listening on 127\.0\.0\.1:(\d+)/, 2);
  const adminPort = await weir.adminPort();
  await weir.waitFor(/all 2 workers initialized/);
  process.kill(Number(lines[0]![1]), 'SIGKILL');
  await weir.waitFor(/died \(SIGKILL\); restarting it/);
  // Envoy's server state goes INITIALIZING -> LIVE once: a worker being replaced does not undo it.
  t.equal((await get(adminPort, '/ready')).body, 'LIVE\n', 'still LIVE while the worker restarts');
  const again = await weir.waitFor(/\[(\d+)\]\[info\]\[main\] listener main listening on 127\.0\.0\.1:(\d+)/, 3);
  t.notOk(lines.some((m) => m[1] === again[2]![1]), 'a new pid serves');
  t.equal((await get(Number(again[2]![2]), '/')).status, 200);
  weir.proc.kill('SIGTERM');
  t.equal((await weir.exited).code, 0);
});

