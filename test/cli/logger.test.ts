import t from 'tap';
import { PassThrough } from 'node:stream';
import { ConsoleLogger } from '../../src/cli/logger';

t.test('setLevel changes the level of the logger and every child (POST /logging?level=)', async (t) => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const root = new ConsoleLogger('info', { stream: out });
  const child = root.child('upstream');
  child.debug('hidden at info');
  t.equal(root.setLevel('debug'), true);
  t.equal(child.level, 'debug');
  child.debug('shown at debug');
  t.equal(root.setLevel('loud'), false, 'an unknown level is refused');
  t.equal(root.level, 'debug', 'and changes nothing');
  t.equal(child.setLevel('warn'), true, 'warn is an alias of warning');
  t.equal(root.level, 'warning');
  root.info('hidden at warning');
  t.notMatch(text, /hidden/);
  t.match(text, /\[debug\]\[upstream\] shown at debug/);
});
