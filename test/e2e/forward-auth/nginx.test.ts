import { startNginx } from '../../helpers/nginx.js';
import { forwardAuthSuite } from './suite.js';
import { readExample, templateNginx } from './support.js';

/** Debian's nginx (auth_request built in) running examples/forward-auth/nginx.conf. */
forwardAuthSuite({
  name: 'nginx auth_request',
  denialBody: 'error-code-only',
  async start({ authorize, app }) {
    const example = await readExample('nginx.conf');
    const nginx = await startNginx(
      (dir, listen) =>
        `  access_log ${dir}/access.log;\n${templateNginx(example, { listen, authorize, app })}`,
    );
    return { port: nginx.port, stop: () => nginx.stop(), diagnostics: () => nginx.errorLog() };
  },
});
