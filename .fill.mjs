import { Pool } from 'undici';
const n = Number(process.argv[2] ?? 100000);
const pool = new Pool('http://127.0.0.1:18080', { connections: 50 });
let next = 0, failed = 0;
async function worker() {
  while (next < n) {
    const i = next++;
    const r = await pool.request({ path: '/x', method: 'GET', headers: { authorization: `Bearer fill-token-${i}-${'x'.repeat(20)}` } });
    if (r.statusCode !== 200) failed++;
    await r.body.dump();
  }
}
const t = Date.now();
await Promise.all(Array.from({ length: 50 }, worker));
console.log(`filled ${n} in ${Date.now() - t} ms, failed ${failed}`);
await pool.close();
