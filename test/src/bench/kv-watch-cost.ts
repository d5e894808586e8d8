/**
 * `node test/dist/bench/kv-watch-cost.js [--watchers 0,1000,5000,10000] [--puts 2000] [--conns 20]`
 *
 * Isolates the broker's cost of a KV put as a function of the number of KV watches (ordered
 * consumers) on the bucket, the shape of the fleet: one watch per node on its own keys
 * (`n<i>.>`), one put per node for an apply. A fresh nats-server per size, no auth, no agents,
 * no controller; the puts are awaited one at a time, so the rate is the broker's per-message
 * cost. The anchor is the same puts with 0 watches, in the same run.
 *
 * This is the "what limits apply -> running" check of test/bench/FLEET-RESULTS.md: nats-server
 * 2.9 hands every stored message to every consumer of the stream to test its filter, so the
 * cost of one put grows with the consumers, and an apply to N nodes costs N x N.
 */
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KvWatchEntry } from '@nats-io/kv';
import { startServer } from '../support/nats-server.ts';
import { summarize } from './bench-stats.ts';

const { values } = parseArgs({
  options: {
    watchers: { type: 'string', default: '0,1000,5000,10000' },
    puts: { type: 'string', default: '2000' },
    conns: { type: 'string', default: '20' },
  },
});
const sizes = values.watchers.split(',').map((s) => Number.parseInt(s, 10));
const puts = Number.parseInt(values.puts, 10);
const connCount = Math.max(1, Number.parseInt(values.conns, 10));

interface Row {
  readonly watchers: number;
  readonly putsPerSec: number;
  readonly putP50Ms: number;
  readonly putP99Ms: number;
  readonly serverCpuPct: number;
  readonly delivered: number;
}

async function cpuMs(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

async function one(watchers: number): Promise<Row> {
  const server = await startServer({});
  const conns: NatsConnection[] = [];
  try {
    for (let i = 0; i < connCount; i++) conns.push(await connect({ servers: server.url }));
    const kv = await new Kvm(conns[0]!).create('bench', { history: 1 });
    let delivered = 0;
    const stops: (() => void)[] = [];
    // Watches as the agents hold them: one ordered consumer per node on `n<i>.>`.
    for (let i = 0; i < watchers; i++) {
      const k = await new Kvm(conns[i % connCount]!).open('bench');
      const w = await k.watch({ key: `n${i}.>` });
      stops.push(() => w.stop());
      void (async () => {
        for await (const _e of w as AsyncIterable<KvWatchEntry>) delivered++;
      })();
    }
    await new Promise((r) => setTimeout(r, 2000)); // let the consumers settle
    const cpu0 = await cpuMs(server.pid);
    const lat: number[] = [];
    const t0 = performance.now();
    for (let j = 0; j < puts; j++) {
      const t = performance.now();
      // One put per node, as an apply writes one bundle per node.
      await kv.put(`n${j % Math.max(1, watchers || puts)}.job`, 'x'.repeat(600));
      lat.push(performance.now() - t);
    }
    const wall = performance.now() - t0;
    const cpu = (await cpuMs(server.pid)) - cpu0;
    for (const s of stops) s();
    const st = summarize(lat);
    return {
      watchers,
      putsPerSec: Math.round((puts / wall) * 1000),
      putP50Ms: Number(st.p50.toFixed(3)),
      putP99Ms: Number(st.p99.toFixed(3)),
      serverCpuPct: Math.round((cpu / wall) * 1000) / 10,
      delivered,
    };
  } finally {
    for (const c of conns) await c.close().catch(() => undefined);
    await server.stop();
  }
}

const rows: Row[] = [];
for (const w of sizes) {
  rows.push(await one(w));
  console.log(`KV-WATCH-COST ${JSON.stringify(rows.at(-1))}`);
}
const base = rows.find((r) => r.watchers === 0);
console.log('\nwatchers  puts/s  put p50 ms  put p99 ms  server CPU %  p50 vs 0 watches');
for (const r of rows)
  console.log(
    `${String(r.watchers).padStart(8)}  ${String(r.putsPerSec).padStart(6)}  ${r.putP50Ms.toFixed(3).padStart(10)}  ${r.putP99Ms.toFixed(3).padStart(10)}  ${r.serverCpuPct.toFixed(1).padStart(12)}  ${base ? `${(r.putP50Ms / base.putP50Ms).toFixed(1)}x` : '-'}`,
  );
