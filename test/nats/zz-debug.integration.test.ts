import { it } from 'vitest';
import { connect } from 'nats';
import { useNats } from '../harness/servers.js';
const nats = useNats();
it('debug', async () => {
  const nc = await connect({ servers: nats().url, maxReconnectAttempts: -1, reconnectTimeWait: 250, pingInterval: 10_000 });
  const t0 = performance.now();
  (async () => { for await (const s of nc.status()) console.log((performance.now() - t0).toFixed(0), s.type, String(s.data)); })();
  const jsm = await nc.jetstreamManager();
  await nats().restart();
  console.log((performance.now() - t0).toFixed(0), 'restarted');
  for (let i = 0; i < 10; i++) {
    try { await jsm.getAccountInfo(); console.log((performance.now() - t0).toFixed(0), 'ok'); break; } catch (e) { console.log((performance.now() - t0).toFixed(0), 'err', (e as Error).message); }
  }
  await nc.close();
}, 60000);
