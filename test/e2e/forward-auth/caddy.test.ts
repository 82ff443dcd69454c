import { startCaddy } from '../../helpers/caddy.js';
import { forwardAuthSuite } from './suite.js';
import { readExample, templateCaddyfile } from './support.js';

/** Debian's caddy (2.6) running examples/forward-auth/Caddyfile. */
forwardAuthSuite({
  name: 'Caddy forward_auth',
  denialBody: 'gateway',
  async start({ authorize, app }) {
    const example = await readExample('Caddyfile');
    const caddy = await startCaddy((listen) => templateCaddyfile(example, { listen, authorize, app }));
    return { port: caddy.port, stop: () => caddy.stop(), diagnostics: async () => caddy.output() };
  },
});
