// For the few tests that must write a concrete port into a config before the process that binds it
// starts (node:cluster workers, `weir demo`'s upstreams): a port the OS just handed out on
// 127.0.0.1 and released. Never a fixed number, which collides when CI runs jobs side by side.
import * as net from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
