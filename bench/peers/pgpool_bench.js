#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// pgpool_bench.js - the peer side of bench/run: the same fan-out and
// throughput runs as bench_fanout and bench_select1, done with
// node-postgres' pg-pool (one pg.Pool per node, max 10), against the same
// servers in the same run.
//
//   node pgpool_bench.js fanout  --ports P1,P2,... [--rounds N] [--nodes 100]
//   node pgpool_bench.js select1 --port P [--seconds T] [--callers 64]
//
// fanout prints   pgpool_fanout_ratio_10, pgpool_fanout_ratio_100 and
//   pgpool_fanout_select1_ratio_10 (median time of Promise.all over 10 or
//   100 pools spread over the servers / median time of one pool's query,
//   for `SELECT pg_sleep(0.02)` and `SELECT 1`) and
//   pgpool_fanout_select1_10_us (that median over 10 pools, `SELECT 1`);
// select1 prints  rate QPS and cpu_us_per_query US (process.cpuUsage(),
//   user + system, over the measured seconds) with 64 queries always in
//   flight through one pool of max 10.
// Notes go to stderr.
'use strict';

const { Pool } = require('pg');

const SLEEP_SQL = 'SELECT pg_sleep(0.02)';
const SELECT1_SQL = 'SELECT 1';

function note(msg) {
  process.stderr.write(`pgpool_bench: ${msg}\n`);
}

function parseArgs(argv) {
  const args = { mode: argv[0] };
  for (let i = 1; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (argv[i + 1] === undefined) throw new Error(`missing value for ${argv[i]}`);
    args[key] = argv[i + 1];
  }
  return args;
}

function makePool(port) {
  const pool = new Pool({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    database: 'postgres',
    max: 10,
    application_name: 'bench_pgpool',
  });
  pool.on('error', (err) => note(`idle client error: ${err.message}`));
  return pool;
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return 0;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function nowUs() {
  return Number(process.hrtime.bigint() / 1000n);
}

function fmt(v) {
  return v >= 100 ? v.toFixed(1) : v.toFixed(3);
}

async function timeOne(pool, sql) {
  const t0 = nowUs();
  await pool.query(sql);
  return nowUs() - t0;
}

async function timeMany(pools, sql) {
  const t0 = nowUs();
  await Promise.all(pools.map((p) => p.query(sql)));
  return nowUs() - t0;
}

async function fanout(args) {
  const ports = String(args.ports).split(',').map(Number);
  const rounds = Number(args.rounds || 60);
  const nodes = Math.max(10, Number(args.nodes || 100));
  const pools = [];
  for (let i = 0; i < nodes; i++) pools.push(makePool(ports[i % ports.length]));
  const ten = pools.slice(0, 10);
  try {
    for (let i = 0; i < 3; i++) {
      await timeMany(pools, SLEEP_SQL);
      await timeMany(pools, SELECT1_SQL);
    }
    const one = [];
    const many = [];
    const all = [];
    const s1 = [];
    const s10 = [];
    for (let r = 0; r < rounds; r++) {
      one.push(await timeOne(pools[0], SLEEP_SQL));
      many.push(await timeMany(ten, SLEEP_SQL));
      all.push(await timeMany(pools, SLEEP_SQL));
      for (let k = 0; k < 10; k++) {
        s1.push(await timeOne(pools[0], SELECT1_SQL));
        s10.push(await timeMany(ten, SELECT1_SQL));
      }
    }
    const m1 = median(one);
    const m10 = median(many);
    const mall = median(all);
    const ms1 = median(s1);
    const ms10 = median(s10);
    note(`medians: one ${m1.toFixed(0)} us, 10 pools ${m10.toFixed(0)} us, ` +
         `${nodes} pools ${mall.toFixed(0)} us; SELECT 1: one ${ms1.toFixed(0)} us, ` +
         `10 pools ${ms10.toFixed(0)} us`);
    process.stdout.write(`pgpool_fanout_ratio_10 ${fmt(m10 / m1)}\n`);
    process.stdout.write(`pgpool_fanout_ratio_${nodes} ${fmt(mall / m1)}\n`);
    process.stdout.write(`pgpool_fanout_select1_ratio_10 ${fmt(ms10 / ms1)}\n`);
    process.stdout.write(`pgpool_fanout_select1_10_us ${ms10.toFixed(1)}\n`);
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
}

async function select1(args) {
  const pool = makePool(Number(args.port));
  const seconds = Number(args.seconds || 5);
  const callers = Number(args.callers || 64);
  let done = 0;
  let errors = 0;
  let stop = false;
  async function caller() {
    while (!stop) {
      try {
        await pool.query(SELECT1_SQL);
        done++;
      } catch (err) {
        if (errors++ < 5) note(`query failed: ${err.message}`);
      }
    }
  }
  const loops = [];
  for (let i = 0; i < callers; i++) loops.push(caller());
  await new Promise((r) => setTimeout(r, 1000)); // warm-up: pool grows to max
  const n0 = done;
  const c0 = process.cpuUsage();
  const t0 = nowUs();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const n1 = done;
  const c1 = process.cpuUsage(c0);
  const t1 = nowUs();
  stop = true;
  await Promise.all(loops);
  await pool.end();
  const q = n1 - n0;
  if (q === 0) throw new Error(`no query completed (${errors} errors)`);
  if (errors > 0) note(`${errors} queries failed`);
  process.stdout.write(`rate ${(q * 1e6 / (t1 - t0)).toFixed(1)}\n`);
  process.stdout.write(`cpu_us_per_query ${((c1.user + c1.system) / q).toFixed(2)}\n`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.mode === 'fanout' && args.ports) return fanout(args);
  if (args.mode === 'select1' && args.port) return select1(args);
  throw new Error('usage: pgpool_bench.js fanout --ports P1,P2,... [--rounds N] | ' +
                  'select1 --port P [--seconds T] [--callers N]');
}

main().catch((err) => {
  process.stderr.write(`pgpool_bench: error: ${err.message}\n`);
  process.exit(1);
});
