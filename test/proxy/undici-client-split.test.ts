// split.test over the undici upstream client (see undici-client.test.ts): the 90/10 split through
// the proxy, random within binomial bounds and smooth exact (9000/1000, v2 every tenth request).

process.env.WEIR_UPSTREAM_CLIENT = 'undici';
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('./split.test');
